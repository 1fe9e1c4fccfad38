"""The embedded default bundle (models/ur10e-RollBall-cpu): it is what `gym.make` finds with no bundle argument,
it matches its manifest, it is a valid model repository with a card, and its predictions respond to actions."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

import rla_gym  # noqa: F401
from rla_gym.models.bundle import load_bundle, verify_manifest
from rla_gym.models.zoo import default_bundle_path

DEFAULT = Path(__file__).resolve().parents[1] / "models" / "ur10e-RollBall-cpu"


def test_default_bundle_is_found_with_no_argument_and_matches_its_manifest():
    assert default_bundle_path("ur10e", None).resolve() == DEFAULT.resolve()
    assert default_bundle_path("ur10e", "RollBall").resolve() == DEFAULT.resolve()
    manifest = verify_manifest(DEFAULT)  # every file, sha256 and size
    assert manifest["random"] is False
    names = ("../ur10e-cpu", "../ur10e-cpu-regression", "../shared-cpu")  # a layered zoo
    parts = {DEFAULT, *((DEFAULT / name).resolve() for name in names)}
    for part in parts:
        verify_manifest(part)
    size = sum(f.stat().st_size for part in parts for f in part.iterdir())
    assert size < 50 * 2**20, "the default bundle (task folder and the parts it names) is at most 50 MB"
    zoo = sum(f.stat().st_size for f in DEFAULT.parent.rglob("*") if f.is_file())
    assert zoo < 200 * 2**20, "the whole zoo, BC policies included, is at most 200 MB (issue 20)"
    left_out = ("-bc", "-regression")  # pyproject's exclude-package-data: they stay in the checkout
    wheel = sum(
        f.stat().st_size for f in DEFAULT.parent.rglob("*") if f.is_file() and not f.parent.name.endswith(left_out)
    )
    assert wheel < 95 * 2**20, "what the wheel carries of the zoo stays under PyPI's 100 MB file limit (issue 20)"
    bundle = load_bundle(DEFAULT)
    assert bundle.robot == "ur10e" and bundle.task == "RollBall" and not bundle.random
    assert bundle.regression is not None, "the checkout has the baseline part"
    assert bundle.demos.num_episodes >= 8


def test_model_card_has_hub_metadata_and_the_benchmark_tables():
    card = (DEFAULT / "README.md").read_text()
    header = card.split("---")[1]
    for key in ("library_name:", "license:", "tags:"):
        assert key in header, f"model card metadata lacks {key}"
    assert "CPU stand-in" in card and "| copy first frame |" in card and "rla-gym train" in card


@pytest.fixture(scope="module")
def env():
    envs = gym.make_vec("RLAWorldModel-v0", num_envs=2, vectorization_mode="vector_entry_point", robot="ur10e")
    yield envs
    envs.close()


def test_default_bundle_carries_a_calibrated_success_threshold(env):
    """The env's success threshold is the one calibrated on the bundle's demos, not the paper's DINOv3-L value."""
    from rla_gym.envs.config import PAPER_SUCCESS_THRESHOLD

    meta = env.bundle.metadata
    assert env.cfg.success_threshold == meta["success_threshold"] != PAPER_SUCCESS_THRESHOLD
    calibration = meta["success_calibration"]
    assert calibration["demo_accuracy"] > 0.9 and calibration["hold_accuracy"] > 0.9
    # random targets: the goal L1 ranks them below the demo replays (AUC); where the cut falls is a trade-off the
    # card reports (version 2 counts 36 % of random replays as success, version 1 19 %), not a property to pin.
    # AUC measured: 0.90 on the RollBall-only stack, 0.85 on the zoo's stack shared by five tasks (issue 20)
    assert calibration["random_auc"] > 0.8 and calibration["random_accuracy"] > 0.5


def test_default_bundle_drives_the_env_and_actions_matter(env):
    """Both worlds start from the same demo frame; one replays the demo's own targets, the other holds still."""
    obs, _ = env.reset(seed=0, options={"demo": 0, "frame": 0})
    assert torch.equal(obs[0], obs[1])
    demos = env.bundle.demos
    k = env.cfg.chunk_size
    rewards = []
    for step in range(10):
        start = int(demos.episode_starts[0]) + min(step * k, int(demos.episode_lengths[0]) - k)
        replay = demos.targets[start : start + k]
        hold = demos.targets[int(demos.episode_starts[0])].expand(k, -1)
        obs, reward, terminated, truncated, info = env.step(torch.stack([replay, hold]).numpy())
        rewards.append(np.asarray(reward, dtype=np.float64))
        assert obs.dtype == torch.uint8 and obs.shape[1:] == (64, 64, 3)
        if step == 0:
            diff = (obs[0].float() - obs[1].float()).abs().mean()
            assert diff > 1.0, f"moving the arm and holding it still render alike (mean |diff| {diff:.2f})"
            assert reward[0] > reward[1], "replaying the demo earns more video-aligned reward than holding still"
    rewards = np.stack(rewards)
    assert np.isfinite(rewards).all() and rewards.std() > 0


def test_card_numbers_come_from_the_benchmark_json():
    results = json.loads((DEFAULT / "prediction_quality.json").read_text())
    card = (DEFAULT / "README.md").read_text()
    wm = next(name for name in results["models"] if name.startswith("RLA-WM"))
    assert f"{results['models'][wm]['horizons'][-1]['token_l1']:.4f}" in card


def test_shipped_bc_policy_is_found_beside_the_bundle_and_imitates_its_demos():
    from rla_gym.agents.bc import BCPolicy
    from rla_gym.train.wmrl import default_bc_path

    path = default_bc_path(DEFAULT)
    assert path.resolve() == (DEFAULT.parent / "ur10e-RollBall-cpu-bc").resolve()
    assert "library_name:" in (path / "README.md").read_text()
    policy = BCPolicy.from_pretrained(path, robot="ur10e")
    stack, demos = load_bundle(DEFAULT).stack.eval(), load_bundle(DEFAULT).demos
    k = policy.config.n_action_steps
    starts = [int(s) + t for s, n in zip(demos.episode_starts, demos.episode_lengths) for t in (0, int(n) // 2)]
    with torch.no_grad():
        images = stack.render(stack.encode(demos.frames[starts]))  # what the policy sees: encoder -> UNet
        chunks = policy.act(images)  # (B, K, A)
    truth = torch.stack([demos.targets[s : s + k] for s in starts])
    bc_error = (chunks - truth).abs().mean()
    constant_error = (demos.targets.mean(0) - truth).abs().mean()
    assert bc_error < 0.5 * constant_error, f"BC {bc_error:.3f} vs the mean action {constant_error:.3f}"
