"""The numpy view of the torch vector env, for CPU users and libraries that want arrays: Gymnasium's
own vector wrappers (`RecordEpisodeStatistics`, `NormalizeReward`, observation wrappers) go on top."""

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


def per_env(batch: Any, mask: np.ndarray) -> np.ndarray:
    """Gymnasium's `final_obs` form: an object array, world i's observation where `mask[i]`, else None."""
    out = np.full(len(mask), None, dtype=object)
    for i in np.flatnonzero(mask):
        out[i] = {k: v[i] for k, v in batch.items()} if isinstance(batch, dict) else batch[i]
    return out


class NumpyVectorEnv(VectorWrapper):
    """Same env, numpy in and out: observations, rewards, flags and info values become arrays, and
    `info["final_obs"]` takes Gymnasium's one-entry-per-env form."""

    def __init__(self, env: VectorEnv):
        super().__init__(env)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return to_numpy(obs), to_numpy(info)

    def step(self, actions: np.ndarray):
        obs, reward, terminated, truncated, info = self.env.step(actions)
        info = to_numpy(info)
        if "final_obs" in info:
            info["final_obs"] = per_env(info["final_obs"], info["_final_obs"])
        return to_numpy(obs), to_numpy(reward), to_numpy(terminated), to_numpy(truncated), info
