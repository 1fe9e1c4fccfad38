"""Helpers for the scripted-controller, collection and evaluation tests (`tests/test_sim_collect*.py`,
`tests/test_sim_evaluate*.py`). Simulator envs come from `sim_support.SimEnvs` (one per task, shared)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rla_gym.specs import TASKS


@dataclass
class Rollout:
    success: bool  # the simulator's info["success"] at some step
    moved: float  # largest displacement (m) of any task object from its start
    steps: int
    actions: np.ndarray  # (steps, A)


def task_objects(env) -> list:
    from rla_gym.sim.scripted.record import tracked_objects

    return [actor for _, actor in tracked_objects(env.unwrapped)]


def run_script(
    env,
    task: str,
    seed: int,
    *,
    fail: bool = False,
    max_steps: int | None = None,
    stop_when_moved: float | None = None,
) -> Rollout:
    """Reset `env` with `seed` and run the task's script until success, the step limit, or (if given)
    until some object has moved more than `stop_when_moved` metres."""
    from rla_gym.sim.scripted import make_script

    script = make_script(task)
    env.reset(seed=seed)
    script.reset(env, rng=seed, fail=fail)
    objects = task_objects(env)
    start = [a.pose.p[0].numpy().copy() for a in objects]
    moved, actions = 0.0, []
    for _ in range(max_steps or TASKS[task].max_episode_steps):
        action = script.act(env)
        actions.append(action)
        _, _, _, _, info = env.step(action)
        moved = max(moved, *(float(np.linalg.norm(a.pose.p[0].numpy() - p)) for a, p in zip(objects, start)))
        if info["success"].item():
            return Rollout(True, moved, len(actions), np.stack(actions))
        if stop_when_moved is not None and moved > stop_when_moved:
            break
    return Rollout(False, moved, len(actions), np.stack(actions))
