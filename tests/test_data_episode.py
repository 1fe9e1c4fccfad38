"""Episode folders: our writer produces the authors' layout and our reader reads both."""

from __future__ import annotations

import json
import pickle
import shutil
from dataclasses import replace
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
            "task_object_poses": (t, 1, 7),  # ours: the task's objects, goals included
            "front_lower_camera_object_labels": (t, 48, 48),  # ours: their segmentation
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


def _with_camera_data(ep: Episode) -> Episode:
    """`ep` with a foreground mask (a disc) and camera matrices, as a collection records them."""
    t, h, w = ep.frames.shape[:3]
    yy, xx = np.mgrid[0:h, 0:w]
    mask = np.stack([(yy - h / 2) ** 2 + (xx - w / 2 - i) ** 2 < (h / 3) ** 2 for i in range(t)])
    k = np.tile(np.array([[40.0, 0, w / 2], [0, 40.0, h / 2], [0, 0, 1]], np.float32), (t, 1, 1))
    e = np.tile(np.hstack([np.eye(3), [[0.0], [0.1], [0.9]]]).astype(np.float32), (t, 1, 1))
    return replace(ep, mask=mask, intrinsics=k, extrinsics=e)


def test_foreground_mask_and_camera_matrices_round_trip(tmp_path):
    """The mask is stored exactly (not as lossy video) and the camera matrices as the authors' (T, 1, 3, k)."""
    ep = _with_camera_data(synthetic_episode(12, 32, seed=3))
    path = write_episode(tmp_path, 0, ep)
    back = read_episode(path)
    assert back.mask.dtype == bool and back.mask.shape == (12, 32, 32)
    np.testing.assert_array_equal(back.mask, ep.mask)
    np.testing.assert_array_equal(back.intrinsics, ep.intrinsics)
    np.testing.assert_array_equal(back.extrinsics, ep.extrinsics)
    with h5py.File(path / "metadata.h5", "r") as f:
        assert f["front_lower_camera_foreground_mask"].shape == (12, 32, 32)
        assert f["front_lower_camera_foreground_mask"].compression == "gzip"
        assert f["front_lower_camera_intrinsics"].shape == (12, 1, 3, 3)
        assert f["front_lower_camera_extrinsics"].shape == (12, 1, 3, 4)
    assert read_episode(path, with_mask=False).mask is None
    header = read_episode(path, with_frames=False)
    assert header.mask is None and header.intrinsics is not None  # headers stay small


def test_resized_read_resizes_the_mask_nearest_and_scales_the_intrinsics(tmp_path):
    ep = _with_camera_data(synthetic_episode(6, 32, seed=4))
    small = read_episode(write_episode(tmp_path, 0, ep), size=16)
    assert small.mask.shape == (6, 16, 16) and small.mask.dtype == bool
    np.testing.assert_array_equal(small.mask, ep.mask[:, 1::2, 1::2])  # nearest: pixel centres
    np.testing.assert_allclose(small.intrinsics[0], [[20, 0, 8], [0, 20, 8], [0, 0, 1]])


def test_episode_without_a_mask_reads_back_none(two_episodes):
    _, _, paths = two_episodes
    assert read_episode(paths[0]).mask is None


def test_reads_the_authors_lossy_mask_stream(two_episodes, tmp_path):
    """The authors' full data keeps the mask as `<cam>_foreground_mask.mp4` (0/255, thresholded at 127)."""
    _, _, paths = two_episodes
    traj = tmp_path / "traj_000000"
    shutil.copytree(paths[0], traj)
    t, h, w = read_episode(traj).frames.shape[:3]
    mask = np.zeros((t, h, w), dtype=bool)
    mask[:, h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = True
    write_video(
        traj / "front_lower_camera_foreground_mask.mp4", np.repeat(mask[..., None] * 255, 3, -1).astype(np.uint8)
    )
    back = read_episode(traj)
    assert back.mask.shape == (t, h, w)
    assert (back.mask != mask).mean() < 0.02  # lossy H.264 edges only


def test_episode_rejects_a_mask_of_another_size():
    ep = synthetic_episode(10, 16)
    with pytest.raises(ValueError, match=r"mask has shape \(10, 8, 8\); expected \(10, 16, 16\)"):
        replace(ep, mask=np.ones((10, 8, 8), bool))


def test_task_object_labels_and_poses_round_trip_exactly_and_resize_nearest(tmp_path):
    """The segmentation of what decides success (here the disc) is stored exactly, named, and read back resized."""
    ep = synthetic_episode(10, 32, move=(2, 8), seed=5)
    assert ep.object_names == ("disc",) and ep.object_labels.max() == 1
    moved = np.argwhere(ep.object_labels[0] != ep.object_labels[-1])
    assert len(moved) > 0  # the label follows the pushed disc
    path = write_episode(tmp_path, 0, ep)
    back = read_episode(path)
    assert back.object_names == ("disc",)
    np.testing.assert_array_equal(back.object_labels, ep.object_labels)
    np.testing.assert_array_equal(back.task_object_poses, ep.task_object_poses)
    with h5py.File(path / "metadata.h5", "r") as f:
        assert f["front_lower_camera_object_labels"].compression == "gzip"
    small = read_episode(path, size=16)
    np.testing.assert_array_equal(small.object_labels, ep.object_labels[:, 1::2, 1::2])
    assert read_episode(path, with_frames=False).object_labels is None  # headers stay small
    assert read_episode(path, with_frames=False).task_object_poses is not None


def test_episode_rejects_labels_beyond_its_object_names():
    ep = synthetic_episode(6, 16)
    with pytest.raises(ValueError, match=r"label 2; only 1 object_names"):
        replace(ep, object_labels=np.full((6, 16, 16), 2, np.uint8))
