"""RLAWorldModel-v0 as a batched `gymnasium.vector.VectorEnv`: every world steps together in torch.

One `step` moves all `num_envs` worlds forward by one action chunk: condition network once, N Euler
steps, RLA decoder, UNet. The predicted tokens become the next state without re-encoding. Outputs are
torch tensors on the env's device, as ManiSkill's GPU envs return them; wrap with
`rla_gym.envs.numpy_wrapper.NumpyVectorEnv` (or use `SB3VecEnv`) for numpy.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from rla_gym.envs.bundles import resolve_bundle
from rla_gym.envs.config import WorldModelEnvConfig
from rla_gym.envs.reset_sampler import ResetSampler
from rla_gym.envs.reward import token_l1, video_aligned_reward
from rla_gym.envs.seeding import FLOW_NOISE, env_rng
from rla_gym.models.bundle import Bundle, BundleError
from rla_gym.models.device import resolve_device
from rla_gym.specs.robots import get_robot

log = logging.getLogger(__name__)


class RLAWorldModelVectorEnv(VectorEnv):
    """Vectorized world-model env.

    Action: `(num_envs, K, A)` absolute joint targets (K = chunk_size), clipped to the robot's limits
    (clipped entries counted in `info["clipped"]`). Observation: UNet-rendered RGB `(num_envs, H, W, 3)`
    uint8, or a dict with `rgb`, `tokens` and `qpos` when `obs_mode="dict"`. Reward: the video-aligned
    reward. An episode terminates when its reference demo runs out (nothing left to be rewarded
    against, as the paper's PPO treats it) and truncates after `max_chunk_steps` chunk steps.
    Finished worlds reset in the same step (`AutoresetMode.SAME_STEP`); their last observation is in
    `info["final_obs"]`, masked by `info["_final_obs"]`.
    """

    metadata = {"render_modes": ["rgb_array"], "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        robot: str = "ur10e",
        task: str | None = None,
        bundle: str | os.PathLike | Bundle | None = None,
        device: str | torch.device = "auto",
        config: WorldModelEnvConfig | None = None,
        global_env_offset: int = 0,
        autoreset: bool = True,
        render_mode: str | None = "rgb_array",
        **overrides: Any,
    ):
        spec = get_robot(robot)
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.cfg = config or WorldModelEnvConfig(**overrides)
        if config is not None and overrides:
            raise ValueError(f"pass settings either in config or as keywords, not both: {sorted(overrides)}")
        self.device = resolve_device(device)
        self.bundle = resolve_bundle(bundle, spec.name, task, self.device)
        if self.bundle.demos is None or self.bundle.demos.num_episodes == 0:
            raise BundleError(f"bundle {self.bundle.path} has an empty demo set: resets need demo frames")
        self.stack = self.bundle.stack.to(self.device).eval()
        self.robot = spec
        self.task = task or self.bundle.task
        self.num_envs = num_envs
        self.global_env_offset = global_env_offset
        self.autoreset = autoreset
        self.render_mode = render_mode
        k = self.cfg.chunk_size
        if k > self.stack.config.world_model.max_horizon:
            raise ValueError(
                f"chunk_size {k} exceeds the world model's max_horizon {self.stack.config.world_model.max_horizon}"
            )
        self.euler_steps = self.cfg.euler_steps or self.stack.config.euler_steps

        self._load_demos()
        self.sampler = ResetSampler(self._lengths_np, k, self.cfg.p_initial_frame)

        low = np.tile(np.asarray(spec.action_low, np.float32), (k, 1))
        high = np.tile(np.asarray(spec.action_high, np.float32), (k, 1))
        self.single_action_space = spaces.Box(low, high, dtype=np.float32)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._low = torch.as_tensor(low, device=self.device)
        self._high = torch.as_tensor(high, device=self.device)
        size = self.stack.image_size
        rgb = spaces.Box(0, 255, (size, size, 3), np.uint8)
        if self.cfg.obs_mode == "dict":
            self.single_observation_space = spaces.Dict(
                {
                    "rgb": rgb,
                    "tokens": spaces.Box(-np.inf, np.inf, (self.stack.num_tokens, self.stack.token_dim), np.float32),
                    "qpos": spaces.Box(-np.inf, np.inf, (spec.qpos_dim,), np.float32),
                }
            )
        else:
            self.single_observation_space = rgb
        self.observation_space = batch_space(self.single_observation_space, num_envs)

        n, dev = num_envs, self.device
        self._seed: int | None = None
        self._episode = torch.zeros(n, dtype=torch.long, device=dev)
        self._frame = torch.zeros(n, dtype=torch.long, device=dev)
        self._chunk_step = torch.zeros(n, dtype=torch.long, device=dev)
        self._needs_reset = torch.ones(n, dtype=torch.bool, device=dev)
        self._reset_count = np.zeros(n, dtype=np.int64)
        self._flow_count = np.zeros(n, dtype=np.int64)
        self._tokens = torch.zeros(n, self.stack.num_tokens, self.stack.token_dim, device=dev)
        self._rgb = torch.zeros(n, size, size, 3, dtype=torch.uint8, device=dev)
        self._qpos = torch.zeros(n, spec.qpos_dim, device=dev)

    # ------------------------------------------------------------------ demos
    def _load_demos(self) -> None:
        """Demo frames, targets and DINO tokens on the env device; tokens computed once here."""
        demos = self.bundle.demos
        frames = demos.frames
        size = self.stack.image_size
        if frames.shape[1:3] != (size, size):
            x = frames.permute(0, 3, 1, 2).float()
            x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
            frames = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        self._demo_frames = frames.to(self.device)
        self._demo_qpos = demos.qpos.to(self.device)
        self._starts = demos.episode_starts.to(self.device)
        self._lengths = demos.episode_lengths.to(self.device)
        self._lengths_np = demos.episode_lengths.cpu().numpy()
        chunks = [self.stack.encode(f) for f in self._demo_frames.split(64)]
        self._demo_tokens = torch.cat(chunks)  # (F, L, C)

    def _goal_index(self, episode: torch.Tensor) -> torch.Tensor:
        return self._starts[episode] + self._lengths[episode] - 1

    # ------------------------------------------------------------------ reset
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset every world. `seed` fixes all draws; `options` may pin `demo` and `frame` (int or
        per-env sequence) or restrict the reset to `env_mask` (bool per env)."""
        super().reset(seed=seed)
        options = dict(options or {})
        if seed is not None or self._seed is None:
            self._seed = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % (2**63))
            self._reset_count[:] = 0
            self._flow_count[:] = 0
        mask = options.pop("env_mask", None)
        mask = torch.ones(self.num_envs, dtype=torch.bool) if mask is None else torch.as_tensor(mask, dtype=torch.bool)
        unknown = set(options) - {"demo", "frame"}
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; valid: demo, frame, env_mask")
        self._reset_envs(mask.cpu().numpy(), options.get("demo"), options.get("frame"))
        return self._observation(), self._reset_info()

    def _reset_envs(self, mask: np.ndarray, demo: Any = None, frame: Any = None) -> None:
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            return
        episodes, frames = np.empty(idx.size, np.int64), np.empty(idx.size, np.int64)
        demo_arr = None if demo is None else np.broadcast_to(np.asarray(demo), (self.num_envs,))
        frame_arr = None if frame is None else np.broadcast_to(np.asarray(frame), (self.num_envs,))
        for j, i in enumerate(idx):
            ep, t0 = self.sampler.draw(self._seed, self.global_env_offset + int(i), int(self._reset_count[i]))
            if demo_arr is not None:
                ep = int(demo_arr[i])
                t0 = 0 if frame_arr is None else t0
            if frame_arr is not None:
                t0 = int(frame_arr[i])
            self.sampler.check(ep, t0)
            episodes[j], frames[j] = ep, t0
            self._reset_count[i] += 1
        ids = torch.as_tensor(idx, device=self.device)
        ep_t = torch.as_tensor(episodes, device=self.device)
        fr_t = torch.as_tensor(frames, device=self.device)
        global_frame = self._starts[ep_t] + fr_t
        self._episode[ids] = ep_t
        self._frame[ids] = fr_t
        self._chunk_step[ids] = 0
        self._tokens[ids] = self._demo_tokens[global_frame]
        self._rgb[ids] = self._demo_frames[global_frame]  # the recorded frame, as the paper's env starts
        self._qpos[ids] = self._demo_qpos[global_frame]
        self._needs_reset[ids] = False

    # ------------------------------------------------------------------ step
    def _validate_action(self, actions: Any) -> torch.Tensor:
        expected = (self.num_envs, *self.single_action_space.shape)
        if isinstance(actions, np.ndarray | list | tuple):
            actions = np.asarray(actions, dtype=np.float32)
        actions = torch.as_tensor(actions, dtype=torch.float32, device=self.device)
        if tuple(actions.shape) != expected:
            raise ValueError(
                f"action has shape {tuple(actions.shape)}; {self.robot.name} with chunk_size "
                f"{self.cfg.chunk_size} expects {expected} (num_envs, K, action_dim)"
            )
        if not bool(torch.isfinite(actions).all()):
            raise ValueError(f"action contains NaN or inf values (expected finite joint targets of shape {expected})")
        return actions

    def step(self, actions: Any):
        """actions: (num_envs, K, A) -> obs, reward (N,), terminated (N,), truncated (N,), info."""
        actions = self._validate_action(actions)  # rejected actions leave the env untouched
        if bool(self._needs_reset.any()):
            raise RuntimeError("call reset() before step(); with autoreset=False, reset finished episodes")
        clipped_actions = torch.minimum(torch.maximum(actions, self._low), self._high)
        clipped = (clipped_actions != actions).flatten(1).sum(1)

        noise = self._noise()
        pred = self.stack.predict(self._tokens, clipped_actions, noise, self.euler_steps)
        rgb = self.stack.render(pred)

        k = self.cfg.chunk_size
        last = self._lengths[self._episode] - 1
        new_frame = torch.minimum(self._frame + k, last)
        goal = self._demo_tokens[self._goal_index(self._episode)]
        goal_mode = self.cfg.reward_mode == "goal"
        ref = goal if goal_mode else self._demo_tokens[self._starts[self._episode] + new_frame]
        reward, err = video_aligned_reward(pred, ref, self.cfg.reward_scale)
        goal_err = err if goal_mode else token_l1(pred, goal)

        terminated = self._frame + k >= last
        self._chunk_step += 1
        truncated = (self._chunk_step >= self.cfg.max_chunk_steps) & ~terminated
        done = terminated | truncated
        success = done & (goal_err <= self.cfg.success_threshold)

        self._tokens = pred
        self._rgb = rgb
        self._qpos = self.robot.to_full_qpos(clipped_actions[:, -1])
        self._frame = new_frame
        self._flow_count += 1

        info: dict[str, Any] = {
            "reward_l1": err,
            "goal_l1": goal_err,
            "success": success,
            "clipped": clipped,
            "chunk_step": self._chunk_step.clone(),
        }
        obs = self._observation()
        if bool(done.any()):
            info["final_obs"] = obs
            info["_final_obs"] = done
            if self.autoreset:
                self._reset_envs(done.cpu().numpy())
                obs = self._observation()
            else:
                self._needs_reset |= done
        info["demo"] = self._episode.clone()
        info["frame"] = self._frame.clone()
        return obs, reward, terminated, truncated, info

    def _noise(self) -> torch.Tensor:
        """Flow noise per world from (seed, stream 5, global env index, flow-step counter)."""
        shape = self.stack.latent_shape
        draws = [
            env_rng(self._seed, FLOW_NOISE, self.global_env_offset + i, int(self._flow_count[i])).standard_normal(
                shape, dtype=np.float32
            )
            for i in range(self.num_envs)
        ]
        return torch.from_numpy(np.stack(draws)).to(self.device)

    # ------------------------------------------------------------------ views
    def _observation(self):
        if self.cfg.obs_mode == "dict":
            return {"rgb": self._rgb.clone(), "tokens": self._tokens.clone(), "qpos": self._qpos.clone()}
        return self._rgb.clone()

    def _reset_info(self) -> dict[str, Any]:
        return {"demo": self._episode.clone(), "frame": self._frame.clone()}

    def demo_frames(self) -> torch.Tensor:
        """The time-synced demo frame of every world, (N, H, W, 3) uint8."""
        return self._demo_frames[self._starts[self._episode] + self._frame]

    def render(self) -> np.ndarray | None:
        """Prediction | time-synced demo frame, side by side: (N, H, 2W, 3) uint8."""
        if self.render_mode != "rgb_array":
            return None
        return torch.cat([self._rgb, self.demo_frames()], dim=2).cpu().numpy()

    def close_extras(self, **kwargs: Any) -> None:
        self._demo_tokens = self._demo_frames = None  # free device memory
