"""RLAWorldModel-v0: registration, spaces, shapes and dtypes, Gymnasium's env checker."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

import rla_gym
from rla_gym.envs.numpy_wrapper import NumpyVectorEnv
from rla_gym.envs.vector import RLAWorldModelVectorEnv


def test_importing_rla_gym_registers_without_torch():
    code = "import sys, rla_gym, gymnasium as gym; assert 'torch' not in sys.modules; print(gym.spec('RLAWorldModel-v0').id)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == rla_gym.ENV_ID


@pytest.mark.slow
def test_single_env_passes_check_env(random_bundle_dir):
    env = gym.make("RLAWorldModel-v0", robot="ur10e", bundle=random_bundle_dir, render_mode="rgb_array")
    check_env(env.unwrapped, skip_render_check=False)
    obs, info = env.reset(seed=1)
    assert obs.shape == (48, 48, 3) and obs.dtype == np.uint8 and {"demo", "frame"} <= set(info)
    assert env.render().shape == (48, 96, 3)
    env.close()


def test_make_vec_returns_documented_spaces(make_vec_env):
    env = make_vec_env(4)
    assert isinstance(env, RLAWorldModelVectorEnv)
    assert env.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    assert env.single_action_space.shape == (8, 5) and env.action_space.shape == (4, 8, 5)
    assert np.allclose(env.single_action_space.high[0], rla_gym.specs.UR10E.action_high)
    assert env.single_observation_space == spaces.Box(0, 255, (48, 48, 3), np.uint8)
    assert env.observation_space.shape == (4, 48, 48, 3)


@pytest.mark.parametrize("num_envs", [1, 4])
def test_reset_and_step_shapes_and_dtypes(make_vec_env, num_envs):
    env = make_vec_env(num_envs)
    obs, info = env.reset(seed=0)
    assert obs.shape == (num_envs, 48, 48, 3) and obs.dtype == torch.uint8
    assert info["demo"].shape == (num_envs,)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs.shape == (num_envs, 48, 48, 3) and obs.dtype == torch.uint8 and obs.device == env.device
    assert reward.shape == (num_envs,) and reward.dtype == torch.float32
    assert terminated.dtype == torch.bool and truncated.shape == (num_envs,)
    assert {"reward_l1", "goal_l1", "success", "clipped", "demo", "frame"} <= set(info)


def test_dict_observations_add_tokens_and_qpos(make_vec_env):
    env = make_vec_env(2, obs_mode="dict")
    obs, _ = env.reset(seed=0)
    assert set(obs) == {"rgb", "tokens", "qpos"}
    assert obs["tokens"].shape == (2, 36, 32) and obs["qpos"].shape == (2, 6)
    assert env.observation_space["tokens"].shape == (2, 36, 32)
    targets = torch.as_tensor(env.action_space.sample())
    obs, *_ = env.step(targets)
    assert torch.allclose(obs["qpos"][:, :5], targets[:, -1]), "commanded qpos is the chunk's last row"


def test_numpy_wrapper_gives_arrays(make_vec_env):
    env = NumpyVectorEnv(make_vec_env(2))
    obs, info = env.reset(seed=0)
    assert isinstance(obs, np.ndarray) and isinstance(info["demo"], np.ndarray)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert isinstance(reward, np.ndarray) and reward.dtype == np.float32 and isinstance(info["success"], np.ndarray)


def test_render_shows_prediction_beside_demo(make_vec_env):
    env = make_vec_env(2)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (2, 48, 96, 3)
    assert np.array_equal(frame[:, :, 48:], env.demo_frames().numpy())


def test_reset_starts_from_the_demo_frame_rendered_like_every_observation(make_vec_env):
    env = make_vec_env(2)
    obs, info = env.reset(seed=0, options={"demo": [1, 2], "frame": [0, 5]})
    demos = env.bundle.demos
    for i, (d, f) in enumerate([(1, 0), (2, 5)]):
        assert (info["demo"][i], info["frame"][i]) == (d, f)
        raw = demos.frames[int(demos.episode_starts[d]) + f]
        seen = env.stack.view(raw[None].numpy())[0]  # encoded alone, not in the reference's batch of 64: +-1 level
        assert (obs[i].int() - seen.int()).abs().max() <= 1, "the demo frame through encoder and UNet"
        assert not torch.equal(obs[i], raw), "not the recorded frame: a policy sees one image pipeline"


def test_episodes_end_and_autoreset_with_final_obs(make_vec_env):
    env = make_vec_env(2, max_chunk_steps=2, p_initial_frame=1.0)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    obs, _, terminated, truncated, info = env.step(env.action_space.sample())
    assert bool((terminated | truncated).all()), "two chunk steps hit max_chunk_steps=2"
    assert bool(info["_final_obs"].all()) and info["final_obs"].shape == obs.shape
    assert bool((info["frame"] == 0).all()), "reset in the same step, at frame 0 (p_initial_frame=1)"
    assert _same_render(obs[0], env.demo_renders()[0])


def _same_render(a: torch.Tensor, b: torch.Tensor) -> bool:
    """The same render up to one grey level: the UNet's CPU kernels round differently with the batch's size."""
    return bool((a.int() - b.int()).abs().max() <= 1)


def test_a_reset_can_start_from_camera_frames_still_rewarded_against_the_demo(make_vec_env):
    env = make_vec_env(2)
    frames = np.random.default_rng(0).integers(0, 256, (2, 96, 96, 3), dtype=np.uint8)  # e.g. ManiSkill at 96 px
    obs, info = env.reset(seed=0, options={"demo": [1, 2], "frame": [0, 3], "start_frames": frames})
    seen = env.stack.view(frames)
    assert _same_render(obs[0], seen[0]) and _same_render(obs[1], seen[1])
    assert not _same_render(obs[0], env.demo_renders()[0]), "not the demo frame's render"
    assert info["demo"].tolist() == [1, 2] and info["frame"].tolist() == [0, 3], "the reference stays the demo's"
    before = env._tokens.clone()
    with pytest.raises(ValueError, match=r"start_frames: expected uint8 \(1, H, W, 3\)"):
        env.reset(options={"reset_mask": np.array([True, False]), "start_frames": frames})
    assert torch.equal(env._tokens, before), "the refused reset changed nothing"
