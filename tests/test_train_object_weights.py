"""Object- and motion-weighted losses: the pixels and tokens that decide the task count more."""

from __future__ import annotations

import pytest
import torch

from rla_gym.models import RLAAutoencoder, RLAWorldModel, tiny_config
from rla_gym.train.build import TaskOptions
from rla_gym.train.pairs import token_loss
from rla_gym.train.unet import image_loss, object_pixel_weights
from rla_gym.train.wm import WMModule

CFG = tiny_config("ur10e")
L, C = CFG.encoder.num_patches, CFG.encoder.hidden_size


def test_unweighted_token_loss_is_the_reference_l1_plus_mse():
    pred, target, s_t = torch.randn(4, 6, 8), torch.randn(4, 6, 8), torch.randn(4, 6, 8)
    plain = torch.nn.functional.l1_loss(pred, target) + torch.nn.functional.mse_loss(pred, target)
    assert token_loss(pred, target, s_t, 0.0) == pytest.approx(float(plain))


def test_motion_weight_makes_an_error_on_a_moving_token_cost_more_than_on_a_static_one():
    s_t = torch.zeros(1, 4, 8)
    target = s_t.clone()
    target[0, 0] = 1.0  # token 0 moves, tokens 1-3 do not
    wrong_moving, wrong_static = target.clone(), target.clone()
    wrong_moving[0, 0] += 0.5
    wrong_static[0, 1] += 0.5
    assert token_loss(wrong_moving, target, s_t, 0.0) == pytest.approx(float(token_loss(wrong_static, target, s_t, 0)))
    assert token_loss(wrong_moving, target, s_t, 8.0) > 3 * token_loss(wrong_static, target, s_t, 8.0)


def test_object_pixels_weigh_more_in_the_unet_loss_and_the_weights_cover_the_soft_edge():
    labels = torch.zeros(1, 16, 16, dtype=torch.uint8)
    labels[0, 7:9, 7:9] = 1
    w = object_pixel_weights(labels, 30.0)
    assert w.shape == (1, 1, 16, 16) and w[0, 0, 6, 6] == 31 and w[0, 0, 0, 0] == 1  # dilated by one pixel
    target = torch.full((1, 3, 16, 16), 0.5)
    target[:, 2, 7:9, 7:9] = 1.0  # a blue object
    grey = target.clone()
    grey[:, :, 7:9, 7:9] = 0.5  # rendered grey
    plain, _ = image_loss(grey, target)
    weighted, _ = image_loss(grey, target, w)
    assert weighted > 2 * plain  # (the SSIM term is the same in both)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "rla", "object_weight": 1.0}, "applies to unet, not rla"),
        ({"model": "unet", "motion_weight": 1.0}, "applies to rla, regression, wm; not unet"),
        ({"model": "wm", "motion_weight": 1.0}, "give --token-weight > 0 too"),
        ({"model": "rla", "token_weight": 1.0}, "applies to wm, not rla"),
        ({"model": "bc", "finetune": True}, "BC starts from"),
        ({"model": "unet", "object_weight": -1.0}, "--object-weight must be >= 0"),
    ],
)
def test_task_options_refuse_a_weight_for_a_model_it_does_not_apply_to(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        TaskOptions(init="x", data=tmp_path, **kwargs)


def test_the_x0_estimate_is_the_target_latent_when_the_velocity_is_exact():
    """x_t - t v recovers x0 (up to sigma_min eps) for the true velocity: the sign and scale the token term needs."""
    torch.manual_seed(0)
    wm = RLAWorldModel(CFG.world_model)
    x0 = torch.randn(3, CFG.num_latent_tokens, CFG.world_model.token_dim)
    sigma = 1e-5

    def exact_velocity(tokens, qpos, lengths, robot, x_t, t):  # eps solved back out of x_t, then the target
        tt = t[:, None, None]
        eps = (x_t - (1 - tt) * x0) / (sigma + (1 - sigma) * tt)
        return (1 - sigma) * eps - x0

    wm.forward = exact_velocity
    loss, x0_hat = wm.flow_matching_terms(
        torch.randn(3, L, C), torch.randn(3, 8, 6), torch.tensor([8, 4, 1]), "2", x0, sigma
    )
    assert float(loss) < 1e-5
    torch.testing.assert_close(x0_hat, x0, atol=1e-4, rtol=0)


def test_the_token_term_trains_the_world_model_through_the_frozen_rla_decoder():
    torch.manual_seed(0)
    wm, rla = RLAWorldModel(CFG.world_model), RLAAutoencoder(CFG.rla_encoder, CFG.rla_decoder)
    for p in [*wm.parameters(), *rla.parameters()]:  # no zero-init output layer: the decoder must read z
        torch.nn.init.normal_(p, std=0.05)
    s_t = torch.randn(2, L, C)
    batch = {"s_t": s_t, "s_next": s_t + 0.3, "qpos": torch.randn(2, 8, 6), "lengths": torch.tensor([8, 3])}
    plain, with_tokens = WMModule(wm, rla, "ur10e", 2.0), WMModule(wm, rla, "ur10e", 2.0, token_weight=1.0)
    torch.manual_seed(1)
    flow_only, info = plain(batch)
    assert info == {}
    torch.manual_seed(1)
    total, info = with_tokens(batch)
    assert info["tokens"] > 0 and float(total.detach()) == pytest.approx(info["flow"] + info["tokens"], rel=1e-5)
    # same draws: the term is added, not swapped
    assert info["flow"] == pytest.approx(float(flow_only.detach()), rel=1e-6)
    total.backward()
    assert all(p.grad is None for p in rla.parameters())  # the latent space stays fixed
    grads = [p.grad.clone() for p in wm.flow_blocks.parameters()]
    wm.zero_grad()
    flow_only.backward()
    changed = [not torch.allclose(g, p.grad) for g, p in zip(grads, wm.flow_blocks.parameters()) if p.grad is not None]
    assert sum(changed) > len(changed) // 2  # the token term reaches the flow blocks, not only the output layer
