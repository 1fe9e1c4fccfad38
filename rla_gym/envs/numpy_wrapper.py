"""The numpy view of the torch vector env, for CPU users and libraries that want arrays."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium.vector import VectorEnv, VectorWrapper


def to_numpy(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().numpy()
    if isinstance(x, dict):
        return {k: to_numpy(v) for k, v in x.items()}
    return x


class NumpyVectorEnv(VectorWrapper):
    """Same env, numpy in and out: observations, rewards, flags and info values become arrays."""

    def __init__(self, env: VectorEnv):
        super().__init__(env)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return to_numpy(obs), to_numpy(info)

    def step(self, actions: np.ndarray):
        obs, reward, terminated, truncated, info = self.env.step(actions)
        return to_numpy(obs), to_numpy(reward), to_numpy(terminated), to_numpy(truncated), to_numpy(info)
