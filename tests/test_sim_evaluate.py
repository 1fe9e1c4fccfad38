"""`evaluate`: per-seed success agrees with the simulator, chunks run open loop, preprocessing, videos, errors."""

from __future__ import annotations

import numpy as np
import pytest
from sim_collect_support import run_script

from rla_gym.sim.evaluate import EvalResult, SeedResult, evaluate, stack_preprocess, wilson_interval
from rla_gym.sim.scripted import ScriptedPolicy

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mani_skill"),
    pytest.mark.filterwarnings("ignore:.*precision lowered by casting:UserWarning"),
]
SEEDS = [0, 1, 2]


class RecordingPolicy:
    """Holds the rest pose; remembers what it saw and how often it was asked."""

    def __init__(self, chunk: int = 8, dim: int = 8) -> None:
        from rla_gym.specs.robots import PANDA

        self.action = np.array(PANDA.rest_qpos[:dim], dtype=np.float32)
        self.chunk, self.calls, self.seen = chunk, 0, []

    def __call__(self, rgb, qpos):
        self.calls += 1
        self.seen.append(rgb.copy())
        return np.tile(self.action, (self.chunk, 1))


@pytest.mark.sim
def test_per_seed_success_agrees_with_a_direct_rollout(envs, tmp_path):
    env = envs.get("PullCube")
    policy = ScriptedPolicy("PullCube", fail={1})  # seed 1 runs the failure mode
    result = evaluate(policy, "panda", "PullCube", seeds=SEEDS, env=env, video_dir=tmp_path)
    assert [e.seed for e in result.episodes] == SEEDS
    direct = [run_script(env, "PullCube", seed, fail=seed == 1) for seed in SEEDS]
    assert [e.success for e in result.episodes] == [d.success for d in direct]
    assert [e.steps for e in result.episodes] == [d.steps for d in direct]
    assert [e.success for e in result.episodes] == [True, False, True]
    assert result.success_rate == pytest.approx(2 / 3)
    lo, hi = result.ci95
    assert lo < 2 / 3 < hi
    assert result.episodes[1].steps == 50  # a failure runs to the task's limit
    assert all(e.video is not None and e.video.stat().st_size > 0 for e in result.episodes)
    assert all(e.episode_return > 0 for e in result.episodes)  # summed normalized dense reward


@pytest.mark.sim
def test_chunks_run_open_loop_and_max_steps_caps_the_episode(envs):
    policy = RecordingPolicy(chunk=8)
    result = evaluate(policy, "panda", "PullCube", seeds=[0], env=envs.get("PullCube"), max_steps=20)
    assert result.episodes[0].steps == 20
    assert policy.calls == 3  # 8 + 8 + 4 steps: one observation per chunk
    assert not result.episodes[0].success


@pytest.mark.sim
def test_videos_play_in_real_time(envs, tmp_path):
    """One stored frame per 8-step chunk at 20 Hz control: 2.5 fps, so 20 steps last 1 s, not 0.15 s."""
    import imageio.v2 as iio

    env = envs.get("PullCube")
    assert env.unwrapped.control_freq == 20
    result = evaluate(
        RecordingPolicy(chunk=8), "panda", "PullCube", seeds=[0], env=env, max_steps=20, video_dir=tmp_path
    )
    reader = iio.get_reader(str(result.episodes[0].video), format="FFMPEG")
    try:
        fps, frames = reader.get_meta_data()["fps"], sum(1 for _ in reader.iter_data())
    finally:
        reader.close()
    assert frames == 3  # policy calls at steps 0, 8, 16
    assert fps == pytest.approx(3.0, rel=1e-3)  # 20 Hz * 3 frames / 20 steps
    assert frames / fps == pytest.approx(20 / 20)  # the episode's real duration in seconds


