"""Register the paper's three robots with ManiSkill. Import this module before `gym.make`.

- `ur10e_stick`: new uid (`rla_gym.sim.robots.ur10e_stick`).
- `xarm6_robotiq` and `panda`: subclasses of ManiSkill's agents registered with `override=True`
  under the same uid, as the paper's code does (reference 8.1), so in this process those uids mean
  the paper's variants: xArm6 with softer arm drives, a 100 N gripper, its own rest keyframes and
  one-finger grasp detection; Panda whose `pd_joint_pos` gripper value is the raw finger target in
  metres (not normalized), so its 8-D action is absolute like the arm's.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from copy import deepcopy

import torch
from mani_skill.agents.registration import register_agent
from mani_skill.agents.robots.panda.panda import Panda
from mani_skill.agents.robots.xarm6.xarm6_robotiq import XArm6Robotiq
from mani_skill.utils import common
from mani_skill.utils.logging_utils import logger as maniskill_logger
from mani_skill.utils.structs.actor import Actor

from rla_gym.sim.robots.assets import RobotAssetsMissing, ensure_robot_assets
from rla_gym.sim.robots.ur10e_stick import UR10eStick, keyframe
from rla_gym.specs.robots import PANDA, XARM6_ROBOTIQ, RobotSpec, get_robot

__all__ = [
    "AGENT_CLASSES",
    "PandaRLA",
    "RobotAssetsMissing",
    "UR10eStick",
    "XArm6RobotiqRLA",
    "agent_class",
    "ensure_robot_assets",
]


def _finger_pushes(agent, finger, obj: Actor, opening_sign: float, min_force: float, max_angle: float):
    """Per env: the finger presses on `obj` with at least `min_force` N, within `max_angle` deg of closing."""
    forces = agent.scene.get_pairwise_contact_forces(finger, obj)  # (B, 3)
    opening = opening_sign * finger.pose.to_transformation_matrix()[..., :3, 1]
    angle = common.compute_angle_between(opening, forces)
    return (torch.linalg.norm(forces, dim=1) >= min_force) & (torch.rad2deg(angle) <= max_angle)


@contextmanager
def _expected_override() -> Iterator[None]:
    """Silence ManiSkill's "Overriding registered agent" warning: overriding is the point here."""
    level = maniskill_logger.level
    maniskill_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # ManiSkill calls logger.warn
            yield
    finally:
        maniskill_logger.setLevel(level)


_XARM_GRIPPER_REST = (0.0,) * 6


class XArm6RobotiqRLA(XArm6Robotiq):
    """ManiSkill's xArm6 + Robotiq 2F-85 with the paper's keyframes, drives and grasp test."""

    uid = "xarm6_robotiq"
    keyframes = dict(
        rest=keyframe(XARM6_ROBOTIQ.rest_qpos),
        zeros=keyframe((0.0,) * XARM6_ROBOTIQ.qpos_dim),
        rest_high=keyframe(
            (0.1010212, 0.34049365, -1.6935898, 0.044812873, 1.3688554, 0.07900385) + _XARM_GRIPPER_REST
        ),
    )
    arm_stiffness = 1e3
    arm_damping = 1e2
    arm_force_limit = 100
    gripper_force_limit = 100

    def is_grasping(self, object: Actor, min_force: float = 0.5, max_angle: float = 85) -> torch.Tensor:
        """Either finger pad pressing on `object` counts (upstream needs both)."""
        left = _finger_pushes(self, self.finger1_link, object, 1.0, min_force, max_angle)
        right = _finger_pushes(self, self.finger2_link, object, 1.0, min_force, max_angle)
        return left | right


class PandaRLA(Panda):
    """ManiSkill's Panda with the paper's keyframes and an absolute (metres) gripper in `pd_joint_pos`."""

    uid = "panda"
    keyframes = dict(
        rest=keyframe(PANDA.rest_qpos),
        rest_high=keyframe(
            (-0.011018545, 0.2489883, -0.015446769, -1.8937913, -0.026205156, 2.116052, 0.8045866)
            + (0.039999723, 0.039999723)
        ),
    )

    @property
    def _controller_configs(self) -> dict:
        configs = super()._controller_configs
        for mode in ("pd_joint_pos", "pd_ee_pose"):
            gripper = deepcopy(configs[mode]["gripper"])
            gripper.normalize_action = False  # raw finger target in [-0.01, 0.04] m
            configs[mode]["gripper"] = gripper
        return configs

    def is_grasping(self, object: Actor, min_force: float = 0.5, max_angle: float = 85) -> torch.Tensor:
        """Either finger pressing on `object` counts (the paper's rule)."""
        left = _finger_pushes(self, self.finger1_link, object, 1.0, min_force, max_angle)
        right = _finger_pushes(self, self.finger2_link, object, -1.0, min_force, max_angle)
        return left | right


with _expected_override():
    register_agent(asset_download_ids=["xarm6"], override=True)(XArm6RobotiqRLA)
    register_agent(override=True)(PandaRLA)

AGENT_CLASSES: dict[str, type] = {"ur10e": UR10eStick, "xarm6_robotiq": XArm6RobotiqRLA, "panda": PandaRLA}


def agent_class(robot: str | RobotSpec) -> type:
    """The ManiSkill agent class registered for one of our robots (by name, uid or spec)."""
    spec = get_robot(robot) if isinstance(robot, str) else robot
    return AGENT_CLASSES[spec.name]
