"""Robot, task and camera facts: plain data, no torch, no simulator. Every other rung imports them from here."""

from rla_gym.specs.cameras import CAMERAS, FRONT_CAMERA, CameraSpec
from rla_gym.specs.robots import (
    CHUNK_SIZE,
    PANDA,
    ROBOTS,
    UR10E,
    WM_ACTION_BUFFER,
    XARM6_ROBOTIQ,
    RobotSpec,
    get_robot,
)
from rla_gym.specs.tasks import TASKS, SimTask, check_pair, get_task, tasks_of

__all__ = [
    "CAMERAS",
    "CHUNK_SIZE",
    "FRONT_CAMERA",
    "PANDA",
    "ROBOTS",
    "TASKS",
    "UR10E",
    "WM_ACTION_BUFFER",
    "XARM6_ROBOTIQ",
    "CameraSpec",
    "RobotSpec",
    "SimTask",
    "check_pair",
    "get_robot",
    "get_task",
    "tasks_of",
]
