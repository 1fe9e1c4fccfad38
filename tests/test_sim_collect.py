"""`rla-gym collect`: the reference layout, reading back, resuming, corrupt folders, bad input."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from sim_support import require_sim

from rla_gym.data import read_episode
from rla_gym.sim.collect import CollectConfig, collect, scan_finished, write_metadata
from rla_gym.sim.scripted.record import COLLECT_OBS_MODE, RecordConfig

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mani_skill"),
    pytest.mark.filterwarnings("ignore:.*precision lowered by casting:UserWarning"),
]
SIZE = 64
MAX_STEPS = 24  # PullCube succeeds after ~17 steps: one short success and one failure slot


def _config(out, episodes: int) -> CollectConfig:
    return CollectConfig(
        "panda", "PullCube", episodes, out, size=SIZE, fail_every=2, record=RecordConfig(max_steps=MAX_STEPS)
    )


def _env(envs):
    """The shared PullCube env, observing segmentation as collection needs (the foreground mask)."""
    return envs.get("PullCube", obs_mode=COLLECT_OBS_MODE)


@pytest.fixture(scope="module")
def collected(envs, tmp_path_factory):
    """Two episodes collected once, with the in-memory episodes captured at write time."""
    import rla_gym.sim.collect as collect_module

    out = tmp_path_factory.mktemp("demos")
    written = {}
    real_write = collect_module.write_episode

    def capture(root, traj_id, episode, **kwargs):
        written[traj_id] = episode
        return real_write(root, traj_id, episode, **kwargs)

    collect_module.write_episode = capture
    try:
        report = collect(_config(out, 2), env=_env(envs), progress=False)
    finally:
        collect_module.write_episode = real_write
    return out, report, written


@pytest.mark.sim
def test_collect_writes_the_reference_layout_with_split_metadata(collected):
    out, report, _ = collected
    root = out / "panda" / "PullCube-v2"
    assert report.root == root
    assert [r.traj_id for r in report.new] == [0, 1] and report.kept == {}
    assert (root / "success" / "traj_000000").is_dir()  # a success slot
    assert (root / "fail" / "traj_000001").is_dir()  # the failure slot (fail_every=2)
    for split in ("success", "fail"):
        meta = json.loads((root / split / "metadata.json").read_text())
        assert meta["robot_infos"][0]["uid"] == "panda"
        assert meta["robot_infos"][0]["action_space"][2] == [8]
        assert meta["rla_gym"]["size"] == SIZE
        assert meta["rla_gym"]["seed"] == _config(out, 2).seed, "replays need the collection's seed"
    assert report.frames == sum(r.num_steps for r in report.new) > 0
    assert report.frames_per_second > 0 and report.episodes_per_minute > 0
    assert report.success_rate == pytest.approx(0.5)
    assert "success rate" in report.summary()


@pytest.mark.sim
def test_collected_episodes_read_back_identically(collected):
    out, report, written = collected
    for result in report.new:
        split = "success" if result.success else "fail"
        back = read_episode(out / "panda" / "PullCube-v2" / split / f"traj_{result.traj_id:06d}")
        original = written[result.traj_id]
        assert back.success == original.success == result.success
        assert back.num_steps == original.num_steps == result.num_steps
        np.testing.assert_array_equal(back.target_qpos, original.target_qpos)
        np.testing.assert_array_equal(back.qpos, original.qpos)
        np.testing.assert_array_equal(back.object_moved, original.object_moved)
        assert back.task == "PullCube-v2" and back.robot == "panda"
        assert back.frames.shape == original.frames.shape == (result.num_steps, SIZE, SIZE, 3)
        mse = np.mean((back.frames.astype(np.float64) - original.frames) ** 2)
        assert 10 * np.log10(255**2 / mse) > 28.0  # PSNR of H.264 crf 23 on a textured 64 px scene
    assert written[0].object_moved.any()  # the success pulled the cube


@pytest.mark.sim
def test_collected_episodes_carry_a_foreground_mask_that_covers_the_robot(envs, collected):
    """The paper blacks out ground and sky before DINOv3, so collection records the mask per frame."""
    from mani_skill.utils.structs import Link

    out, report, written = collected
    env = _env(envs)
    for result in report.new:
        split = "success" if result.success else "fail"
        back = read_episode(out / "panda" / "PullCube-v2" / split / f"traj_{result.traj_id:06d}")
        assert back.mask is not None and back.mask.dtype == bool
        assert back.mask.shape == (result.num_steps, SIZE, SIZE)
        np.testing.assert_array_equal(back.mask, written[result.traj_id].mask)  # stored exactly
        assert 0.05 < back.mask.mean() < 0.95  # neither all foreground nor all background
        # frame 0 is the observation right after reset(seed): its segmentation says where robot and ground are
        obs, _ = env.reset(seed=_config(out, 2).episode_seed(result.traj_id))
        seg = obs["sensor_data"]["front_lower_camera"]["segmentation"][0, ..., 0].numpy()
        ids = env.unwrapped.segmentation_id_map
        robot = np.isin(seg, [i for i, obj in ids.items() if isinstance(obj, Link)])
        ground = np.isin(seg, [0] + [i for i, obj in ids.items() if obj.name == "ground"])
        assert robot.sum() > 20 and ground.sum() > 20
        assert back.mask[0][robot].all()
        assert not back.mask[0][ground].any()


@pytest.mark.sim
def test_metadata_h5_carries_the_camera_matrices_as_the_authors_do(collected):
    import h5py

    from rla_gym.specs.cameras import CAMERAS, FRONT_CAMERA

    out, report, _ = collected
    result = report.new[0]
    path = out / "panda" / "PullCube-v2" / "success" / f"traj_{result.traj_id:06d}"
    t = result.num_steps
    fx = (SIZE / 2) / np.tan(CAMERAS[FRONT_CAMERA].fov / 2)
    k = np.array([[fx, 0, SIZE / 2], [0, fx, SIZE / 2], [0, 0, 1]])
    with h5py.File(path / "metadata.h5", "r") as f:
        intrinsics, extrinsics = f[f"{FRONT_CAMERA}_intrinsics"], f[f"{FRONT_CAMERA}_extrinsics"]
        assert intrinsics.shape == (t, 1, 3, 3) and extrinsics.shape == (t, 1, 3, 4)
        assert bool(intrinsics.attrs["_frame_aligned"]) and bool(extrinsics.attrs["_frame_aligned"])
        np.testing.assert_allclose(intrinsics[0, 0], k, rtol=1e-4)
        world_to_cam = extrinsics[0, 0]
    eye, target = (np.append(getattr(CAMERAS[FRONT_CAMERA], n), 1.0) for n in ("eye", "target"))
    np.testing.assert_allclose(world_to_cam @ eye, 0.0, atol=1e-5)  # the camera sits at its eye
    in_cam = world_to_cam @ target
    assert in_cam[2] > 0 and np.allclose(in_cam[:2], 0.0, atol=1e-4)  # looking at its target (OpenCV +z)
    back = read_episode(path, size=SIZE // 2)  # resized frames come with scaled intrinsics
    np.testing.assert_allclose(back.intrinsics[0], k * [[0.5], [0.5], [1]], rtol=1e-4)
    np.testing.assert_allclose(back.extrinsics[0], world_to_cam)
    assert back.mask.shape == (t, SIZE // 2, SIZE // 2)


@pytest.mark.sim
def test_failure_episode_runs_the_authors_150_steps(envs):
    from rla_gym.sim.scripted import make_script
    from rla_gym.sim.scripted.record import record_episode

    episode = record_episode(_env(envs), make_script("PullCube"), seed=0, fail=True)
    assert not episode.success
    assert episode.num_steps == 150  # reference 8.3: the collection env's limit, not the task's 50


@pytest.mark.sim
def test_collect_refuses_an_env_without_segmentation(envs, tmp_path):
    with pytest.raises(ValueError, match="expected segmentation for the foreground mask"):
        collect(_config(tmp_path, 1), env=envs.get("PullCube"), progress=False)


@pytest.mark.sim
def test_rerun_keeps_finished_episodes_and_redoes_a_corrupt_one(envs, collected, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(collected[0], out)  # leave the shared collection untouched
    root = out / "panda" / "PullCube-v2"
    kept = root / "success" / "traj_000000" / "metadata.h5"
    mtime = kept.stat().st_mtime_ns
    broken = root / "success" / "traj_000002"  # a folder a crash or a user left behind
    broken.mkdir()
    (broken / "metadata.h5").write_bytes(b"not an hdf5 file")
    report = collect(_config(out, 3), env=_env(envs), progress=False)
    assert set(report.kept) == {0, 1}
    assert [r.traj_id for r in report.new] == [2]
    assert kept.stat().st_mtime_ns == mtime  # finished episodes are not rewritten
    assert [p.name for p in report.corrupt] == [".traj_000002.corrupt"]
    finished, corrupt = scan_finished(root)
    assert set(finished) == {0, 1, 2} and corrupt == []
    assert report.total == 3


@pytest.mark.sim
@pytest.mark.slow
def test_worker_processes_record_the_same_episodes_as_one_process(collected, tmp_path):
    out, report, _ = collected
    parallel = collect(replace(_config(tmp_path, 2), workers=2), progress=False)
    assert [(r.traj_id, r.success, r.num_steps) for r in parallel.new] == [
        (r.traj_id, r.success, r.num_steps) for r in report.new
    ]
    for r in report.new:
        rel = Path("panda", "PullCube-v2", "success" if r.success else "fail", f"traj_{r.traj_id:06d}")
        a = read_episode(out / rel, with_frames=False)
        b = read_episode(tmp_path / rel, with_frames=False)
        np.testing.assert_array_equal(a.target_qpos, b.target_qpos)


@pytest.mark.sim
def test_rerun_with_another_size_is_refused(envs, collected):
    out, _, _ = collected
    config = CollectConfig("panda", "PullCube", 2, out, size=96)
    with pytest.raises(ValueError, match="holds 64 px episodes; this run asks for 96 px"):
        collect(config, env=_env(envs), progress=False)


def test_unknown_robot_or_task_error_lists_valid_names(tmp_path):
    with pytest.raises(ValueError, match="valid robots: panda, ur10e, xarm6_robotiq"):
        CollectConfig("ur5", "PullCube", 1, tmp_path)
    with pytest.raises(ValueError, match="valid tasks: PushT, RollBall, PullCube, PullCubeTool, PokeCube"):
        CollectConfig("panda", "StackCube", 1, tmp_path)
    with pytest.raises(ValueError, match="panda runs: PullCube, PullCubeTool"):
        CollectConfig("panda", "RollBall", 1, tmp_path)


def test_cli_reports_bad_input_without_a_traceback(tmp_path, capsys):
    from rla_gym.cli import main

    code = main(["collect", "--robot", "ur5", "--task", "RollBall", "--episodes", "1", "--out", str(tmp_path)])
    assert code == 2
    assert "valid robots: panda, ur10e, xarm6_robotiq" in capsys.readouterr().err
    code = main(["collect", "--robot", "ur10e", "--task", "RollBall", "--episodes", "1", "--out", str(tmp_path), "--size", "63"])  # fmt: skip
    assert code == 2
    assert "even number of pixels" in capsys.readouterr().err


@pytest.mark.sim
def test_ur10e_split_metadata_names_the_generated_urdf(tmp_path):
    require_sim()
    config = CollectConfig(robot="ur10e", task="RollBall", episodes=0, out=tmp_path, size=64)
    write_metadata(config)
    info = json.loads((config.root / "success" / "metadata.json").read_text())["robot_infos"][0]
    assert info["uid"] == "ur10e_stick" and info["urdf_path"].endswith(".urdf")
    assert "stick_link" in Path(info["urdf_path"]).read_text()


@pytest.mark.sim
def test_resume_summary_counts_every_episode_in_the_folder(collected, tmp_path):
    """A folder of 2 episodes resumed with --episodes 1: the summary counts both, not just id 0."""
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(collected[0], out)
    report = collect(_config(out, 1), progress=False)  # nothing to record: no simulator is made
    assert report.new == [] and set(report.kept) == {0} and set(report.beyond) == {1}
    assert report.total == 2 and report.successes == 1
    assert "(1/2 on disk" in report.summary()
    assert "1 more with higher ids" in report.summary()


def test_cli_rejects_an_out_path_that_is_a_file(tmp_path, capsys):
    from rla_gym.cli import main

    blocker = tmp_path / "notes.txt"
    blocker.write_text("not a folder")
    for out in (blocker, blocker / "demos"):
        code = main(["collect", "--robot", "ur10e", "--task", "RollBall", "--episodes", "1", "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2, err
        assert "argument --out: expected a folder to write into" in err and str(blocker) in err
        assert "Traceback" not in err


def test_cli_rejects_max_steps_below_one(tmp_path, capsys):
    from rla_gym.cli import main

    for bad in ("-5", "0"):
        args = ["collect", "--robot", "ur10e", "--task", "RollBall", "--episodes", "1", "--out", str(tmp_path)]
        code = main([*args, "--max-steps", bad])
        assert code == 2
        assert f"argument --max-steps: expected an integer >= 1; got '{bad}'" in capsys.readouterr().err


def test_resume_redoes_an_episode_whose_video_is_truncated(tmp_path):
    """A crash or a full disk can cut a video after its folder was finished: resume must record it again."""
    from rla_gym.data import synthetic_episode, write_episode

    root = tmp_path / "success"
    for i in range(2):
        write_episode(root, i, synthetic_episode(12, 16, seed=i))
    video = root / "traj_000001" / "front_lower_camera_rgb.mp4"
    video.write_bytes(video.read_bytes()[:-1])
    finished, corrupt = scan_finished(tmp_path)
    assert finished == {0: True}
    assert [p.name for p in corrupt] == [".traj_000001.corrupt"]


def test_collection_refuses_evaluation_seeds_unless_asked(tmp_path, capsys):
    """Training scenes must not be evaluation scenes: seeds 0-99 contain the selection seeds 42-91."""
    from rla_gym.cli import main

    with pytest.raises(ValueError, match=r"overlap the evaluation ranges \(selection seeds 42-91\)"):
        CollectConfig("panda", "PullCube", 100, tmp_path, seed=0)
    assert CollectConfig("panda", "PullCube", 100, tmp_path, seed=0, allow_eval_seeds=True).seed == 0
    assert CollectConfig("panda", "PullCube", 42, tmp_path, seed=0).episode_seed(41) == 41  # 0-41: no overlap
    code = main(["collect", "--robot", "panda", "--task", "PullCube", "--episodes", "60", "--seed", "0", "--out", str(tmp_path / "d")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "selection seeds 42-59" in err and "--allow-eval-seeds" in err
    assert not (tmp_path / "d").exists()


@pytest.mark.sim
def test_collected_episodes_carry_the_task_objects_segmentation_and_poses(collected):
    """PullCube's cube and goal: a label image per frame inside the foreground, and poses that include the goal."""
    _, report, written = collected
    for episode in written.values():
        assert episode.object_names == ("cube", "goal_region")
        labels = episode.object_labels  # (T, H, W)
        assert labels.shape == episode.frames.shape[:3]
        seen = [(labels == k + 1).any(axis=(1, 2)).mean() for k in range(2)]
        assert min(seen) > 0.5, seen  # both objects are in view in most frames (the arm hides them at times)
        assert not (labels > 0)[~episode.mask].any()  # task objects are foreground
        cube, goal = episode.task_object_poses[:, 0, :3], episode.task_object_poses[:, 1, :3]
        np.testing.assert_allclose(cube, episode.object_poses[:, 0, :3])  # the authors' object_poses: the cube
        assert np.ptp(goal, axis=0).max() < 1e-6  # the goal does not move
