"""A bundle carries either backend: the regression baseline is a bundle component (saved, listed in the manifest,
loaded), and the env runs on `dynamics="rla-wm"` (default), `"regression"` or `"copy"`, with its per-env flow
noise unchanged."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch
from dynamics_support import moving_regression, save_regression_bundle

import rla_gym  # noqa: F401  (registers the env)
from rla_gym.models.bundle import BundleError, load_bundle


@pytest.fixture(scope="module")
def regression_bundle_dir(tmp_path_factory):
    return save_regression_bundle(tmp_path_factory.mktemp("bundles") / "ur10e-tiny-regression")


def _vec(bundle, num_envs=2, **kwargs):
    return gym.make_vec(
        "RLAWorldModel-v0", num_envs=num_envs, vectorization_mode="vector_entry_point", bundle=bundle, **kwargs
    )


def test_regression_is_a_bundle_component_saved_listed_and_loaded(regression_bundle_dir):
    manifest = json.loads((regression_bundle_dir / "manifest.json").read_text())
    assert {"regression.safetensors", "regression.json"} <= set(manifest["files"])
    bundle = load_bundle(regression_bundle_dir, verify=True)
    expected = moving_regression(bundle.config).state_dict()
    assert bundle.regression is not None
    for key, value in bundle.regression.state_dict().items():
        assert torch.equal(value, expected[key]), key
    g = torch.Generator().manual_seed(0)
    tokens = torch.randn(2, bundle.stack.num_tokens, bundle.stack.token_dim, generator=g)
    targets = 0.3 * torch.randn(2, 8, 5, generator=g)
    with torch.no_grad():
        direct = bundle.regression(tokens, bundle.stack.robot.to_full_qpos(targets), torch.full((2,), 8), "2")
    assert torch.equal(bundle.dynamics("regression")(tokens, targets), direct)


def test_a_manifest_listing_half_the_baseline_is_refused(regression_bundle_dir, tmp_path):
    from rla_gym.models.bundle import copy_bundle

    path = copy_bundle(regression_bundle_dir, tmp_path / "half")
    manifest = json.loads((path / "manifest.json").read_text())
    for key in ("files", "sizes", "stamps"):
        manifest.get(key, {}).pop("regression.json", None)
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="lists regression.safetensors but not regression.json"):
        load_bundle(path)


def test_a_bundle_without_the_baseline_names_itself_and_how_to_add_it(random_bundle_dir):
    bundle = load_bundle(random_bundle_dir)
    assert bundle.regression is None
    with pytest.raises(BundleError, match=rf"bundle {random_bundle_dir} ships no regression.*rla-gym train regression"):
        bundle.dynamics("regression")
    with pytest.raises(BundleError, match="ships no regression baseline"):
        _vec(random_bundle_dir, dynamics="regression")


def test_an_unknown_dynamics_lists_the_valid_ones(random_bundle_dir):
    with pytest.raises(ValueError, match="dynamics 'diffusion'; valid: rla-wm, regression, copy"):
        _vec(random_bundle_dir, dynamics="diffusion")
    with pytest.raises(ValueError, match="valid: rla-wm, regression, copy"):
        load_bundle(random_bundle_dir).dynamics("diffusion")


def _first_step(bundle_dir, dynamics: str):
    env = _vec(bundle_dir, dynamics=dynamics, obs_mode="dict")
    obs, _ = env.reset(seed=3, options={"demo": [0, 1], "frame": 0})
    actions = env.unwrapped.demo_actions() + 0.05
    nxt, *_ = env.step(actions)
    env.close()
    return env, obs["tokens"], actions, nxt


def test_env_default_step_is_rla_wm_with_its_per_env_noise(regression_bundle_dir):
    from rla_gym.envs.seeding import FLOW_NOISE, env_rng

    env, tokens, actions, nxt = _first_step(regression_bundle_dir, "rla-wm")
    stack = load_bundle(regression_bundle_dir).stack
    noise = np.stack(
        [env_rng(3, FLOW_NOISE, i, 0).standard_normal(stack.latent_shape, dtype=np.float32) for i in range(2)]
    )  # a pure function of (seed, global env index, step count)
    expected = stack.predict(tokens, actions, torch.from_numpy(noise))
    assert torch.equal(nxt["tokens"], expected)
    assert torch.equal(nxt["rgb"], stack.render(expected))


def test_env_runs_on_the_regression_baseline_or_copies(regression_bundle_dir):
    _, tokens, actions, reg = _first_step(regression_bundle_dir, "regression")
    bundle = load_bundle(regression_bundle_dir)
    assert torch.equal(reg["tokens"], bundle.dynamics("regression")(tokens, actions))
    _, _, _, wm = _first_step(regression_bundle_dir, "rla-wm")
    assert (reg["tokens"] - wm["tokens"]).abs().mean() > 1e-4, "regression and RLA-WM are different models"
    _, tokens, _, copy = _first_step(regression_bundle_dir, "copy")
    assert torch.equal(copy["tokens"], tokens)


def test_the_default_bundle_ships_its_baseline_and_the_env_runs_on_it():
    from rla_gym.models.zoo import default_bundle_path

    path = default_bundle_path("ur10e", "RollBall")
    env = gym.make("RLAWorldModel-v0", robot="ur10e", dynamics="regression", obs_mode="dict")
    obs, _ = env.reset(seed=0, options={"demo": 0, "frame": 0})
    action = env.unwrapped.vector_env.demo_actions()[0].cpu().numpy()
    nxt, *_ = env.step(action)
    assert env.unwrapped.vector_env.dynamics.name == "regression"
    bundle = load_bundle(path)  # a layered zoo: the baseline lives in the robot's dynamics part
    qpos = bundle.stack.robot.to_full_qpos(torch.as_tensor(action)[None])
    with torch.no_grad():
        expected = bundle.regression(torch.as_tensor(obs["tokens"])[None], qpos, torch.full((1,), 8), "2")
    np.testing.assert_array_equal(nxt["tokens"], expected[0].numpy())
    env.close()
