"""The paper's five tasks: ManiSkill's own task envs in the shared workspace, with the reference's changes.

Importing this module registers the three robots and the envs `RLA-<Task>-v1` (ids that cannot clash
with ManiSkill's). Use `rla_gym.sim.make.make_sim_env` rather than `gym.make` directly: it checks
the robot/task pair, the assets and picks the backends.

What differs from upstream (reference 8.2), beyond the workspace (`rla_gym.sim.workspace`):
- PushT: goal T at (0.0, -0.1) (upstream (-0.156, -0.1)), so spawns are x in [-0.1, 0.1), y in [-0.2, 0.1).
- RollBall: the robot stays at its workspace base; ball x in [-0.3, 0), y in [0.2, 0.3); goal x in
  [-0.3, 0), y in [0, 0.15).
- PullCube, PullCubeTool, PokeCube: object ranges, success and rewards as in ManiSkill 3.0.1, which
  already match the reference (PokeCube: cube within 0.05 of the goal and the robot static).
"""

from __future__ import annotations

import numpy as np
import torch
from mani_skill.envs.tasks.tabletop.poke_cube import PokeCubeEnv
from mani_skill.envs.tasks.tabletop.pull_cube import PullCubeEnv
from mani_skill.envs.tasks.tabletop.pull_cube_tool import PullCubeToolEnv
from mani_skill.envs.tasks.tabletop.push_t import PushTEnv
from mani_skill.envs.tasks.tabletop.roll_ball import RollBallEnv
from mani_skill.utils.registration import REGISTERED_ENVS, register_env
from mani_skill.utils.structs.pose import Pose
from transforms3d.euler import euler2quat

import rla_gym.sim.robots.maniskill_agents  # noqa: F401  (registers ur10e_stick, xarm6_robotiq, panda)
from rla_gym.sim.workspace import UnifiedWorkspace
from rla_gym.specs.robots import get_robot
from rla_gym.specs.tasks import TASKS


def _supported(robot: str) -> list[str]:
    return [get_robot(robot).maniskill_uid]


class RLAPushTEnv(UnifiedWorkspace, PushTEnv):
    """Push the T onto the grey goal T (>= 90 % overlap); UR10e + stick."""

    DEFAULT_ROBOT = TASKS["PushT"].robot
    SUPPORTED_ROBOTS = _supported(DEFAULT_ROBOT)
    goal_offset = torch.tensor([0.0, -0.1])


class RLARollBallEnv(UnifiedWorkspace, RollBallEnv):
    """Hit the ball so it rolls into the target (within 0.1 m); UR10e + stick."""

    DEFAULT_ROBOT = TASKS["RollBall"].robot
    SUPPORTED_ROBOTS = _supported(DEFAULT_ROBOT)

    def _initialize_objects(self, env_idx: torch.Tensor, options: dict) -> None:
        b = len(env_idx)
        self.table_scene.initialize(env_idx)
        ball = torch.zeros((b, 3))
        ball[:, 0] = torch.rand(b) * 0.3 - 0.3  # [-0.3, 0)
        ball[:, 1] = torch.rand(b) * 0.1 + 0.2  # [0.2, 0.3)
        ball[:, 2] = self.ball_radius
        self.ball.set_pose(Pose.create_from_pq(p=ball, q=[1, 0, 0, 0]))
        goal = torch.zeros((b, 3))
        goal[:, 0] = torch.rand(b) * 0.3 - 0.3  # [-0.3, 0)
        goal[:, 1] = torch.rand(b) * 0.15  # [0, 0.15)
        goal[:, 2] = 1e-3
        self.goal_region.set_pose(Pose.create_from_pq(p=goal, q=euler2quat(0, np.pi / 2, 0)))
        self.reached_status = self.reached_status.to(self.device)
        self.reached_status[env_idx] = 0.0


class RLAPullCubeEnv(UnifiedWorkspace, PullCubeEnv):
    """Pull the cube back onto the target (within 0.1 m); Panda."""

    DEFAULT_ROBOT = TASKS["PullCube"].robot
    SUPPORTED_ROBOTS = _supported(DEFAULT_ROBOT)


class RLAPullCubeToolEnv(UnifiedWorkspace, PullCubeToolEnv):
    """Use the L tool to pull the out-of-reach cube within 0.6 m of the robot base; Panda."""

    DEFAULT_ROBOT = TASKS["PullCubeTool"].robot
    SUPPORTED_ROBOTS = _supported(DEFAULT_ROBOT)


class RLAPokeCubeEnv(UnifiedWorkspace, PokeCubeEnv):
    """Poke the cube with the peg onto the goal (within 0.05 m, robot static); xArm6 + Robotiq."""

    DEFAULT_ROBOT = TASKS["PokeCube"].robot
    SUPPORTED_ROBOTS = _supported(DEFAULT_ROBOT)


ENV_CLASSES: dict[str, type] = {
    "PushT": RLAPushTEnv,
    "RollBall": RLARollBallEnv,
    "PullCube": RLAPullCubeEnv,
    "PullCubeTool": RLAPullCubeToolEnv,
    "PokeCube": RLAPokeCubeEnv,
}

for _name, _cls in ENV_CLASSES.items():
    _task = TASKS[_name]
    if _task.env_id not in REGISTERED_ENVS:
        register_env(_task.env_id, max_episode_steps=_task.max_episode_steps)(_cls)
