"""Leftovers of the env audit: Gymnasium's numpy-only vector wrappers on the torch env fail with one clear error
that names the numpy view; SB3's VecMonitor logs episodes; the single env speaks in single-env shapes, refuses
`num_envs`, and both envs declare the same render_fps."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers.vector import NormalizeReward, RecordEpisodeStatistics

import rla_gym  # noqa: F401  (registers the env)
from rla_gym.envs.numpy_wrapper import NumpyVectorEnv


@pytest.mark.parametrize("wrapper", [RecordEpisodeStatistics, NormalizeReward])
def test_numpy_only_vector_wrappers_on_the_torch_env_name_the_numpy_view(wrapper, make_vec_env):
    env = make_vec_env(2)
    wrapped = wrapper(env)
    wrapped.reset(seed=0)
    before = env._tokens.clone()
    with pytest.raises(TypeError) as err:
        wrapped.step(env.demo_actions())
    assert f"{wrapper.__name__}(NumpyVectorEnv(env))" in str(err.value)
    assert (env._tokens == before).all(), "a refused step leaves the env untouched"


def test_the_refusal_sees_through_other_wrappers(make_vec_env):
    from gymnasium.wrappers.vector import ClipReward

    env = make_vec_env(2)
    wrapped = RecordEpisodeStatistics(ClipReward(env, -1.0, 1.0))
    wrapped.reset(seed=0)
    with pytest.raises(TypeError, match=r"RecordEpisodeStatistics\(NumpyVectorEnv\(env\)\)"):
        wrapped.step(env.demo_actions())


def test_the_numpy_view_records_episode_statistics(make_vec_env):
    env = make_vec_env(2)
    stats = RecordEpisodeStatistics(NormalizeReward(NumpyVectorEnv(env)))
    stats.reset(seed=0)
    for _ in range(env.cfg.max_chunk_steps):
        _, _, _, _, info = stats.step(to_numpy_actions(env))
        if "episode" in info:
            break
    assert "episode" in info and np.asarray(info["_episode"]).any()


def to_numpy_actions(env):
    return env.demo_actions().cpu().numpy()


def test_sb3_vec_monitor_logs_episodes(make_vec_env):
    """The README's one-liner: VecMonitor(SB3VecEnv(envs)) gives SB3 its episode statistics."""
    from stable_baselines3.common.vec_env import VecMonitor

    from rla_gym.envs.sb3 import SB3VecEnv

    env = make_vec_env(2)
    venv = VecMonitor(SB3VecEnv(env))
    venv.reset()
    episodes = []
    for _ in range(env.cfg.max_chunk_steps):
        _, _, dones, infos = venv.step(to_numpy_actions(env))
        episodes += [info["episode"] for info, done in zip(infos, dones) if done]
    assert episodes and all({"r", "l"} <= set(e) for e in episodes)


def test_both_envs_declare_the_same_render_fps(make_vec_env, random_bundle_dir):
    env = make_vec_env(2)
    single = gym.make("RLAWorldModel-v0", bundle=random_bundle_dir)
    assert env.metadata["render_fps"] == single.metadata["render_fps"] > 0
    single.close()


def test_the_single_env_refuses_num_envs(random_bundle_dir):
    with pytest.raises(ValueError, match=r"num_envs=4: the single env simulates one world.*gym.make_vec"):
        gym.make("RLAWorldModel-v0", bundle=random_bundle_dir, num_envs=4)
    gym.make("RLAWorldModel-v0", bundle=random_bundle_dir, num_envs=1).close()


def test_the_single_envs_shape_error_quotes_single_env_shapes(random_bundle_dir):
    env = gym.make("RLAWorldModel-v0", bundle=random_bundle_dir)
    env.reset(seed=0)
    with pytest.raises(ValueError) as err:
        env.step(np.zeros((3, 5), dtype=np.float32))
    assert str(err.value) == "action has shape (3, 5); ur10e expects (8, 5) (K, action_dim)"
    env.close()


def test_sync_vectorization_of_the_single_env_still_works(random_bundle_dir):
    envs = gym.make_vec("RLAWorldModel-v0", num_envs=2, vectorization_mode="sync", bundle=random_bundle_dir)
    obs, _ = envs.reset(seed=0)
    assert obs.shape[0] == 2
    envs.close()
