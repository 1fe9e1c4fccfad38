"""Shared fixtures: tiny models and tiny bundles, built once per session, all offline on CPU."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_stack():
    import torch

    from rla_gym.models import WorldModelStack, tiny_config

    torch.manual_seed(0)
    return WorldModelStack(tiny_config("ur10e")).eval()


@pytest.fixture(scope="session")
def random_bundle_dir(tmp_path_factory):
    """A tiny random ur10e bundle on disk, shared by the env tests."""
    from rla_gym.models.random_bundle import make_random_bundle

    path = tmp_path_factory.mktemp("bundles") / "ur10e-tiny"
    make_random_bundle("ur10e", "tiny", episodes=4, length=24, seed=0).save_pretrained(path)
    return path


@pytest.fixture
def make_vec_env(random_bundle_dir):
    """Factory for vector envs on the shared tiny random bundle (closed after the test)."""
    import gymnasium as gym

    import rla_gym  # noqa: F401  (registers the env)

    made = []

    def factory(num_envs: int = 2, **kwargs):
        kwargs.setdefault("bundle", random_bundle_dir)
        env = gym.make_vec("RLAWorldModel-v0", num_envs=num_envs, vectorization_mode="vector_entry_point", **kwargs)
        made.append(env)
        return env

    yield factory
    for env in made:
        env.close()


@pytest.fixture(scope="module")
def envs():
    """ManiSkill envs shared within one test module (creating one costs seconds); sim tests only."""
    from sim_support import SimEnvs, require_sim, single_torch_thread

    require_sim()
    pool = SimEnvs()
    with single_torch_thread():
        yield pool
    pool.close()
