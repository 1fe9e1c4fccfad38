"""Robot facts: what every part of rla-gym needs to know about a robot, with no torch or simulator import.

The world model is conditioned on the robot's *full* qpos, derived from the commanded joint targets
(the policy's action) the way the paper's authors do it (reference section 4.6): arm joints pass
through, grippers are clamped into their range and copied onto their mimic joints, and joints the
action does not drive take their rest-keyframe value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

PI = math.pi

# The released RLA-WM conditions on joint targets through a buffer of this many rows (its `max_horizon`):
# an action chunk, and a training horizon h, hold at most this many steps.
WM_ACTION_BUFFER = 15

# K: joint-target rows per action chunk, for every robot (the paper's 8): what the env steps per action and the
# policies output per decision. The one home of this number; everything else imports it.
CHUNK_SIZE = 8


@dataclass(frozen=True)
class RobotSpec:
    """One robot as the world model and the simulator see it."""

    name: str  # our name: "ur10e", "xarm6_robotiq", "panda"
    maniskill_uid: str  # ManiSkill agent uid
    robot_id: int  # the released RLA-WM's robot index (0 panda, 1 xarm6_robotiq, 2 ur10e_stick)
    action_dim: int  # joint targets per action row (pd_joint_pos)
    qpos_dim: int  # full qpos the world model is conditioned on
    action_low: tuple[float, ...]
    action_high: tuple[float, ...]
    rest_qpos: tuple[float, ...]  # `rest` keyframe, length qpos_dim
    base_xyz: tuple[float, float, float]
    tasks: tuple[str, ...]  # the paper's tasks for this robot
    arm_dof: int  # arm joints driven by the policy (ur10e: 5 of 6, wrist 3 held at 0); the rest is gripper
    # the gripper command (action row `arm_dof`, if any) drives qpos joints arm_dof, arm_dof + 1, ... times these
    gripper_mimic: tuple[float, ...] = ()
    # the task whose zoo folder `gym.make` loads when none is named ("": the first of `tasks`)
    default_task: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "default_task", self.default_task or self.tasks[0])
        assert self.default_task in self.tasks, self.name
        assert len(self.action_low) == len(self.action_high) == self.action_dim, self.name
        assert len(self.rest_qpos) == self.qpos_dim, self.name
        assert self.action_dim in (self.arm_dof, self.arm_dof + 1), self.name  # at most one gripper command
        assert (self.action_dim > self.arm_dof) == bool(self.gripper_mimic), self.name
        assert self.arm_dof + len(self.gripper_mimic) <= self.qpos_dim, self.name

    def to_full_qpos(self, targets: torch.Tensor) -> torch.Tensor:
        """Commanded targets `(..., action_dim)` -> full qpos `(..., qpos_dim)` (reference 4.6)."""
        import torch

        if targets.shape[-1] != self.action_dim:
            raise ValueError(
                f"joint targets have last dimension {targets.shape[-1]}; {self.name} expects {self.action_dim}"
            )
        rest = torch.tensor(self.rest_qpos, dtype=targets.dtype, device=targets.device)
        full = rest.expand(*targets.shape[:-1], self.qpos_dim).clone()
        arm = self.arm_dof
        full[..., :arm] = targets[..., :arm]  # joints past the arm and its gripper keep their rest value
        if self.gripper_mimic:
            g = targets[..., arm].clamp(GRIPPER_QPOS_MIN, self.action_high[arm])
            for j, factor in enumerate(self.gripper_mimic):
                full[..., arm + j] = factor * g
        return full


_TWO_PI = 6.28319
GRIPPER_QPOS_MIN = 0.0  # both grippers' joints stop at 0 (panda: closed, xarm6: open); lower commands clamp there
_XARM_INNER = 0.88 / 0.81  # robotiq inner knuckle per outer knuckle radian (0.81 rad closed -> 0.88 rad)

UR10E = RobotSpec(
    name="ur10e",
    maniskill_uid="ur10e_stick",
    robot_id=2,
    action_dim=5,
    qpos_dim=6,
    action_low=(-_TWO_PI, -_TWO_PI, -3.1415, -_TWO_PI, -_TWO_PI),
    action_high=(_TWO_PI, _TWO_PI, 3.1415, _TWO_PI, _TWO_PI),
    rest_qpos=(0.09706659, -1.1033098, 1.94184, -2.394296, -1.5409073, 0.0),
    base_xyz=(-0.615, 0.0, 0.0),
    tasks=("PushT", "RollBall"),
    arm_dof=5,
    default_task="RollBall",  # the embedded default, the task of the project's main job
)

XARM6_ROBOTIQ = RobotSpec(
    name="xarm6_robotiq",
    maniskill_uid="xarm6_robotiq",
    robot_id=1,
    action_dim=7,
    qpos_dim=12,
    action_low=(-2 * PI, -2.059, -3.8, -2 * PI, -1.69297, -2 * PI, 0.0),
    action_high=(2 * PI, 2.0944, 0.19198, 2 * PI, PI, 2 * PI, 0.81),
    rest_qpos=(0.11007055, 0.44809502, -1.4307088, 0.061216623, 0.95184845, 0.045703474) + (0.0,) * 6,
    base_xyz=(-0.522, 0.0, 0.0),
    tasks=("PokeCube",),
    arm_dof=6,
    # qpos 6..11 (ManiSkill's order) follow the outer-knuckle command (open 0 .. closed 0.81 rad) by these factors
    gripper_mimic=(1.0, _XARM_INNER, 1.0, _XARM_INNER, -_XARM_INNER, -_XARM_INNER),
)

PANDA = RobotSpec(
    name="panda",
    maniskill_uid="panda",
    robot_id=0,
    action_dim=8,
    qpos_dim=9,
    action_low=(-2.8973, -1.7628, -2.8973, -3.0718, -2.8973, -0.0175, -2.8973, -0.01),
    action_high=(2.8973, 1.7628, 2.8973, -0.0698, 2.8973, 3.7525, 2.8973, 0.04),
    rest_qpos=(0.0, PI / 8, 0.0, -5 * PI / 8, 0.0, 3 * PI / 4, PI / 4, 0.04, 0.04),
    base_xyz=(-0.615, 0.0, 0.0),
    tasks=("PullCube", "PullCubeTool"),
    arm_dof=7,
    gripper_mimic=(1.0, 1.0),  # one finger opening (closed 0 .. open 0.04 m) copied onto both fingers
)

ROBOTS: dict[str, RobotSpec] = {spec.name: spec for spec in (UR10E, XARM6_ROBOTIQ, PANDA)}


def get_robot(name: str | RobotSpec) -> RobotSpec:
    """Look a robot up by our name (or its ManiSkill uid); a spec passes through. The error lists the valid names."""
    if isinstance(name, RobotSpec):
        return name
    if name in ROBOTS:
        return ROBOTS[name]
    for spec in ROBOTS.values():
        if spec.maniskill_uid == name:
            return spec
    raise ValueError(f"unknown robot {name!r}; valid robots: {', '.join(sorted(ROBOTS))}")
