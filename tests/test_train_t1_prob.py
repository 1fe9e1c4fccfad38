"""`--t1-prob`: a share of RLA-WM's flow-matching samples at t = 1, the time a one-Euler-step sampler evaluates."""

from __future__ import annotations

import pytest
import torch

from rla_gym.models import RLAAutoencoder, RLAWorldModel, tiny_config
from rla_gym.train.build import TaskOptions
from rla_gym.train.wm import WMModule

CFG = tiny_config("ur10e")
L, C = CFG.encoder.num_patches, CFG.encoder.hidden_size


def _times(t1_prob: float, b: int = 400, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The times the flow network is asked about, with x_t and eps for the same draws."""
    wm = RLAWorldModel(CFG.world_model)
    seen = {}

    def velocity(tokens, qpos, lengths, robot, x_t, t):
        seen["t"], seen["x_t"] = t, x_t
        return torch.zeros_like(x_t)

    wm.forward = velocity
    x0 = torch.zeros(b, CFG.num_latent_tokens, CFG.world_model.token_dim)
    g = torch.Generator().manual_seed(seed)
    wm.flow_matching_terms(torch.zeros(b, L, C), torch.zeros(b, 4, 6), torch.full((b,), 4), "2", x0, generator=g,
                           t1_prob=t1_prob)  # fmt: skip
    return seen["t"], seen["x_t"], x0


def test_logit_normal_time_almost_never_reaches_the_one_step_samplers_t1():
    t, _, _ = _times(0.0)
    assert (t > 0.95).float().mean() < 0.02 and not (t == 1).any()


def test_t1_prob_draws_that_share_of_the_batch_at_t1_from_pure_noise():
    t, x_t, x0 = _times(0.5)
    at_one = t == 1
    assert 0.4 < at_one.float().mean() < 0.6
    assert x_t[at_one].std() == pytest.approx(1.0, abs=0.05)  # x_1 is the noise alone, x0 (zeros) is gone
    t_all, _, _ = _times(1.0)
    assert (t_all == 1).all()


def test_t1_prob_zero_keeps_the_reference_draws():
    reference, _, _ = _times(0.0, seed=3)
    t, _, _ = _times(0.0, seed=3)
    torch.testing.assert_close(t, reference)
    others = _times(0.5, seed=3)[0]
    assert not torch.equal(others, reference)


def test_the_trainer_passes_its_t1_prob_and_options_refuse_a_bad_one(monkeypatch):
    wm, rla = RLAWorldModel(CFG.world_model), RLAAutoencoder(CFG.rla_encoder, CFG.rla_decoder)
    seen = []
    terms = wm.flow_matching_terms
    monkeypatch.setattr(wm, "flow_matching_terms", lambda *a, **k: seen.append(k.get("t1_prob")) or terms(*a, **k))
    batch = {"s_t": torch.randn(2, L, C), "s_next": torch.randn(2, L, C), "qpos": torch.randn(2, 4, 6),
             "lengths": torch.tensor([4, 2])}  # fmt: skip
    WMModule(wm, rla, "ur10e", 2.0, t1_prob=0.25)(batch)
    assert seen == [0.25]
    with pytest.raises(ValueError, match="probability"):
        WMModule(wm, rla, "ur10e", 2.0, t1_prob=2.0)
    with pytest.raises(ValueError, match="applies to wm, not regression"):
        TaskOptions(model="regression", init="x", data=".", t1_prob=0.5)
    with pytest.raises(ValueError, match="--t1-prob: expected"):
        TaskOptions(model="wm", init="x", data=".", t1_prob=-1.0)
