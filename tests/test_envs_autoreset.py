"""Autoreset modes, Gymnasium's own vector wrappers on the env, and `gym.make_vec`'s sync and async modes."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode
from gymnasium.wrappers.vector import (
    GrayscaleObservation,
    NormalizeReward,
    RecordEpisodeStatistics,
    TransformObservation,
)

from rla_gym.envs.numpy_wrapper import NumpyVectorEnv

# the tiny bundle's demos have 24 frames and chunk_size is 8: a world pinned at frame 15 ends on its next step
ENDS_NOW = {"demo": [0, 1], "frame": [0, 15]}


def _action(env) -> np.ndarray:
    return np.random.default_rng(0).uniform(env.action_space.low, env.action_space.high).astype(np.float32)


@pytest.mark.parametrize("mode", [*AutoresetMode, "NextStep", "SameStep", "Disabled"])
def test_autoreset_mode_is_chosen_and_declared(make_vec_env, mode):
    env = make_vec_env(1, autoreset_mode=mode)
    assert env.metadata["autoreset_mode"] is AutoresetMode(mode)
    assert make_vec_env(1).metadata["autoreset_mode"] is AutoresetMode.SAME_STEP, "one env's mode is not another's"


def test_unknown_autoreset_mode_lists_the_valid_ones(make_vec_env):
    with pytest.raises(ValueError, match=r"autoreset_mode 'sometimes'; valid: NextStep, SameStep, Disabled"):
        make_vec_env(1, autoreset_mode="sometimes")


def test_same_step_keeps_the_finished_episode_in_final_info(make_vec_env):
    """Gymnasium 1.x's convention: the finished episode's info sits under `final_info` (masked by
    `_final_info`); the top level describes the new episode only."""
    env = make_vec_env(2, reward_scale=2.0)
    env.reset(seed=0, options=ENDS_NOW)
    obs, reward, terminated, truncated, info = env.step(_action(env))
    assert terminated.tolist() == [False, True] and not truncated.any()
    assert info["_final_obs"].tolist() == [False, True] and info["_final_info"].tolist() == [False, True]
    final = info["final_info"]
    assert final["_frame"].tolist() == [False, True]
    assert (int(final["demo"][1]), int(final["frame"][1]), int(final["chunk_step"][1])) == (1, 23, 1)
    assert torch.isclose(reward[1], -2.0 * final["reward_l1"][1])
    assert info["_reward_l1"].tolist() == [True, False], "the new episode has no step result yet"
    assert float(info["reward_l1"][1]) == 0.0 and int(info["chunk_step"][1]) == 0
    assert _same_render(obs[1], env.demo_renders()[1]), "the top level observes the new episode"
    assert (int(info["demo"][0]), int(info["frame"][0])) == (0, 8), "the running world is untouched"


def test_next_step_resets_on_the_step_after_the_end(make_vec_env):
    env = make_vec_env(2, autoreset_mode="NextStep")
    env.reset(seed=0, options=ENDS_NOW)
    obs, _, terminated, _, info = env.step(_action(env))
    assert terminated.tolist() == [False, True] and "final_obs" not in info
    assert int(info["frame"][1]) == 23, "the finished episode's own last state"
    last = obs[1].clone()
    obs, reward, terminated, truncated, info = env.step(_action(env))
    assert float(reward[1]) == 0.0 and not bool(terminated[1] | truncated[1])
    assert _same_render(obs[1], env.demo_renders()[1]) and not torch.equal(obs[1], last), "reset, action ignored"
    assert info["_reward_l1"].tolist() == [True, False]
    assert info["chunk_step"].tolist() == [2, 0], "world 0 stepped on, world 1 only reset"


def test_disabled_autoreset_waits_for_a_masked_reset(make_vec_env):
    env = make_vec_env(2, autoreset_mode=AutoresetMode.DISABLED)
    env.reset(seed=0, options=ENDS_NOW)
    *_, info = env.step(_action(env))
    assert "final_obs" not in info
    with pytest.raises(RuntimeError, match=r"world\(s\) \[1\] finished.*reset_mask"):
        env.step(_action(env))
    running = env._tokens[0].clone()
    obs, info = env.reset(options={"reset_mask": np.array([False, True])})
    assert torch.equal(env._tokens[0], running) and _same_render(obs[1], env.demo_renders()[1])
    env.step(_action(env))


@pytest.mark.parametrize("mode", [AutoresetMode.SAME_STEP, AutoresetMode.NEXT_STEP])
def test_record_episode_statistics(make_vec_env, mode):
    env = RecordEpisodeStatistics(
        NumpyVectorEnv(make_vec_env(2, max_chunk_steps=2, p_initial_frame=1.0, autoreset_mode=mode))
    )
    env.reset(seed=0)
    returns, finished = np.zeros(2), []
    while len(finished) < 2:
        _, reward, terminated, truncated, info = env.step(_action(env))
        returns += reward
        if info.get("_episode", np.zeros(2, bool)).all():
            finished.append(info["episode"])
            assert np.allclose(info["episode"]["r"], returns) and info["episode"]["l"].tolist() == [2, 2]
            returns[:] = 0
            if mode is AutoresetMode.NEXT_STEP:
                env.step(_action(env))  # the reset step: reward 0, not part of any episode
    assert list(env.length_queue) == [2, 2, 2, 2]


def test_normalize_reward(make_vec_env):
    env = NormalizeReward(NumpyVectorEnv(make_vec_env(2, max_chunk_steps=2)), gamma=0.9)
    env.reset(seed=0)
    for _ in range(4):
        _, reward, *_ = env.step(_action(env))
    assert reward.shape == (2,) and np.isfinite(reward).all() and env.return_rms.count > 4


def test_observation_wrapper_through_the_numpy_wrapper(make_vec_env):
    """Gymnasium's observation wrappers accept next-step or disabled autoreset only (1.x rejects
    same-step); per-env ones (grayscale, resize) want numpy."""
    env = GrayscaleObservation(NumpyVectorEnv(make_vec_env(2, max_chunk_steps=1, autoreset_mode="NextStep")))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (2, 48, 48) and obs.dtype == np.uint8
    obs, _, terminated, truncated, _ = env.step(_action(env))
    assert obs.shape == (2, 48, 48) and (terminated | truncated).all()


def test_numpy_wrapper_gives_final_obs_one_entry_per_env(make_vec_env):
    """Gymnasium's same-step form: `final_obs[i]` is world i's last observation, None where none ended."""
    env = NumpyVectorEnv(make_vec_env(2, obs_mode="dict"))
    env.reset(seed=0, options=ENDS_NOW)
    *_, info = env.step(_action(env))
    final = info["final_obs"]
    assert final.dtype == object and final[0] is None and info["_final_obs"].tolist() == [False, True]
    assert set(final[1]) == {"rgb", "tokens", "qpos"} and final[1]["rgb"].shape == (48, 48, 3)
    assert isinstance(info["final_info"]["reward_l1"], np.ndarray)


def test_observation_wrapper_on_the_torch_env(make_vec_env):
    """Gymnasium's batch observation wrappers need next-step or disabled autoreset; they then work on the
    torch outputs directly."""
    base = make_vec_env(2, autoreset_mode="NextStep")
    space = gym.spaces.Box(0.0, 1.0, (48, 48, 3), np.float32)
    env = TransformObservation(base, lambda obs: obs.float() / 255, single_observation_space=space)
    obs, _ = env.reset(seed=0)
    assert obs.dtype == torch.float32 and float(obs.max()) <= 1.0
    obs, *_ = env.step(_action(env))
    assert obs.dtype == torch.float32


@pytest.mark.timeout(120)
@pytest.mark.parametrize("mode", ["sync", "async"])
def test_make_vec_sync_and_async(random_bundle_dir, mode):
    """Gymnasium's own vectorizers over the single env; async forks workers after torch has started its
    threads, which hung them before."""
    env = gym.make_vec("RLAWorldModel-v0", num_envs=2, vectorization_mode=mode, bundle=random_bundle_dir)
    try:
        obs, info = env.reset(seed=0)
        assert obs.shape == (2, 48, 48, 3) and obs.dtype == np.uint8 and info["demo"].shape == (2,)
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        assert obs.shape == (2, 48, 48, 3) and reward.shape == (2,) and np.isfinite(reward).all()
    finally:
        env.close()


def _same_render(a: torch.Tensor, b: torch.Tensor) -> bool:
    """The same render up to one grey level: the UNet's CPU kernels round differently with the batch's size."""
    return bool((a.int() - b.int()).abs().max() <= 1)
