"""Robot specs (no simulator import) and, in `rla_gym.robots.maniskill_agents`, ManiSkill agents."""

from rla_gym.robots.specs import PANDA, ROBOTS, UR10E, XARM6_ROBOTIQ, RobotSpec, get_robot

__all__ = ["PANDA", "ROBOTS", "UR10E", "XARM6_ROBOTIQ", "RobotSpec", "get_robot"]
