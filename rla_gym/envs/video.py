"""Write env episodes to mp4: what a person would rather look at than read."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch


def record_rollout(
    env,
    path: str | os.PathLike,
    policy: Callable[[torch.Tensor], np.ndarray | torch.Tensor] | None = None,
    steps: int = 12,
    seed: int = 0,
    fps: int = 4,
    env_index: int = 0,
) -> Path:
    """Roll a vector env for `steps` chunk steps and write world `env_index`'s render (prediction |
    demo frame) to an mp4. `policy(obs) -> actions`; random actions when None."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    obs, _ = env.reset(seed=seed)
    frames = [env.render()[env_index]]
    for _ in range(steps):
        action = policy(obs) if policy is not None else env.action_space.sample()
        obs, *_ = env.step(action)
        frames.append(env.render()[env_index])
    scale = max(1, 256 // frames[0].shape[0])  # upscale small worlds so they are visible
    frames = [np.kron(f, np.ones((scale, scale, 1), np.uint8)) for f in frames]
    imageio.mimwrite(path, frames, fps=fps, macro_block_size=1)
    return path
