"""`gym.make("RLAWorldModel-v0")`: one world as a plain `gymnasium.Env` with numpy outputs.

A thin view over the vector env with `num_envs=1` and no autoreset, so it passes Gymnasium's
`check_env` and works with any single-env tool."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rla_gym.envs.numpy_wrapper import to_numpy
from rla_gym.envs.vector import RLAWorldModelVectorEnv


class RLAWorldModelEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = None, **kwargs: Any):
        kwargs.pop("num_envs", None)
        self.vector_env = RLAWorldModelVectorEnv(num_envs=1, autoreset=False, render_mode="rgb_array", **kwargs)
        self.render_mode = render_mode
        self.observation_space = self.vector_env.single_observation_space
        self.action_space = self.vector_env.single_action_space

    @staticmethod
    def _first(x: Any) -> Any:
        return {k: v[0] for k, v in x.items()} if isinstance(x, dict) else x[0]

    def _info(self, info: dict[str, Any]) -> dict[str, Any]:
        return {k: self._first(to_numpy(v)) for k, v in info.items() if not k.startswith("_") and k != "final_obs"}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        obs, info = self.vector_env.reset(seed=seed, options=options)
        return self._first(to_numpy(obs)), self._info(info)

    def step(self, action: np.ndarray):
        obs, reward, terminated, truncated, info = self.vector_env.step(np.asarray(action, np.float32)[None])
        return (
            self._first(to_numpy(obs)),
            float(reward[0]),
            bool(terminated[0]),
            bool(truncated[0]),
            self._info(info),
        )

    def render(self) -> np.ndarray | None:
        if self.render_mode != "rgb_array":
            return None
        return self.vector_env.render()[0]

    def close(self) -> None:
        self.vector_env.close()
