"""`gym.make("RLAWorldModel-v0")`: one world as a plain `gymnasium.Env` with numpy outputs.

A thin view over the vector env with `num_envs=1` and autoreset disabled, so it passes Gymnasium's
`check_env` and works with any single-env tool, `gym.make_vec(..., vectorization_mode="sync" | "async")`
included."""

from __future__ import annotations

import logging
import os
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode

from rla_gym.envs.numpy_wrapper import to_numpy
from rla_gym.envs.vector import RLAWorldModelVectorEnv

log = logging.getLogger(__name__)

_IMPORT_PID = os.getpid()  # a different pid at construction: a forked child of the process that imported us


def _single_thread_if_forked() -> None:
    """A process forked after torch started its CPU thread pool hangs in its first parallel op (GNU
    OpenMP is not fork-safe): `AsyncVectorEnv`'s default fork workers did. One thread per worker, as
    torch's own DataLoader workers run, avoids the pool and suits N workers sharing the cores. Gymnasium's
    AsyncVectorEnv builds one env in the parent first, so this module is imported before the fork."""
    if os.getpid() != _IMPORT_PID and torch.get_num_threads() > 1:
        log.info("env in a forked worker: torch runs single-threaded here (context='spawn' keeps more threads)")
        torch.set_num_threads(1)


class RLAWorldModelEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": RLAWorldModelVectorEnv.metadata["render_fps"]}

    def __init__(self, render_mode: str | None = None, **kwargs: Any):
        if "autoreset_mode" in kwargs:
            raise ValueError(
                "the single env does not autoreset (Gymnasium's vector envs reset it); autoreset_mode belongs "
                "to gym.make_vec(..., vectorization_mode='vector_entry_point')"
            )
        num_envs = kwargs.pop("num_envs", 1)
        if num_envs != 1:
            raise ValueError(
                f"num_envs={num_envs!r}: the single env simulates one world; for {num_envs} worlds use "
                f"gym.make_vec('RLAWorldModel-v0', num_envs={num_envs}, vectorization_mode='vector_entry_point')"
            )
        _single_thread_if_forked()
        self.vector_env = RLAWorldModelVectorEnv(
            num_envs=1, autoreset_mode=AutoresetMode.DISABLED, render_mode="rgb_array", **kwargs
        )
        self.render_mode = render_mode
        self.observation_space = self.vector_env.single_observation_space
        self.action_space = self.vector_env.single_action_space
        self._closed = False

    @staticmethod
    def _first(x: Any) -> Any:
        return {k: v[0] for k, v in x.items()} if isinstance(x, dict) else x[0]

    def _info(self, info: dict[str, Any]) -> dict[str, Any]:
        return {k: self._first(to_numpy(v)) for k, v in info.items() if not k.startswith(("_", "final_"))}

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("this RLAWorldModel env is closed; make a new one (gym.make) to go on")

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self._check_open()
        obs, info = self.vector_env.reset(seed=seed, options=options)  # validates before changing anything
        super().reset(seed=seed)
        return self._first(to_numpy(obs)), self._info(info)

    def step(self, action: np.ndarray):
        self._check_open()
        action = action if isinstance(action, torch.Tensor) else np.asarray(action)  # dtype kept
        expected = self.action_space.shape
        if tuple(action.shape) != expected:  # the vector env would quote its (1, K, A)
            robot = self.vector_env.robot.name
            raise ValueError(f"action has shape {tuple(action.shape)}; {robot} expects {expected} (K, action_dim)")
        action = action[None]
        obs, reward, terminated, truncated, info = self.vector_env.step(action)
        return (
            self._first(to_numpy(obs)),
            float(reward[0]),
            bool(terminated[0]),
            bool(truncated[0]),
            self._info(info),
        )

    def render(self) -> np.ndarray | None:
        self._check_open()
        if self.render_mode != "rgb_array":
            return None
        return self.vector_env.render()[0]

    def close(self) -> None:
        self.vector_env.close()
        self._closed = True
