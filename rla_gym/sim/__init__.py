"""The paper's ManiSkill tasks in one shared tabletop workspace.

Light to import: the task table and camera facts need no simulator. `make_sim_env` (in
`rla_gym.sim.make`) imports ManiSkill and registers the robots and the `RLA-<Task>-v1` envs on first use.
"""

from rla_gym.sim.cameras import CAMERAS, FRONT_CAMERA
from rla_gym.sim.make import make_sim_env, rgb_frames
from rla_gym.sim.task_specs import TASKS, SimTask, check_pair, get_task

__all__ = ["CAMERAS", "FRONT_CAMERA", "TASKS", "SimTask", "check_pair", "get_task", "make_sim_env", "rgb_frames"]