@pytest.mark.sim
def test_neural_preprocess_reaches_the_policy_and_can_be_switched_off(envs):
    def invert(frames):
        return 255 - frames

    env = envs.get("PullCube")
    on, off = RecordingPolicy(), RecordingPolicy()
    evaluate(on, "panda", "PullCube", seeds=[0], env=env, max_steps=8, neural_preprocess=invert)
    evaluate(off, "panda", "PullCube", seeds=[0], env=env, max_steps=8, neural_preprocess=invert, use_preprocess=False)
    np.testing.assert_array_equal(on.seen[0], 255 - off.seen[0])


@pytest.mark.sim
def test_bad_chunk_or_preprocess_output_is_rejected(envs):
    env = envs.get("PullCube")
    with pytest.raises(ValueError, match=r"shape \(8, 6\); panda expects \(K, 8\)"):
        evaluate(RecordingPolicy(dim=6), "panda", "PullCube", seeds=[0], env=env)
    with pytest.raises(ValueError, match="neural_preprocess returned"):
        evaluate(RecordingPolicy(), "panda", "PullCube", seeds=[0], env=env, neural_preprocess=lambda f: f[:, ::2])


def test_unknown_robot_or_task_error_lists_valid_names():
    with pytest.raises(ValueError, match="valid robots: panda, ur10e, xarm6_robotiq"):
        evaluate(RecordingPolicy(), "ur5", "PullCube")
    with pytest.raises(ValueError, match="valid tasks: PushT, RollBall"):
        evaluate(RecordingPolicy(), "panda", "Stack")


def test_a_policy_sees_in_maniskill_the_image_bc_trained_on(random_bundle_dir, tmp_path):
    """One image pipeline: sim frames at the camera's size go through `stack_preprocess` to exactly the renders BC
    trains on (the trainer's token cache and decode), at the stack's size, with no resize after the render."""
    import torch

    from rla_gym.data import synthetic_episode, write_episode
    from rla_gym.data.dataset import EpisodeDataset
    from rla_gym.models.bundle import load_bundle
    from rla_gym.train.bc import decoded_chunks
    from rla_gym.train.data import load_training_data

    tiny_stack = load_bundle(random_bundle_dir).stack  # random weights whose renders follow their input
    episode = synthetic_episode(6, 96, robot="ur10e", task="RollBall-v1", seed=0)
    write_episode(tmp_path / "success", 0, episode)
    data = load_training_data(tmp_path, tiny_stack.encoder, tiny_stack.image_size, progress=False, keep_frames=False)
    trained_on = decoded_chunks(data, tiny_stack, horizon=4, pad_after=3).images[0].numpy()  # (6, 48, 48, 3)
    camera = EpisodeDataset(tmp_path, cache_size=0)[0].frames  # as stored (lossy video): what the trainer read
    seen = stack_preprocess(tiny_stack)(camera)
    assert seen.shape == trained_on.shape == (6, 48, 48, 3) and seen.dtype == np.uint8
    assert np.abs(seen.astype(int) - trained_on).max() <= 1  # the trainer caches tokens in fp16
    assert np.abs(seen[0].astype(int) - seen[-1]).mean() > 1, "the tiny stack's render depends on its input"
    # what the evaluation did before: the render resized back to the camera's 96 px, then down again by the policy
    up = torch.nn.functional.interpolate(torch.from_numpy(seen).permute(0, 3, 1, 2).float(), size=(96, 96))
    down = torch.nn.functional.interpolate(up, size=(48, 48), mode="bilinear", antialias=True)
    assert np.abs(down.round().permute(0, 2, 3, 1).numpy() - trained_on).mean() > 5, "a second pipeline shows"


def test_wilson_interval_matches_known_values():
    assert wilson_interval(0, 0) == (0.0, 1.0)
    lo, hi = wilson_interval(5, 10)
    assert lo == pytest.approx(0.2366, abs=1e-3) and hi == pytest.approx(0.7634, abs=1e-3)
    lo, hi = wilson_interval(50, 50)
    assert hi == pytest.approx(1.0) and lo == pytest.approx(0.9287, abs=1e-3)
    result = EvalResult("panda", "PullCube", [SeedResult(0, True, 10, 1.0), SeedResult(1, False, 50, 0.1)])
    assert result.success_rate == 0.5 and "50.0 %" in result.summary()
