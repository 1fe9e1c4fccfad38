"""Real and counterfactual outcomes of a recorded episode, for the outcome-discrimination test (rla_gym.eval.outcome).

The episode's joint targets are replayed from its ManiSkill seed; the frame after the last replayed step is the
real outcome. Then the task's first object (RollBall's ball, PullCube's cube, PushT's T) is put back where it
started, without stepping physics, and the camera renders again: the same arm pose with the object's fate undone.
The two frames differ only where the object's motion shows, which is what the world model must predict.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rla_gym.sim.make import rgb_frames
from rla_gym.specs.tasks import get_task


@dataclass(frozen=True)
class Outcome:
    real: np.ndarray  # (H, W, 3) uint8: the frame after the replayed targets
    counterfactual: np.ndarray  # (H, W, 3) uint8: the same, with the object back at its start
    success: bool  # the simulator's success at the end of the replay
    moved_m: float  # how far the object ended from its start (xy, metres)


def replay_outcome(env, task: str, seed: int, targets: np.ndarray) -> Outcome:
    """Reset `env` (a ManiSkill env of `task`, RGB observations) with `seed`, execute `targets` (T, A) one row per
    step, and render the real and the counterfactual final frame (see the module docstring)."""
    spec = get_task(task)
    if not spec.objects:
        raise ValueError(f"task {spec.name} names no task objects (SimTask.objects)")
    obs, _ = env.reset(seed=seed)
    u = env.unwrapped
    actor = u.scene.actors[spec.objects[0]]
    start = actor.pose.raw_pose.clone()  # (1, 7) p + wxyz
    info: dict = {}
    for action in targets:
        obs, _, _, _, info = env.step(np.asarray(action, np.float32))
    success = bool(np.asarray(info["success"]).reshape(-1)[0]) if "success" in info else False
    real = np.array(rgb_frames(obs)[0])
    end = actor.pose.raw_pose.clone()
    moved = float((end[0, :2] - start[0, :2]).norm())
    actor.set_pose(start)
    cf = np.array(rgb_frames(u.get_obs())[0])  # renders the scene as it now is; physics did not step
    actor.set_pose(end)  # leave the env as the replay left it
    return Outcome(real, cf, success, moved)
