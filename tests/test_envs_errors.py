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
