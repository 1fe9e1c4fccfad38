"""Commanded joint targets -> the full qpos the world model is conditioned on (reference 4.6), per robot."""

from __future__ import annotations

import pytest
import torch

from rla_gym.specs.robots import PANDA, UR10E, XARM6_ROBOTIQ


def test_ur10e_arm_passes_through_and_wrist_3_keeps_its_rest_value():
    targets = torch.tensor([[0.1, -0.2, 0.3, -0.4, 0.5]])
    full = UR10E.to_full_qpos(targets)
    assert full.shape == (1, 6)
    torch.testing.assert_close(full[0, :5], targets[0])
    assert full[0, 5].item() == UR10E.rest_qpos[5] == 0.0


def test_panda_gripper_is_clamped_to_its_range_and_copied_onto_both_fingers():
    arm = [0.1, 0.2, 0.3, -1.0, 0.5, 1.0, 0.7]
    targets = torch.tensor([arm + [0.05], arm + [-0.01], arm + [0.02]])  # beyond open, beyond closed, half
    full = PANDA.to_full_qpos(targets)
    assert full.shape == (3, 9)
    torch.testing.assert_close(full[:, :7], targets[:, :7])
    torch.testing.assert_close(full[:, 7], torch.tensor([0.04, 0.0, 0.02]))
    torch.testing.assert_close(full[:, 8], full[:, 7])


def test_xarm6_gripper_drives_its_mimic_joints():
    arm = [0.1, 0.2, -0.3, 0.4, 0.5, 0.6]
    targets = torch.tensor([arm + [0.9], arm + [0.405], arm + [-0.2]])  # beyond closed, half, beyond open
    full = XARM6_ROBOTIQ.to_full_qpos(targets)
    assert full.shape == (3, 12)
    torch.testing.assert_close(full[:, :6], targets[:, :6])
    outer = torch.tensor([0.81, 0.405, 0.0])
    inner = torch.tensor([0.88, 0.44, 0.0])
    expected = torch.stack([outer, inner, outer, inner, -inner, -inner], dim=1)  # qpos 6..11
    torch.testing.assert_close(full[:, 6:], expected)


def test_leading_dimensions_are_kept_and_a_wrong_width_is_refused():
    assert PANDA.to_full_qpos(torch.zeros(2, 8, 8)).shape == (2, 8, 9)
    with pytest.raises(ValueError, match="joint targets have last dimension 5; panda expects 8"):
        PANDA.to_full_qpos(torch.zeros(8, 5))
