"""Object- and motion-weighted losses: the pixels and tokens that decide the task count more."""

from __future__ import annotations

import pytest
import torch

from rla_gym.train.build import TaskOptions
from rla_gym.train.pairs import token_loss
from rla_gym.train.unet import image_loss, object_pixel_weights


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
        ({"model": "unet", "motion_weight": 1.0}, "applies to rla and regression, not unet"),
        ({"model": "bc", "finetune": True}, "BC starts from"),
        ({"model": "unet", "object_weight": -1.0}, "--object-weight must be >= 0"),
    ],
)
def test_task_options_refuse_a_weight_for_a_model_it_does_not_apply_to(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        TaskOptions(init="x", data=tmp_path, **kwargs)
