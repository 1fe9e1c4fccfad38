"""Object and outcome metrics: they must tell a model that moves the object from one that does not."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rla_gym.data import synthetic_episode
from rla_gym.eval.object_pixels import object_pixels
from rla_gym.eval.object_probe import fit_probe, position_error_cm, success_from_positions, xy_positions
from rla_gym.eval.outcome import outcome_score
from rla_gym.eval.sharpness import laplacian_energy, sample_collapse, sharpness_ratio


@pytest.fixture(scope="module")
def pushed():
    """Episodes whose disc is pushed (steps 4-12 of 16) at the tiny stack's size."""
    return [synthetic_episode(16, 48, move=(4, 12), seed=s) for s in range(24)]


def _encode(stack, frames: np.ndarray) -> torch.Tensor:
    with torch.no_grad():
        return stack.encode(torch.from_numpy(frames))


def test_outcome_score_ranks_the_real_outcome_over_copying_the_start(tiny_stack, pushed):
    """Real final frame: disc pushed; counterfactual: the same final arm, disc left at its start. A model that
    predicts the push resolves the gap (1), one that copies the start frame does not (< 0)."""
    real, cf, start = [], [], []
    for seed, ep in enumerate(pushed):
        still = synthetic_episode(16, 48, move=(16, 16), seed=seed)  # same targets and arm, disc never moves
        real.append(ep.frames[-1])
        cf.append(still.frames[-1])
        start.append(ep.frames[0])
    real_t, cf_t = _encode(tiny_stack, np.stack(real)), _encode(tiny_stack, np.stack(cf))
    oracle = outcome_score(real_t, real_t, cf_t)
    assert oracle.mean_resolved == pytest.approx(1.0) and oracle.closer_rate == 1.0
    counterfactual = outcome_score(cf_t, real_t, cf_t)
    assert counterfactual.mean_resolved == pytest.approx(-1.0) and counterfactual.closer_rate == 0.0
    # the arm's final pose predicted, the disc not: about as far from both (closer to the counterfactual)
    arm_only = outcome_score(cf_t + 0.05 * torch.randn_like(cf_t), real_t, cf_t)
    assert arm_only.mean_resolved < 0.2
    # two noise draws per episode flatten to E * D rollouts
    assert outcome_score(torch.stack([real_t, cf_t], 1), real_t, cf_t).resolved.shape == (2 * len(pushed),)
    with pytest.raises(ValueError, match="did not move"):
        outcome_score(real_t, real_t, real_t)


def test_probe_reads_the_disc_position_from_tokens_and_fails_on_shuffled_labels(tiny_stack, pushed):
    tokens = torch.cat([_encode(tiny_stack, ep.frames) for ep in pushed])  # (N, L, C)
    xy = torch.from_numpy(np.concatenate([xy_positions(ep.task_object_poses) for ep in pushed]))  # (N, 2)
    groups = np.repeat(np.arange(len(pushed)), 16)
    train, test = groups < 18, groups >= 18  # held-out episodes
    probe = fit_probe(tokens[train], xy[train], groups[train])
    err = position_error_cm(probe(tokens[test]), xy[test], 1).mean()
    spread = position_error_cm(xy[train].mean(0).expand_as(xy[test]), xy[test], 1).mean()  # predict the mean
    assert err < 0.65 * spread, (err, spread)  # a tiny random encoder: far from perfect, far from chance
    shuffled = xy[train][torch.from_numpy(np.random.default_rng(0).permutation(int(train.sum())))]
    bad = fit_probe(tokens[train], shuffled, groups[train])
    bad_err = position_error_cm(bad(tokens[test]), xy[test], 1).mean()
    assert bad_err > 0.8 * spread, (bad_err, spread)


def test_success_from_positions_uses_the_distance_between_object_and_goal():
    pos = torch.tensor([[0.0, 0.0, 0.05, 0.0], [0.0, 0.0, 0.2, 0.0]])  # (ball xy, goal xy)
    np.testing.assert_array_equal(success_from_positions(pos, 0.1), [True, False])


def test_object_pixels_see_a_vanished_object_and_a_kept_one(pushed):
    ep = pushed[0]
    real, labels = ep.frames, ep.object_labels
    kept = object_pixels(real, real, labels, ep.object_names)[0]
    assert kept.rgb_l1 == 0 and kept.contrast_ratio == pytest.approx(1.0) and kept.mask_iou > 0.95
    # paint the disc over with its surroundings' colour: the whole frame barely changes, the object is gone
    gone = real.copy()
    floor = real[0, 2, 2]
    gone[labels > 0] = floor
    lost = object_pixels(real, gone, labels, ep.object_names)[0]
    assert lost.contrast_ratio < 0.5 and lost.mask_iou < 0.2 and lost.rgb_l1 > 50
    assert np.abs(gone.astype(int) - real).mean() < 10  # the whole frame hides it
    absent = object_pixels(real, real, np.zeros_like(labels), ep.object_names)[0]
    assert absent.frames == 0


def test_sharpness_ratio_falls_for_blurred_renders_and_collapse_for_identical_samples(pushed):
    frames = torch.from_numpy(np.stack([ep.frames[-1] for ep in pushed])).permute(0, 3, 1, 2).float() / 255
    blurred = torch.nn.functional.avg_pool2d(frames, 5, stride=1, padding=2)
    assert sharpness_ratio(frames, frames) == pytest.approx(1.0)
    assert sharpness_ratio(blurred, frames) < 0.5
    assert laplacian_energy(frames).shape == (len(pushed),)
    target = torch.randn(4, 6, 8)
    same = sample_collapse(target[None].repeat(3, 1, 1, 1) + 0.3, target)
    assert same["collapse_ratio"] == pytest.approx(1.0)
    spread = sample_collapse(target[None] + 0.3 * torch.randn(16, 4, 6, 8), target)
    assert spread["collapse_ratio"] < 0.5
