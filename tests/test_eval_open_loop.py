"""Open-loop rollout and scoring, once (`rla_gym.eval.open_loop`): predictions are fed back, noise is drawn in a
fixed order from a seeded generator, and the scores are those of the renders against the real frames."""

from __future__ import annotations

import math

import pytest
import torch

from rla_gym.eval import open_loop
from rla_gym.models.dynamics import CopyDynamics, Dynamics


@pytest.fixture(scope="module")
def stack():
    from rla_gym.models.random_bundle import make_random_bundle

    return make_random_bundle("ur10e", "tiny", episodes=2, length=12, seed=0).stack


@pytest.fixture(scope="module")
def data(stack):
    g = torch.Generator().manual_seed(1)
    start = torch.randn(3, stack.num_tokens, stack.token_dim, generator=g)  # (B, L, C)
    chunks = 0.3 * torch.randn(3, 2, 8, 5, generator=g)  # (B, N, K, A)
    return start, chunks


class AddMeanTarget(Dynamics):
    """A deterministic stand-in: next tokens = tokens + the chunk's mean target (recorded in full qpos)."""

    name = "add"

    def step_qpos(self, tokens, qpos, lengths, noise):
        return tokens + qpos.mean(dim=(1, 2))[:, None, None]


def test_rollout_feeds_each_prediction_back(stack, data):
    start, chunks = data
    dyn = AddMeanTarget("ur10e", stack.token_dim, 15)
    preds = open_loop.rollout(dyn, start, chunks)
    assert preds.shape == (3, 2, stack.num_tokens, stack.token_dim)
    step1 = start + stack.robot.to_full_qpos(chunks[:, 0]).mean(dim=(1, 2))[:, None, None]
    step2 = step1 + stack.robot.to_full_qpos(chunks[:, 1]).mean(dim=(1, 2))[:, None, None]
    assert torch.allclose(preds[:, 0], step1) and torch.allclose(preds[:, 1], step2)
    assert torch.equal(open_loop.rollout(dyn, start, chunks, batch=2), preds), "batches change nothing here"
    ragged = open_loop.rollout(dyn, start, [chunks[:, 0], chunks[:, 1, :3]])  # a shorter last chunk
    step2_short = step1 + stack.robot.to_full_qpos(chunks[:, 1, :3]).mean(dim=(1, 2))[:, None, None]
    assert torch.equal(ragged[:, 0], preds[:, 0]) and torch.allclose(ragged[:, 1], step2_short)
    with pytest.raises(ValueError, match="same B"):
        open_loop.rollout(dyn, start, chunks[:2])


def test_rla_wm_rollout_draws_seeded_noise_per_batch_then_chunk(stack, data):
    start, chunks = data
    dyn = stack.dynamics(1)
    preds = open_loop.rollout(dyn, start, chunks, batch=2, seed=5)
    gen = torch.Generator().manual_seed(5)
    expected = []
    for s, c in ((start[:2], chunks[:2]), (start[2:], chunks[2:])):
        for k in range(2):
            s = dyn(s, c[:, k], torch.randn(s.shape[0], *dyn.noise_shape, generator=gen))
            expected.append((s, k))
    assert torch.equal(preds[:2, 0], expected[0][0]) and torch.equal(preds[:2, 1], expected[1][0])
    assert torch.equal(preds[2:, 0], expected[2][0]) and torch.equal(preds[2:, 1], expected[3][0])
    assert not torch.equal(open_loop.rollout(dyn, start, chunks, batch=2, seed=6), preds)


def test_score_is_zero_error_on_the_truth_and_grows_off_it(stack, data):
    start, chunks = data
    real = open_loop.rollout(stack.dynamics(1), start, chunks)  # stands in for the real tokens
    frames = torch.stack([stack.render(real[:, k]) for k in range(2)], dim=1)  # (B, N, H, W, 3)
    exact = open_loop.score(stack, real, real, frames, chunk=8)
    assert [r["horizon"] for r in exact] == [8, 16]
    assert all(r["token_l1"] == 0 and r["ssim"] == pytest.approx(1.0) and math.isinf(r["psnr"]) for r in exact)
    copy = open_loop.rollout(CopyDynamics("ur10e", stack.token_dim, 15), start, chunks)
    off = open_loop.score(stack, copy, real, frames, chunk=8, batch=2)
    assert off[0]["token_l1"] == pytest.approx(float((start - real[:, 0]).abs().mean()))
    assert all(r["ssim"] < 0.999 and 0 < r["psnr"] < 100 for r in off)
    whole = open_loop.score(stack, copy, real, frames, chunk=8)
    for a, b in zip(whole, off):
        assert a == pytest.approx(b, rel=1e-4), "batching the renders changes the scores by rounding only"
    with pytest.raises(ValueError, match="disagree"):
        open_loop.score(stack, copy, real[:, :1], frames, chunk=8)


def test_predictors_are_rla_wm_regression_when_shipped_and_copy(stack):
    from rla_gym.models.regression import RegressionConfig, RegressionWorldModel

    assert list(open_loop.predictors(stack, euler_steps=3)) == ["RLA-WM (3 Euler)", "copy first frame"]
    regression = RegressionWorldModel(RegressionConfig.matching(stack.config))
    names = list(open_loop.predictors(stack, regression))
    assert names == [f"RLA-WM ({stack.config.euler_steps} Euler)", "regression", "copy first frame"]


def test_strip_and_plot(stack, data, tmp_path):
    start, chunks = data
    preds = {name: open_loop.rollout(d, start, chunks) for name, d in open_loop.predictors(stack).items()}
    frames = torch.zeros(3, 3, stack.image_size, stack.image_size, 3, dtype=torch.uint8)
    image = open_loop.strip(stack, frames, start, preds, rows=2)
    size = stack.image_size
    assert image.shape == (2 * (2 * size + 4), 3 * size, 3), "per world: real row, RLA-WM row (copy left out), band"
    curves = {"demos": {name: open_loop.score(stack, p, p, frames[:, 1:], chunk=8) for name, p in preds.items()}}
    assert open_loop.plot_error_vs_horizon(curves, tmp_path / "plot.png").stat().st_size > 1000
