"""Bad input to RLAWorldModel-v0: each a clear error, and the env stays usable after a rejected action."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from rla_gym.data.demo_set import DemoSet
from rla_gym.models.bundle import BundleError
from rla_gym.models.random_bundle import make_random_bundle


def test_wrong_action_shape_names_the_expected_shape(make_vec_env):
    env = make_vec_env(2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"action has shape \(2, 8, 6\); ur10e .* expects \(2, 8, 5\)"):
        env.step(np.zeros((2, 8, 6), np.float32))
    with pytest.raises(ValueError, match=r"action has shape \(8, 5\)"):
        env.step(np.zeros((8, 5), np.float32))  # never silently broadcast over envs


def test_nan_action_is_rejected_and_env_stays_usable(make_vec_env):
    env = make_vec_env(2, obs_mode="dict")
    obs0, _ = env.reset(seed=0)
    bad = np.zeros((2, 8, 5), np.float32)
    bad[1, 4, 2] = np.nan
    with pytest.raises(ValueError, match=r"NaN or inf.*\(2, 8, 5\)"):
        env.step(bad)
    assert torch.equal(env.unwrapped._tokens, obs0["tokens"]), "a rejected action changes nothing"
    obs, reward, *_ = env.step(np.zeros((2, 8, 5), np.float32))
    assert torch.isfinite(reward).all()


def test_unknown_robot_lists_valid_names(random_bundle_dir):
    with pytest.raises(ValueError, match=r"unknown robot 'ur5'; valid robots: panda, ur10e, xarm6_robotiq"):
        gym.make_vec(
            "RLAWorldModel-v0",
            num_envs=1,
            vectorization_mode="vector_entry_point",
            robot="ur5",
            bundle=random_bundle_dir,
        )


def test_bundle_made_for_another_robot_is_rejected(random_bundle_dir):
    with pytest.raises(BundleError, match="made for robot 'ur10e', not 'panda'"):
        gym.make_vec(
            "RLAWorldModel-v0",
            num_envs=1,
            vectorization_mode="vector_entry_point",
            robot="panda",
            bundle=random_bundle_dir,
        )


def test_empty_demo_set_is_rejected(tmp_path):
    bundle = make_random_bundle("ur10e", "tiny", episodes=1, length=4)
    with pytest.raises(ValueError, match="no episode longer than chunk_size=8 frames"):
        gym.make_vec("RLAWorldModel-v0", num_envs=1, vectorization_mode="vector_entry_point", bundle=bundle)
    bundle.demos = None
    with pytest.raises(BundleError, match="empty demo set"):
        gym.make_vec("RLAWorldModel-v0", num_envs=1, vectorization_mode="vector_entry_point", bundle=bundle)


def test_missing_default_bundle_says_how_to_make_one(monkeypatch, tmp_path):
    monkeypatch.setenv("RLA_GYM_MODELS", str(tmp_path))
    with pytest.raises(BundleError, match=r"rla-gym make-bundle --random --robot ur10e --out DIR"):
        gym.make_vec("RLAWorldModel-v0", num_envs=1, vectorization_mode="vector_entry_point")


def test_bad_reset_options_are_named(make_vec_env):
    env = make_vec_env(1)
    with pytest.raises(ValueError, match="demo 99 out of range"):
        env.reset(seed=0, options={"demo": 99})
    with pytest.raises(ValueError, match="unknown reset options"):
        env.reset(seed=0, options={"episode": 1})


def test_unknown_reward_mode_is_named(random_bundle_dir):
    with pytest.raises(ValueError, match="reward_mode 'dense'; valid: aligned, goal"):
        gym.make_vec(
            "RLAWorldModel-v0",
            num_envs=1,
            vectorization_mode="vector_entry_point",
            bundle=random_bundle_dir,
            reward_mode="dense",
        )


def test_demo_set_rejects_inconsistent_lengths():
    with pytest.raises(ValueError, match="sum to 5"):
        DemoSet(
            torch.zeros(4, 8, 8, 3, dtype=torch.uint8),
            torch.zeros(4, 5),
            torch.zeros(4, 6),
            torch.tensor([0]),
            torch.tensor([5]),
        )


def _make(**kwargs):
    return gym.make_vec("RLAWorldModel-v0", num_envs=2, vectorization_mode="vector_entry_point", **kwargs)


@pytest.mark.parametrize("task", ["Bogus", "PullCube"])
def test_task_must_be_one_of_the_robots_tasks(random_bundle_dir, task):
    """An unknown task, or a task of another robot (PullCube is panda's), would run a reward and an
    episode length that mean nothing for this robot."""
    with pytest.raises(ValueError, match=rf"'?{task}'?.*ur10e runs: PushT, RollBall"):
        _make(robot="ur10e", task=task, bundle=random_bundle_dir)


@pytest.mark.parametrize(
    "setting, message",
    [
        ({"euler_steps": 0}, r"euler_steps must be None \(the bundle's\) or an integer >= 1, got 0"),
        ({"euler_steps": -2}, r"euler_steps .* got -2"),
        ({"euler_steps": 2.5}, r"euler_steps .* got 2.5"),
        ({"reward_scale": float("nan")}, r"reward_scale must be a finite number > 0, got nan"),
        ({"reward_scale": -1.0}, r"reward_scale .* got -1.0"),
        ({"success_threshold": -0.1}, r"success_threshold must be a number >= 0, got -0.1"),
        ({"success_threshold": float("nan")}, r"success_threshold .* got nan"),
        ({"chunk_size": True}, r"chunk_size must be an integer >= 1, got True"),
        ({"precision": "fp16"}, r"precision 'fp16'; valid: None \(the device's default\), float32, bfloat16"),
    ],
)
def test_bad_settings_fail_at_construction(random_bundle_dir, setting, message):
    """Not at the first step (a negative euler_steps did), and not silently replaced (0 did)."""
    with pytest.raises(ValueError, match=message):
        _make(bundle=random_bundle_dir, **setting)


def test_euler_steps_default_is_resolved_once(make_vec_env):
    env = make_vec_env(1)
    assert env.euler_steps == env.cfg.euler_steps == env.stack.config.euler_steps, "None: the bundle's"
    env = make_vec_env(1, euler_steps=3)
    assert env.euler_steps == env.cfg.euler_steps == 3


@pytest.mark.parametrize(
    "options, message",
    [
        ({"frame": 2.5}, r"frame must be an integer or one per env, got 2.5"),
        ({"frame": [1, 2.5]}, r"frame must be .* got \[1, 2.5\]"),
        ({"demo": True}, r"demo must be .* got True"),
        ({"demo": [0, 1, 2]}, r"demo has 3 entries; expected 1 or 2 \(num_envs\)"),
        ({"env_mask": [True, False, True]}, r"env_mask has 3 entries; expected 2 \(num_envs\)"),
        ({"env_mask": [1, 0]}, r"env_mask must be booleans, got dtype int64"),
    ],
)
def test_bad_reset_options_are_explained(make_vec_env, options, message):
    env = make_vec_env(2)
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)


def test_rejected_reset_changes_nothing(make_vec_env):
    """Validation comes first: a reset that raises moves no seed, no counter, no world."""
    env, twin = make_vec_env(2), make_vec_env(2)
    for e in (env, twin):
        e.reset(seed=0)
        e.step(np.zeros(e.action_space.shape, np.float32))
    with pytest.raises(ValueError, match="frame 99 out of range"):
        env.reset(seed=5, options={"frame": [0, 99]})
    assert env._seed == twin._seed and env.np_random_seed == twin.np_random_seed
    assert np.array_equal(env._reset_count, twin._reset_count)
    assert torch.equal(env._tokens, twin._tokens) and torch.equal(env._frame, twin._frame)
    action = np.random.default_rng(0).uniform(env.action_space.low, env.action_space.high).astype(np.float32)
    assert torch.equal(env.step(action)[0], twin.step(action)[0])
    (obs, info), (twin_obs, twin_info) = env.reset(), twin.reset()
    assert torch.equal(obs, twin_obs) and torch.equal(info["frame"], twin_info["frame"])


def test_bool_actions_are_rejected(make_vec_env):
    env = make_vec_env(2)
    env.reset(seed=0)
    with pytest.raises(TypeError, match=r"action has dtype bool; expected real joint targets"):
        env.step(np.zeros((2, 8, 5), bool))
    with pytest.raises(TypeError, match=r"action has dtype torch.bool"):
        env.step(torch.zeros((2, 8, 5), dtype=torch.bool))


def test_huge_finite_float64_action_is_clipped_not_called_nan(make_vec_env):
    """1e300 is finite in float64; only a float32 cast would turn it into inf."""
    env = make_vec_env(2)
    env.reset(seed=0)
    action = np.zeros((2, 8, 5), np.float64)
    action[0, 0, 0], action[1, 2, 3] = 1e300, -1e300
    obs, reward, *_, info = env.step(action)
    assert info["clipped"].tolist() == [1, 1] and torch.isfinite(reward).all()
    action[1, 2, 3] = np.inf
    with pytest.raises(ValueError, match="NaN or inf"):
        env.step(action)


@pytest.mark.parametrize("call", ["step", "reset", "render", "demo_frames"])
def test_vector_env_calls_after_close_say_so(make_vec_env, call):
    env = make_vec_env(1)
    env.reset(seed=0)
    env.close()
    calls = {
        "step": lambda: env.step(np.zeros(env.action_space.shape, np.float32)),
        "reset": lambda: env.reset(seed=0),
        "render": env.render,
        "demo_frames": env.demo_frames,
    }
    with pytest.raises(RuntimeError, match=r"env is closed"):
        calls[call]()
    env.close()  # closing twice is fine


def test_single_env_calls_after_close_say_so(random_bundle_dir):
    env = gym.make("RLAWorldModel-v0", bundle=random_bundle_dir, render_mode="rgb_array")
    env.reset(seed=0)
    env.close()
    for call in (lambda: env.reset(seed=0), lambda: env.step(env.action_space.sample()), env.render):
        with pytest.raises(RuntimeError, match=r"env is closed"):
            call()
