"""Run one scripted episode in the simulator and keep it as an `Episode` (the authors' recording order).

Order per step (reference 8.3): the action is computed from the current observation, then the
frame, qpos, commanded targets and poses of that *current* observation are stored, then the env
steps. So frame t is the observation before action t, and the post-step observation of the last
action is not stored. Success episodes end `post_success_steps` steps after the first success
(the authors stop at once; a few more frames show the settled outcome); failures run to the limit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rla_gym.data.episode import Episode, object_motion_flags
from rla_gym.sim.make import rgb_frames
from rla_gym.sim.scripted.base import ScriptedController
from rla_gym.specs.tasks import TASKS

# the authors' object_poses filter: actor names containing any of these are not task objects
NOT_OBJECTS = ("table", "ground", "robot", "workspace", "goal_region", "camera", "panda", "xarm")

TASK_DESCRIPTIONS: dict[str, str] = {
    "PushT": "Push the T-shaped block onto the grey T-shaped goal.",
    "RollBall": "Hit the ball so that it rolls into the red and white target.",
    "PullCube": "Pull the cube back onto the red and white target.",
    "PullCubeTool": "Use the L-shaped tool to pull the out-of-reach cube toward the robot.",
    "PokeCube": "Grasp the peg and poke the cube onto the red and white target.",
}


@dataclass(frozen=True)
class RecordConfig:
    """How long an episode runs: the task's own limit unless `max_steps` is given."""

    max_steps: int | None = None
    post_success_steps: int = 5


def tracked_objects(u) -> list[tuple[str, object]]:
    """The task's objects (actors not filtered out by the authors' name rule), sorted by name."""
    return sorted(
        ((name, actor) for name, actor in u.scene.actors.items() if not any(w in name.lower() for w in NOT_OBJECTS)),
        key=lambda item: item[0],
    )


def _pose_xyzw(actor) -> np.ndarray:
    p = actor.pose.p[0].cpu().numpy()
    w, x, y, z = actor.pose.q[0].cpu().numpy()
    return np.array([*p, x, y, z, w], dtype=np.float32)  # the authors store object quaternions as xyzw


def record_episode(
    env,
    script: ScriptedController,
    seed: int,
    *,
    fail: bool = False,
    rng: np.random.Generator | int | None = None,
    config: RecordConfig | None = None,
) -> Episode:
    """Reset `env` with `seed`, run `script` on it and return the recorded `Episode` (frames included)."""
    config = config or RecordConfig()
    task = TASKS[script.task]
    max_steps = config.max_steps or task.max_episode_steps
    obs, _ = env.reset(seed=seed)
    script.reset(env, rng=seed if rng is None else rng, fail=fail)
    u = env.unwrapped
    objects = tracked_objects(u)
    frames, targets, qpos, eef, poses = [], [], [], [], []
    first_success: int | None = None
    for t in range(max_steps):
        action = script.act(env)  # (A,) absolute joint targets
        frames.append(np.array(rgb_frames(obs)[0]))  # copies: the sim may reuse its buffers
        qpos.append(np.array(obs["agent"]["qpos"][0].cpu().numpy()))
        targets.append(action)
        eef.append(np.array(u.agent.tcp.pose.raw_pose[0].cpu().numpy()))  # p + wxyz
        poses.append([_pose_xyzw(actor) for _, actor in objects])
        obs, _, _, _, info = env.step(action)
        if first_success is None and bool(info["success"].item()):
            first_success = t
        if first_success is not None and t - first_success >= config.post_success_steps:
            break
    object_poses = np.asarray(poses, dtype=np.float32).reshape(len(frames), len(objects), 7)  # (T, N, 7)
    return Episode(
        frames=np.stack(frames),
        target_qpos=np.stack(targets),
        qpos=np.stack(qpos),
        success=first_success is not None,
        object_moved=object_motion_flags(object_poses),
        task=task.paper_id,
        robot=script.spec.name,
        eef_pose=np.stack(eef),
        object_poses=object_poses,
        task_description=TASK_DESCRIPTIONS[task.name],
    )
