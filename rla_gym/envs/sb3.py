"""Stable-Baselines3 adapter: the torch vector env as an SB3 `VecEnv` (numpy in and out, one info dict per env).

    model = PPO("CnnPolicy", SB3VecEnv(env)).learn(10_000)

The env must reset finished worlds within the step that ends them (`autoreset_mode="SameStep"`, the env's
default; any other mode raises). This adapter hands SB3 the finished episode's info (`info["final_info"]`) with
the `terminal_observation`, `TimeLimit.truncated` and `is_success` it expects in each env's info dict. The other
numpy boundary is `rla_gym.envs.numpy_wrapper.NumpyVectorEnv` (Gymnasium's vector wrappers); both convert with its
`to_numpy`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvIndices

from rla_gym.envs.numpy_wrapper import to_numpy

_PER_ENV_INFO = ("reward_l1", "goal_l1", "success", "clipped", "demo", "frame", "chunk_step")


class SB3VecEnv(VecEnv):
    def __init__(self, env: VectorEnv):
        mode = env.metadata.get("autoreset_mode")
        if mode != AutoresetMode.SAME_STEP:
            raise ValueError(
                f"SB3 expects finished envs reset within the step that ends them; make the env with "
                f"autoreset_mode='SameStep' (got {mode})"
            )
        self.env = env
        self.render_mode = getattr(env, "render_mode", None)
        super().__init__(env.num_envs, env.single_observation_space, env.single_action_space)
        self._actions: np.ndarray | None = None

    def reset(self):
        seed = self._seeds[0]
        obs, _ = self.env.reset(seed=seed)
        self._reset_seeds()
        self._reset_options()
        return to_numpy(obs)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.float32).reshape(self.num_envs, *self.action_space.shape)

    def step_wait(self):
        obs, reward, terminated, truncated, info = self.env.step(self._actions)
        obs, info = to_numpy(obs), to_numpy(info)
        terminated, truncated = to_numpy(terminated), to_numpy(truncated)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [
            {k: info[k][i] for k in _PER_ENV_INFO if k in info} for i in range(self.num_envs)
        ]
        if dones.any():
            final, final_info = info["final_obs"], info["final_info"]
            for i in np.flatnonzero(dones):
                infos[i] = {k: final_info[k][i] for k in _PER_ENV_INFO if k in final_info}  # the finished episode
                infos[i]["terminal_observation"] = (
                    {k: v[i] for k, v in final.items()} if isinstance(final, dict) else final[i]
                )
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
                infos[i]["is_success"] = bool(final_info["success"][i])
        return obs, to_numpy(reward).astype(np.float32), dones, infos

    def close(self) -> None:
        self.env.close()

    def render(self, mode: str | None = None) -> np.ndarray | None:
        frames = self.env.render()
        return None if frames is None else np.concatenate(list(frames), axis=0)

    def get_images(self) -> Sequence[np.ndarray | None]:
        frames = self.env.render()
        return [None] * self.num_envs if frames is None else list(frames)

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        if attr_name == "render_mode":
            return [self.render_mode] * len(self._get_indices(indices))
        value = getattr(self.env, attr_name)
        return [value] * len(self._get_indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: VecEnvIndices = None, **kwargs: Any) -> list[Any]:
        result = getattr(self.env, method_name)(*args, **kwargs)
        return [result] * len(self._get_indices(indices))

    def env_is_wrapped(self, wrapper_class: type, indices: VecEnvIndices = None) -> list[bool]:
        return [False] * len(self._get_indices(indices))
