"""A PD joint-position controller whose action omits the last joint(s): the UR10e stick's 5-D action.

The stick lies on the wrist_3 axis, so wrist_3 cannot move the tip and the paper's policies command
only the first five joints. The padded joints get a zero: in absolute mode their target is 0.0, in
delta mode their target stays where they are (current qpos + 0, or the previous target + 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces
from mani_skill.agents.controllers.pd_joint_pos import PDJointPosController, PDJointPosControllerConfig


class PaddedPDJointPosController(PDJointPosController):
    """`PDJointPosController` on all its joints, driven by an action for all but the last `num_padded`."""

    config: PaddedPDJointPosControllerConfig

    def _initialize_action_space(self) -> None:
        super()._initialize_action_space()
        n = len(self.joints) - self.config.num_padded
        full = self.single_action_space
        self.single_action_space = spaces.Box(full.low[:n], full.high[:n], dtype=np.float32)

    def _preprocess_action(self, action: torch.Tensor) -> torch.Tensor:
        action = super()._preprocess_action(action)  # (num_envs, n), scaled when normalized
        pad = torch.zeros(*action.shape[:-1], self.config.num_padded, dtype=action.dtype, device=action.device)
        return torch.cat([action, pad], dim=-1)  # (num_envs, n + num_padded)


@dataclass
class PaddedPDJointPosControllerConfig(PDJointPosControllerConfig):
    num_padded: int = 1
    controller_cls = PaddedPDJointPosController
