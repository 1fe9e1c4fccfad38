"""Tiny synthetic episodes for tests and examples: smooth images, one object that moves for a while.

Smooth on purpose: H.264 at a low crf then returns them within a couple of grey levels, so a
round trip through the real on-disk format can be checked exactly on everything but pixels.
"""

from __future__ import annotations

import numpy as np

from rla_gym.data.episode import DEFAULT_CAMERA, Episode, object_motion_flags
from rla_gym.specs.robots import get_robot


def synthetic_episode(
    num_steps: int = 20,
    size: int = 32,
    *,
    robot: str = "ur10e",
    task: str = "PushT-v2",
    success: bool = True,
    move: tuple[int, int] | None = None,
    seed: int = 0,
) -> Episode:
    """An `Episode` of `num_steps` frames `(size, size)`; the object moves during steps `move = (a, b)`.

    Steps a .. b-1 move the object (so `object_moved` is True exactly there); default: the middle third.
    """
    rng = np.random.default_rng(seed)
    spec = get_robot(robot)
    t_count = int(num_steps)
    a, b = move if move is not None else (t_count // 3, 2 * t_count // 3)

    # object position (m): still, then sliding 1 cm per step along x during steps a .. b-1, then still
    x = np.zeros(t_count)
    for t in range(1, t_count):
        x[t] = x[t - 1] + (0.01 if a <= t - 1 < b else 0.0)
    object_poses = np.zeros((t_count, 1, 7), dtype=np.float32)
    object_poses[:, 0, 0] = x
    object_poses[:, 0, 6] = 1.0  # xyzw identity

    low, high = np.array(spec.action_low), np.array(spec.action_high)
    rest = np.array(spec.rest_qpos)
    start = np.clip(rest[: spec.action_dim], low, high)
    walk = np.cumsum(rng.normal(0.0, 0.02, size=(t_count, spec.action_dim)), axis=0)
    target_qpos = np.clip(start + walk, low, high).astype(np.float32)  # (T, A)
    qpos = np.tile(rest, (t_count, 1)).astype(np.float32)  # (T, J)
    qpos[1:, : spec.action_dim] = target_qpos[:-1, : min(spec.action_dim, spec.qpos_dim)]

    # frames: a smooth colour gradient with a soft blob where the object is
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    frames = np.empty((t_count, size, size, 3), dtype=np.uint8)
    phase = rng.uniform(0, 1)
    for t in range(t_count):
        cx = 0.3 + 2.0 * x[t]
        blob = np.exp(-((xx - cx) ** 2 + (yy - 0.5) ** 2) / 0.02)
        frames[t, ..., 0] = 60 + 120 * xx + 60 * blob
        frames[t, ..., 1] = 60 + 120 * yy * (0.5 + 0.5 * phase)
        frames[t, ..., 2] = 200 - 140 * blob
    eef = np.zeros((t_count, 7), dtype=np.float32)
    eef[:, 0] = np.linspace(-0.1, 0.1, t_count)
    eef[:, 3] = 1.0  # wxyz identity
    return Episode(
        frames=frames,
        target_qpos=target_qpos,
        qpos=qpos,
        success=success,
        object_moved=object_motion_flags(object_poses),
        task=task,
        robot=spec.name,
        camera=DEFAULT_CAMERA,
        eef_pose=eef,
        object_poses=object_poses,
        task_description=f"synthetic {task}",
    )
