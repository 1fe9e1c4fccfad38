"""The one synthetic episode generator, for tests, examples and random bundles' demo sets.

A top-down toy scene whose pixels follow the joint targets, so even tiny models trained on it have
something to learn: a bar ("arm") from a fixed base to a tip set by the first two joint targets, and
a disc that the tip pushes during steps `move = (a, b)` (default: the middle third) and that lies
still otherwise, so `object_moved` is True exactly on those steps; the disc is the episode's one task object
(`object_names`, its label image and pose), as the ball is RollBall's. Edges are soft (about one pixel
of anti-aliasing): H.264 at a low crf then returns frames within a couple of grey levels, so a round
trip through the real on-disk format can be checked exactly on everything but pixels.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from rla_gym.data.episode import DEFAULT_CAMERA, Episode, object_motion_flags
from rla_gym.specs.robots import RobotSpec, get_robot

if TYPE_CHECKING:
    from rla_gym.data.demo_set import DemoSet

SCENE_METRES = 0.6  # the image spans 0.6 m: object poses are in metres like the simulator's
MIN_PUSH = 0.02  # image widths per step while pushed (1.2 cm, well above the 2 mm motion threshold)
BASE = (0.5, 0.95)  # the arm's base, image coordinates (x right, y down, 0..1)
ARM_WIDTH, DISC_RADIUS = 0.04, 0.08


def synthetic_targets(spec: RobotSpec, num_steps: int, rng: np.random.Generator) -> np.ndarray:
    """A smooth joint-target trajectory around the rest pose, inside the robot's limits: `(T, A)` float32."""
    rest = np.asarray(spec.rest_qpos[: spec.action_dim], dtype=np.float32)
    low, high = np.asarray(spec.action_low, np.float32), np.asarray(spec.action_high, np.float32)
    phase = rng.uniform(0, 2 * math.pi, spec.action_dim)
    amp = rng.uniform(0.1, 0.4, spec.action_dim)
    t = np.arange(num_steps, dtype=np.float32)[:, None]
    return np.clip(rest + amp * np.sin(0.15 * t + phase), low, high).astype(np.float32)


