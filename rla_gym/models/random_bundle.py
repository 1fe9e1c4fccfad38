"""Random-weight bundles with a synthetic demo set: a fixture for tests and a way to try the API
before any trained bundle is at hand. Marked `random` in the manifest and warned about when loaded."""

from __future__ import annotations

import math

import numpy as np
import torch

from rla_gym.data.demo_set import DemoSet
from rla_gym.models.bundle import Bundle
from rla_gym.models.configs import preset_config
from rla_gym.models.stack import WorldModelStack
from rla_gym.specs.robots import RobotSpec, get_robot


def synthetic_episode(spec: RobotSpec, length: int, size: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """A smooth joint trajectory around the rest pose and frames whose content follows it: a bar
    ("arm") from a fixed base to a tip set by the first two joints, and a disc pushed along once the
    tip comes near. Pixels depend on actions, so even tiny trained models have something to learn."""
    rest = np.asarray(spec.rest_qpos[: spec.action_dim], dtype=np.float32)
    low, high = np.asarray(spec.action_low, np.float32), np.asarray(spec.action_high, np.float32)
    phase = rng.uniform(0, 2 * math.pi, spec.action_dim)
    amp = rng.uniform(0.1, 0.4, spec.action_dim)
    t = np.arange(length, dtype=np.float32)[:, None]
    targets = np.clip(rest + amp * np.sin(0.15 * t + phase), low, high).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    background = np.stack([0.25 + 0.2 * yy, 0.3 + 0.1 * xx, 0.35 + 0.0 * xx], -1)
    disc = np.array([rng.uniform(0.35, 0.65), rng.uniform(0.35, 0.65)], np.float32)
    frames = np.empty((length, size, size, 3), np.uint8)
    base = np.array([0.5, 0.95], np.float32)
    for i in range(length):
        q = targets[i] - rest
        tip = base + np.array([0.35 * math.sin(2 * q[0]), -0.6 + 0.3 * math.sin(2 * q[1])], np.float32)
        if np.linalg.norm(tip - disc) < 0.12:  # push the disc away from the tip
            disc = np.clip(disc + 0.03 * (disc - tip) / (np.linalg.norm(disc - tip) + 1e-6), 0.1, 0.9)
        img = background.copy()
        seg = tip - base
        proj = np.clip(((xx - base[0]) * seg[0] + (yy - base[1]) * seg[1]) / (seg @ seg + 1e-6), 0, 1)
        dist = np.hypot(xx - base[0] - proj * seg[0], yy - base[1] - proj * seg[1])
        img[dist < 0.04] = (0.85, 0.85, 0.9)
        img[np.hypot(xx - disc[0], yy - disc[1]) < 0.08] = (0.1, 0.3, 0.85)
        frames[i] = (img * 255).astype(np.uint8)
    return frames, targets


def synthetic_demos(robot: str, episodes: int, length: int, size: int, seed: int = 0) -> DemoSet:
    spec = get_robot(robot)
    rng = np.random.default_rng(seed)
    frames, targets, qpos = [], [], []
    for _ in range(episodes):
        f, a = synthetic_episode(spec, length, size, rng)
        frames.append(torch.from_numpy(f))
        targets.append(torch.from_numpy(a))
        qpos.append(spec.to_full_qpos(torch.from_numpy(a)))
    return DemoSet.from_episodes(frames, targets, qpos)


def make_random_bundle(
    robot: str = "ur10e",
    preset: str = "tiny",
    episodes: int = 4,
    length: int = 24,
    seed: int = 0,
    task: str | None = None,
) -> Bundle:
    """Random weights (seeded) for the chosen preset plus a synthetic demo set at the encoder's size."""
    config = preset_config(preset, robot)
    config.encoder.hub_id = None  # random weights: the bundle must carry the encoder too
    torch.manual_seed(seed)
    stack = WorldModelStack(config).eval()
    demos = synthetic_demos(robot, episodes, length, stack.image_size, seed)
    spec = get_robot(robot)
    return Bundle(stack=stack, demos=demos, random=True, task=task or spec.tasks[0], metadata={"preset": preset})
