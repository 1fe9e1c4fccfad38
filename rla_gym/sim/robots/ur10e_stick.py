"""ManiSkill agent `ur10e_stick`: the paper's UR10e with a 10 cm stick, 5-D padded joint-position action.

Facts from the reference (section 8.1); the URDF is generated at construction around ManiSkill's
downloaded UR10e meshes (`rla_gym.sim.robots.ur10e_stick_urdf`). Importing this module registers the uid.
"""

from __future__ import annotations

import numpy as np
import sapien
import torch
from mani_skill.agents.base_agent import BaseAgent, Keyframe
from mani_skill.agents.controllers import PDEEPoseControllerConfig, PDJointPosControllerConfig
from mani_skill.agents.registration import register_agent
from mani_skill.utils import sapien_utils

from rla_gym.sim.robots.assets import ensure_robot_assets, robot_asset_dir
from rla_gym.sim.robots.controllers import PaddedPDJointPosControllerConfig
from rla_gym.sim.robots.ur10e_stick_urdf import ARM_JOINTS, write_urdf
from rla_gym.specs.robots import UR10E

REST_HIGH = (0.10832267, -1.3466122, 1.7542601, -1.992004, -1.5525175, -0.0038689054)


def keyframe(qpos: tuple[float, ...]) -> Keyframe:
    """A keyframe at the base's own pose (the workspace places the base)."""
    return Keyframe(pose=sapien.Pose(), qpos=np.array(qpos, dtype=np.float32))


@register_agent(asset_download_ids=["ur10e"])
class UR10eStick(BaseAgent):
    """UR10e + stick. `pd_joint_pos`: 5 absolute radians (wrist_3 held at 0); `pd_joint_delta_pos`: 5 in [-1, 1]."""

    uid = "ur10e_stick"
    fix_root_link = True
    keyframes = dict(
        rest=keyframe(UR10E.rest_qpos),
        zeros=keyframe((0.0,) * UR10E.qpos_dim),
        rest_high=keyframe(REST_HIGH),
    )
    arm_joint_names = list(ARM_JOINTS)
    ee_link_name = "tcp"
    arm_stiffness = 1e3
    arm_damping = 1e2
    arm_friction = 0.1
    arm_force_limit = 100

    @classmethod
    def generated_urdf_path(cls) -> str:
        """Write (once) and return the URDF: it names ManiSkill's mesh folder, known only at run time."""
        ensure_robot_assets(UR10E)
        return str(write_urdf(robot_asset_dir(UR10E) / "assets"))

    def __init__(self, *args, **kwargs) -> None:
        self.urdf_path = self.generated_urdf_path()
        super().__init__(*args, **kwargs)

    @property
    def _controller_configs(self) -> dict:
        drive = dict(
            stiffness=self.arm_stiffness,
            damping=self.arm_damping,
            force_limit=self.arm_force_limit,
            friction=self.arm_friction,
        )
        joints = self.arm_joint_names
        frame = "root_translation:root_aligned_body_rotation"
        ee = dict(ee_link=self.ee_link_name, urdf_path=self.urdf_path, frame=frame, **drive)
        configs = dict(
            pd_joint_pos=PaddedPDJointPosControllerConfig(joints, None, None, normalize_action=False, **drive),
            pd_joint_delta_pos=PaddedPDJointPosControllerConfig(joints, -0.1, 0.1, use_delta=True, **drive),
            pd_joint_pos_6d=PDJointPosControllerConfig(joints, None, None, normalize_action=False, **drive),
            pd_joint_delta_pos_6d=PDJointPosControllerConfig(joints, -0.1, 0.1, use_delta=True, **drive),
            pd_ee_delta_pose=PDEEPoseControllerConfig(
                joints, -0.1, 0.1, rot_lower=-0.1, rot_upper=0.1, use_delta=True, use_target=True, **ee
            ),
            pd_ee_pose=PDEEPoseControllerConfig(
                joints, -1.0, 1.0, rot_lower=-np.pi, rot_upper=np.pi, use_delta=False, normalize_action=False, **ee
            ),
        )
        return {mode: dict(arm=config) for mode, config in configs.items()}  # one `arm` entry each

    def _after_loading_articulation(self) -> None:
        # The stick's base sits inside wrist_3's collision cylinder (they are rigidly fixed together);
        # a shared group-2 bit stops the solver from fighting that constant self-contact.
        for name in ("wrist_2_link", "wrist_3_link", "stick_link"):
            self.robot.links_map[name].set_collision_group_bit(group=2, bit_idx=30, bit=1)

    def _after_init(self) -> None:
        self.tcp = sapien_utils.get_obj_by_name(self.robot.get_links(), self.ee_link_name)

    def is_static(self, threshold: float = 0.2) -> torch.Tensor:
        """True per env when every joint speed is at most `threshold` rad/s."""
        return torch.max(torch.abs(self.robot.get_qvel()), dim=1)[0] <= threshold

    @property
    def tcp_pos(self) -> torch.Tensor:
        return self.tcp.pose.p

    @property
    def tcp_pose(self):
        return self.tcp.pose
