"""ManiSkill: the paper's robots and tasks in one shared tabletop workspace, scripted demos, collection, evaluation.

`make_sim_env` imports ManiSkill and registers the robots and the `RLA-<Task>-v1` envs on first use. The facts
about robots, tasks and cameras live one rung down, in `rla_gym.specs`."""

from rla_gym.sim.make import make_sim_env, rgb_frames

__all__ = ["make_sim_env", "rgb_frames"]
