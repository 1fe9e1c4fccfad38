"""Pair sampler: shapes, horizon range, the 0.9 interaction bias, the driving action rows, seeding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rla_gym.data import PairSampler, PairSamplerConfig


def _episodes(lengths, action_dims=None, moved=None):
    """Actions whose row t holds the value t in every column, so a chunk tells which rows it took."""
    action_dims = action_dims or [5] * len(lengths)
    actions = [np.repeat(np.arange(t, dtype=np.float32)[:, None], a, axis=1) for t, a in zip(lengths, action_dims)]
    flags = moved or [np.zeros(t, bool) for t in lengths]
    tokens = [torch.arange(t, dtype=torch.float16)[:, None, None].expand(t, 4, 3).clone() for t in lengths]
    return actions, flags, tokens


def test_batch_has_the_documented_shapes_and_driving_rows():
    actions, flags, tokens = _episodes([30, 25], action_dims=[5, 8])
    sampler = PairSampler(actions, flags, PairSamplerConfig(max_horizon=15), seed=0)
    batch = sampler.sample(16, tokens)
    assert batch.states_t.shape == (16, 4, 3) and batch.states_next.shape == (16, 4, 3)  # (B, L, C)
    assert batch.states_t.dtype == torch.float32
    assert batch.actions.shape == (16, 15, 8)  # (B, max_h, widest A)
    assert batch.lengths.shape == (16,) and batch.mask.shape == (16, 15)
    idx = batch.index
    for b in range(16):
        t, h = int(idx.t[b]), int(idx.h[b])
        assert batch.states_t[b, 0, 0] == t and batch.states_next[b, 0, 0] == t + h
        width = 5 if idx.episode[b] == 0 else 8
        expected = torch.zeros(15, 8)
        expected[:h, :width] = torch.arange(t, t + h, dtype=torch.float32)[:, None]  # rows t .. t+h-1
        torch.testing.assert_close(batch.actions[b], expected)
        assert batch.mask[b].tolist() == [True] * h + [False] * (15 - h)
    assert torch.equal(batch.lengths, torch.as_tensor(idx.h))


def test_horizon_stays_in_range_and_fits_the_episode():
    actions, flags, _ = _episodes([40, 6])
    sampler = PairSampler(actions, flags, PairSamplerConfig(min_horizon=3, max_horizon=7), seed=1)
    idx = sampler.sample_index(4000)
    assert idx.h.min() == 3 and idx.h.max() == 7
    assert set(np.unique(idx.h)) == set(range(3, 8))
    lengths = np.array([40, 6])[idx.episode]
    assert np.all(idx.t >= 0) and np.all(idx.t + idx.h <= lengths - 1)


def test_episodes_too_short_for_min_horizon_are_never_drawn():
    actions, flags, _ = _episodes([40, 4])
    sampler = PairSampler(actions, flags, PairSamplerConfig(min_horizon=5, max_horizon=9), seed=2)
    assert set(sampler.sample_index(500).episode.tolist()) == {0}


@pytest.mark.parametrize("prob", [0.9, 0.0])
def test_start_frames_follow_the_interaction_bias(prob):
    moved = np.zeros(100, bool)
    moved[20:30] = True  # 10 interaction frames out of ~96 valid starts
    actions, _, _ = _episodes([100])
    sampler = PairSampler(actions, [moved], PairSamplerConfig(max_horizon=5, interaction_prob=prob), seed=3)
    idx = sampler.sample_index(20000)
    share = moved[idx.t].mean()
    uniform_share = np.mean([10 / (100 - h) for h in range(1, 6)])
    expected = prob + (1 - prob) * uniform_share  # 0.910 with the bias, 0.103 without
    assert abs(share - expected) < 0.01


def test_same_seed_same_pairs_other_seed_other_pairs():
    actions, flags, _ = _episodes([50, 60, 70])
    flags[1][10:20] = True
    a = PairSampler(actions, flags, seed=7).sample_index(64)
    b = PairSampler(actions, flags, seed=7).sample_index(64)
    c = PairSampler(actions, flags, seed=8).sample_index(64)
    for name in ("episode", "t", "h"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.t, c.t)


def test_an_episode_whose_states_fail_is_excluded_and_redrawn(caplog):
    actions, flags, tokens = _episodes([20, 20])

    class Broken(list):
        def __getitem__(self, i):
            if i == 1:
                raise KeyError("no tokens for episode 1")
            return super().__getitem__(i)

    sampler = PairSampler(actions, flags, seed=0)
    batch = sampler.sample(32, Broken(tokens))
    assert set(batch.index.episode.tolist()) == {0}
    assert "episode 1" in caplog.text


def test_config_rejects_a_bad_horizon_range():
    with pytest.raises(ValueError, match=r"horizon range \[5, 2\]"):
        PairSamplerConfig(min_horizon=5, max_horizon=2)