def arm_tip(spec: RobotSpec, target: np.ndarray) -> np.ndarray:
    """Where the arm's tip is drawn (image coordinates) for one joint-target row: the first two joints
    swing it sideways and in depth."""
    q = np.asarray(target, np.float32) - np.asarray(spec.rest_qpos[: spec.action_dim], np.float32)
    return np.array(BASE, np.float32) + np.array(
        [0.35 * math.sin(2 * q[0]), -0.6 + 0.3 * math.sin(2 * q[1])], np.float32
    )


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
    """An `Episode` of `num_steps` frames `(size, size)` whose pixels follow its joint targets.

    Frame t shows the pose reached after target t - 1 (the rest pose at t = 0), as `qpos[t]` does:
    frame t + 1 depends on action t, as in the simulator. The disc is pushed during steps a .. b-1 of
    `move = (a, b)` (default: the middle third), so `object_moved` is True exactly there; it starts
    beside the arm's tip and is pushed away from it by at least `MIN_PUSH` per step.
    """
    rng = np.random.default_rng(seed)
    spec = get_robot(robot)
    t_count = int(num_steps)
    if t_count < 1:
        raise ValueError(f"num_steps must be >= 1; got {num_steps}")
    a, b = move if move is not None else (t_count // 3, 2 * t_count // 3)
    if not 0 <= a <= b <= t_count:
        raise ValueError(f"move must satisfy 0 <= a <= b <= num_steps = {t_count}; got {move}")

    targets = synthetic_targets(spec, t_count, rng)
    rest_targets = np.asarray(spec.rest_qpos[: spec.action_dim], np.float32)
    reached = np.concatenate([rest_targets[None], targets[:-1]])  # frame t shows the pose after target t-1
    tips = np.stack([arm_tip(spec, row) for row in reached])  # (T, 2)
    discs = _disc_track(tips, a, b, rng)  # (T, 2)

    object_poses = np.zeros((t_count, 1, 7), dtype=np.float32)
    object_poses[:, 0, :2] = discs * SCENE_METRES
    object_poses[:, 0, 6] = 1.0  # xyzw identity
    rest = np.asarray(spec.rest_qpos, np.float32)
    qpos = np.tile(rest, (t_count, 1))  # (T, J)
    n = min(spec.action_dim, spec.qpos_dim)
    qpos[1:, :n] = targets[:-1, :n]
    eef = np.zeros((t_count, 7), dtype=np.float32)
    eef[:, :2] = tips * SCENE_METRES
    eef[:, 3] = 1.0  # wxyz identity

    frames = np.stack([_render(size, tips[t], discs[t], rng_phase=seed) for t in range(t_count)])
    labels = np.stack([_disc_label(size, discs[t]) for t in range(t_count)])  # (T, H, W): 1 on the disc
    return Episode(
        frames=frames,
        target_qpos=targets,
        qpos=qpos,
        success=success,
        object_moved=object_motion_flags(object_poses),
        task=task,
        robot=spec.name,
        camera=DEFAULT_CAMERA,
        eef_pose=eef,
        object_poses=object_poses,
        task_description=f"synthetic {task}",
        object_names=("disc",),
        object_labels=labels,
        task_object_poses=object_poses,
    )


def synthetic_demos(robot: str, episodes: int, length: int, size: int, seed: int = 0) -> DemoSet:
    """A `DemoSet` of `episodes` synthetic episodes (`length` frames at `size` px), e.g. for a random bundle."""
    import torch

    from rla_gym.data.demo_set import DemoSet

    seeds = np.random.default_rng(seed).integers(0, 2**31 - 1, size=int(episodes))
    made = [synthetic_episode(length, size, robot=robot, seed=int(s)) for s in seeds]
    return DemoSet.from_episodes(
        [torch.from_numpy(e.frames) for e in made],
        [torch.from_numpy(e.target_qpos) for e in made],
        [torch.from_numpy(e.qpos) for e in made],
    )


def _disc_track(tips: np.ndarray, a: int, b: int, rng: np.random.Generator) -> np.ndarray:
    """Disc centre per frame: still until step a, pushed away from the tip on steps a .. b-1, then still."""
    t_count = tips.shape[0]
    away = rng.normal(size=2)
    away /= np.linalg.norm(away) + 1e-9
    disc = np.clip(tips[min(a, t_count - 1)] + (DISC_RADIUS + ARM_WIDTH) * away, 0.1, 0.9)
    discs = np.empty((t_count, 2), np.float32)
    discs[0] = disc
    for t in range(1, t_count):
        if a <= t - 1 < b:  # step t - 1 pushes: away from the tip, at least MIN_PUSH, as fast as the tip
            direction = discs[t - 1] - tips[t]
            direction = direction / (np.linalg.norm(direction) + 1e-9)
            speed = max(MIN_PUSH, float(np.linalg.norm(tips[t] - tips[t - 1])))
            step = speed * direction
            nxt = discs[t - 1] + step
            if (nxt < 0.1).any() or (nxt > 0.9).any():  # bounce off the border, never stop
                step = -step
                nxt = discs[t - 1] + step
            discs[t] = nxt
        else:
            discs[t] = discs[t - 1]
    return discs


def _disc_label(size: int, disc: np.ndarray) -> np.ndarray:
    """`(size, size)` uint8: 1 on the pixels whose centre lies inside the disc (the render's alpha > 0.5)."""
    yy, xx = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size
    return (np.hypot(xx - disc[0], yy - disc[1]) < DISC_RADIUS).astype(np.uint8)


def _render(size: int, tip: np.ndarray, disc: np.ndarray, rng_phase: int) -> np.ndarray:
    """One `(size, size, 3)` uint8 frame: gradient floor, arm bar base -> tip, disc; soft edges."""
    yy, xx = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size
    tint = 0.5 + 0.5 * ((rng_phase * 0.618) % 1.0)
    img = np.stack([0.25 + 0.2 * yy, 0.3 + 0.1 * xx * tint, 0.35 + 0.05 * yy], -1)
    base = np.array(BASE, np.float32)
    seg = tip - base
    proj = np.clip(((xx - base[0]) * seg[0] + (yy - base[1]) * seg[1]) / (seg @ seg + 1e-6), 0, 1)
    arm_dist = np.hypot(xx - base[0] - proj * seg[0], yy - base[1] - proj * seg[1])
    disc_dist = np.hypot(xx - disc[0], yy - disc[1])
    edge = 1.0 / size  # one pixel of anti-aliasing
    for dist, radius, colour in ((arm_dist, ARM_WIDTH, (0.85, 0.85, 0.9)), (disc_dist, DISC_RADIUS, (0.1, 0.3, 0.85))):
        alpha = np.clip((radius - dist) / edge + 0.5, 0.0, 1.0)[..., None]
        img = img * (1 - alpha) + np.asarray(colour, np.float32) * alpha
    return np.clip(img * 255 + 0.5, 0, 255).astype(np.uint8)
