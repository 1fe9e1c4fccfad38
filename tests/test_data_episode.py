"""Episode folders: our writer produces the authors' layout and our reader reads both."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from rla_gym.data import (
    Episode,
    object_motion_flags,
    read_episode,
    synthetic_episode,
    write_episode,
    write_split_metadata,
)
from rla_gym.data.video import write_video


@pytest.fixture(scope="module")
def two_episodes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Episode], list[Path]]:
    root = tmp_path_factory.mktemp("episodes")
    eps = [
        synthetic_episode(20, 48, robot="ur10e", task="PushT-v2", success=True, seed=0),
        synthetic_episode(24, 48, robot="panda", task="PullCube-v2", success=False, move=(3, 9), seed=1),
    ]
    paths = [
        write_episode(root / "success", 0, eps[0], crf=10),
        write_episode(root / "fail", 1, eps[1], crf=10),
    ]
    return root, eps, paths


def test_round_trip_keeps_arrays_exactly_and_frames_within_compression(two_episodes):
    _, eps, paths = two_episodes
    for ep, path in zip(eps, paths):
        back = read_episode(path)
        np.testing.assert_array_equal(back.target_qpos, ep.target_qpos)
        np.testing.assert_array_equal(back.qpos, ep.qpos)
        np.testing.assert_array_equal(back.object_moved, ep.object_moved)
        np.testing.assert_array_equal(back.eef_pose, ep.eef_pose)
        np.testing.assert_array_equal(back.object_poses, ep.object_poses)
        assert (back.success, back.task, back.robot, back.camera) == (ep.success, ep.task, ep.robot, ep.camera)
        assert back.frames.shape == ep.frames.shape and back.frames.dtype == np.uint8
        assert np.abs(back.frames.astype(np.int16) - ep.frames).mean() < 3.0


def test_folder_and_metadata_h5_follow_the_reference_layout(two_episodes):
    _, eps, paths = two_episodes
    ep, path = eps[0], paths[0]
    assert path.name == "traj_000000" and path.parent.name == "success"
    assert sorted(p.name for p in path.iterdir()) == ["front_lower_camera_rgb.mp4", "metadata.h5"]
    t, a, j = ep.num_steps, 5, 6  # ur10e: 5 joint targets, 6 full qpos
    with h5py.File(path / "metadata.h5", "r") as f:
        assert bool(f.attrs["success"]) is True
        assert int(f.attrs["num_steps"]) == t
        assert int(f.attrs["num_attempts"]) == 1
        assert isinstance(f.attrs["task_description"], str)
        expected = {
            "actions": (t, a),
            "qpos": (t, 1, j),
            "full_qpos": (t, 1, j),
            "target_qpos": (t, 1, a),
            "root_poses": (t, 1, 7),
            "eef_pose": (t, 7),
            "object_poses": (t, 1, 7),
            "object_moved": (t,),
        }
        assert {k: f[k].shape for k in f} == expected
        for key in expected:
            assert bool(f[key].attrs["_frame_aligned"]) is True
        np.testing.assert_allclose(f["root_poses"][0, 0], [-0.615, 0, 0, 1, 0, 0, 0])  # ur10e base, wxyz


def test_read_resizes_frames_when_size_is_given(two_episodes):
    _, eps, paths = two_episodes
    small = read_episode(paths[1], size=16)
    assert small.frames.shape == (eps[1].num_steps, 16, 16, 3)
    assert read_episode(paths[1], size=(24, 32)).frames.shape == (eps[1].num_steps, 24, 32, 3)


def test_header_only_read_has_no_frames(two_episodes):
    _, eps, paths = two_episodes
    header = read_episode(paths[0], with_frames=False)
    assert header.frames is None and header.num_steps == eps[0].num_steps


def test_write_refuses_to_overwrite_unless_asked(two_episodes, tmp_path):
    _, eps, _ = two_episodes
    write_episode(tmp_path, 3, eps[0])
    with pytest.raises(FileExistsError, match="traj_000003"):
        write_episode(tmp_path, 3, eps[1])
    write_episode(tmp_path, 3, eps[1], overwrite=True)
    assert read_episode(tmp_path / "traj_000003", with_frames=False).robot == "panda"
    assert [p.name for p in tmp_path.iterdir()] == ["traj_000003"]  # no .partial left behind


def test_episode_rejects_mismatched_lengths():
    ep = synthetic_episode(10, 16)
    with pytest.raises(ValueError, match=r"qpos has shape \(9, 6\); expected \(10, ·\)"):
        Episode(ep.frames, ep.target_qpos, ep.qpos[:9], True, ep.object_moved, "t", "ur10e")


def test_object_motion_flags_mark_the_step_that_moves():
    poses = np.zeros((6, 2, 7))
    poses[3:, 1, 0] = 0.05  # second object jumps between frames 2 and 3
    np.testing.assert_array_equal(object_motion_flags(poses), [False, False, True, False, False, False])


def test_split_metadata_has_robot_infos_the_authors_reader_accepts(tmp_path):
    write_split_metadata(tmp_path, "xarm6_robotiq", joint_names=["j1"])
    data = json.loads((tmp_path / "metadata.json").read_text())
    (info,) = data["robot_infos"]
    assert set(info) == {"uid", "urdf_path", "urdf_config", "joint_names", "action_space", "action_mapping"}
    assert info["uid"] == "xarm6_robotiq" and info["action_space"][2] == [7]
    assert data["rla_gym"]["robot"] == "xarm6_robotiq"


def test_reads_an_authors_style_folder(two_episodes, tmp_path):
    """No attributes of ours, no object_moved, pickled object poses, two cameras, robot from metadata.json."""
    _, eps, _ = two_episodes
    ep = eps[0]
    split = tmp_path / "ppo" / "ur10e_stick" / "PushT-v2" / "success"
    traj = split / "traj_000005"
    traj.mkdir(parents=True)
    (split / "metadata.json").write_text(json.dumps({"robot_infos": [{"uid": "ur10e_stick"}]}))
    t = ep.num_steps
    with h5py.File(traj / "metadata.h5", "w") as f:
        f.attrs["success"] = True
        f.attrs["task_description"] = "Push the T."
        f.attrs["num_steps"] = t
        f.attrs["num_attempts"] = 2
        f["target_qpos"] = ep.target_qpos[:, None]
        f["qpos"] = ep.qpos[:, None]  # no full_qpos: falls back to qpos
        grp = f.create_group("object_poses")  # per-frame pickled elements
        grp.attrs["_frame_aligned"] = True
        grp.attrs["_length"] = t
        for i in range(t):
            grp.create_dataset(f"elem_{i}", data=np.frombuffer(pickle.dumps(ep.object_poses[i]), np.uint8))
        blob = f.create_dataset("eef_pose", data=np.frombuffer(pickle.dumps(ep.eef_pose[:, None]), np.uint8))
        blob.attrs["_pickled"] = True
    write_video(traj / "front_lower_camera_rgb.mp4", ep.frames, crf=10)
    shutil.copy(traj / "front_lower_camera_rgb.mp4", traj / "base_camera_rgb.mp4")

    back = read_episode(traj)
    assert (back.robot, back.task, back.camera, back.num_attempts) == ("ur10e", "PushT-v2", "front_lower_camera", 2)
    np.testing.assert_array_equal(back.object_moved, ep.object_moved)  # derived from the object poses
    np.testing.assert_array_equal(back.eef_pose, ep.eef_pose)
    assert back.actions is None and back.root_pose is None
