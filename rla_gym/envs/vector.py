"""RLAWorldModel-v0 as a batched `gymnasium.vector.VectorEnv`: every world steps together in torch.

One `step` moves all `num_envs` worlds forward by one action chunk: one `Dynamics` step (`dynamics="rla-wm"`:
condition network once, N Euler steps, RLA decoder; `"regression"`: the bundle's direct-regression baseline;
`"copy"`: the tokens stay), then the UNet, then `self.reference` (a public `DemoReference`: the demo tokens, the reward
and the success test) scores it. The predicted tokens become the next state without re-encoding. Outputs are
torch tensors on the env's device, as ManiSkill's GPU envs return them; wrap with
`rla_gym.envs.numpy_wrapper.NumpyVectorEnv` (or use `SB3VecEnv`) for numpy.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from rla_gym.envs.bundles import resolve_bundle
from rla_gym.envs.config import WorldModelEnvConfig, check_int
from rla_gym.envs.demo_reference import DemoReference, calibrated_threshold
from rla_gym.envs.reset_sampler import ResetSampler
from rla_gym.envs.seeding import EXTRA_DRAWS, FLOW_NOISE, env_rng
from rla_gym.envs.uncertainty import Disagreement
from rla_gym.models.bundle import Bundle, BundleError
from rla_gym.models.device import resolve_device
from rla_gym.specs import TASKS, RobotSpec, SimTask, check_pair, get_robot

AUTORESET_MODES = tuple(mode.value for mode in AutoresetMode)
DEFAULT_REWARD_MODE = "aligned"  # for a bundle that names no task
RESET_OPTIONS = ("demo", "frame", "reset_mask", "env_mask", "start_frames")
STEP_ONLY_INFO = (
    "reward_l1",
    "goal_l1",
    "success",
    "clipped",
    "chunk_step",
    "uncertainty",
)  # describe a transition, not a state

log = logging.getLogger(__name__)


class RLAWorldModelVectorEnv(VectorEnv):
    """Vectorized world-model env.

    Action: `(num_envs, K, A)` absolute joint targets (K = chunk_size), clipped to the robot's limits
    (clipped entries counted in `info["clipped"]`). Observation: UNet-rendered RGB `(num_envs, H, W, 3)`
    uint8, or a dict with `rgb`, `tokens` and `qpos` when `obs_mode="dict"`. Reward: the video-aligned
    reward, `self.reference.reward` (a planner calls it too). An episode terminates when its reference demo runs out (nothing left to be rewarded
    against, as the paper's PPO treats it) and truncates after `max_chunk_steps` chunk steps.

    `autoreset_mode` (declared in `metadata["autoreset_mode"]`) is one of Gymnasium's three:
    SameStep (default): finished worlds reset in the step that ends them; the finished episode's last
    observation and info are `info["final_obs"]` and `info["final_info"]` (masks `_final_obs`,
    `_final_info`), the top level describes the new episode. NextStep: the step after the end resets
    those worlds (their action is ignored, reward 0). Disabled: reset finished worlds yourself with
    `reset(options={"reset_mask": mask})`. Where a world reset within a step, the per-transition info
    keys (`reward_l1`, `goal_l1`, `success`, `clipped`, `chunk_step`) are 0 there and masked by
    `_reward_l1` etc., as Gymnasium's vector envs do.
    """

    # render_fps: one rendered frame per chunk step; autoreset_mode: each env declares its own
    metadata = {"render_modes": ["rgb_array"], "render_fps": 10, "autoreset_mode": AutoresetMode.SAME_STEP}

    def __init__(
        self,
        num_envs: int = 1,
        robot: str = "ur10e",
        task: str | None = None,
        bundle: str | os.PathLike | Bundle | None = None,
        device: str | torch.device = "auto",
        config: WorldModelEnvConfig | None = None,
        global_env_offset: int = 0,
        autoreset_mode: AutoresetMode | str = AutoresetMode.SAME_STEP,
        render_mode: str | None = "rgb_array",
        **overrides: Any,
    ):
        spec = get_robot(robot)
        check_int("num_envs", num_envs, 1)
        check_int("global_env_offset", global_env_offset, 0)
        self.autoreset_mode = _autoreset_mode(autoreset_mode)
        if config is not None and overrides:
            raise ValueError(f"pass settings either in config or as keywords, not both: {sorted(overrides)}")
        cfg = config or WorldModelEnvConfig(**overrides)
        sim_task = None if task is None else _check_task(spec, task)
        self.device = resolve_device(device)
        self.bundle = resolve_bundle(bundle, spec.name, sim_task.name if sim_task else None, self.device)
        if sim_task is None and self.bundle.task is not None:
            sim_task = _check_task(spec, self.bundle.task)
        if self.bundle.demos is None or self.bundle.demos.num_episodes == 0:
            raise BundleError(f"bundle {self.bundle.path} has an empty demo set: resets need demo frames")
        self.stack = self.bundle.stack.to(self.device).eval()
        self.robot = spec
        self.task = sim_task.name if sim_task else None
        self.num_envs = num_envs
        self.global_env_offset = global_env_offset
        self.render_mode = render_mode
        self.metadata = {**type(self).metadata, "autoreset_mode": self.autoreset_mode}
        # resolved once: None means the task's reward mode and the bundle's Euler steps
        self.cfg = dataclasses.replace(
            cfg,
            reward_mode=cfg.reward_mode or (sim_task.wm_reward if sim_task else DEFAULT_REWARD_MODE),
            euler_steps=cfg.euler_steps if cfg.euler_steps is not None else self.stack.config.euler_steps,
            success_threshold=_success_threshold(cfg, self.bundle),
        )
        self.euler_steps: int = self.cfg.euler_steps
        self.dynamics = self.bundle.dynamics(self.cfg.dynamics, self.euler_steps).to(self.device)  # one step
        if self.cfg.reward_draws > 1 and self.dynamics.noise_shape is None:
            raise ValueError(
                f"reward_draws={self.cfg.reward_draws} averages flow-noise draws; dynamics={self.cfg.dynamics!r} is "
                "deterministic: every draw is the same"
            )
        self.disagreement = (
            None
            if self.cfg.uncertainty is None
            else Disagreement(self.cfg.uncertainty, self.bundle, self.dynamics, self.cfg.dynamics, self.euler_steps)
        )
        k = self.cfg.chunk_size
        if k > self.stack.config.world_model.max_horizon:
            raise ValueError(
                f"chunk_size {k} exceeds the world model's max_horizon {self.stack.config.world_model.max_horizon}"
            )

        self.reference = DemoReference.from_bundle(  # the demos, encoded as reached, and the reward a planner uses too
            self.bundle,
            chunk_size=k,
            reward_mode=self.cfg.reward_mode,
            reward_scale=self.cfg.reward_scale,
            success_threshold=self.cfg.success_threshold,
            device=self.device,
        )
        self.sampler = ResetSampler(self.reference.episode_lengths, k, self.cfg.p_initial_frame)

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

    def _check_open(self) -> None:
        if self.closed:
            raise RuntimeError("this RLAWorldModel env is closed; make a new one (gym.make_vec) to go on")

    def _explain_non_finite(self, actions: torch.Tensor, noise: torch.Tensor | None) -> str:
        from rla_gym.models.diagnose import explain_non_finite

        parts = dict(self.stack.components())
        if self.bundle.regression is not None:
            parts["regression"] = self.bundle.regression
        path, precision = self.bundle.path, self.cfg.precision
        return explain_non_finite(self.dynamics, parts, self._tokens, actions, noise, path, precision)

    # ------------------------------------------------------------------ reset
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Reset every world, or those in `options["reset_mask"]` (bool per env; `env_mask` is the old
        name). `seed` fixes all draws; `options` may pin `demo` and `frame` (int or one per env), and
        `start_frames` ((worlds reset, H, W, 3) uint8 camera frames at any size) starts those worlds from these
        frames instead of the demo frame (encoded and rendered as `WorldModelStack.view`: a ManiSkill scene, a
        planner's start), still rewarded against the drawn or pinned demo. Everything is validated first: a reset
        that raises leaves the env as it was."""
        self._check_open()
        options = dict(options or {})
        unknown = set(options) - set(RESET_OPTIONS)
        if unknown:
            raise ValueError(f"unknown reset options {sorted(unknown)}; valid: {', '.join(RESET_OPTIONS)}")
        if "reset_mask" in options and "env_mask" in options:
            raise ValueError("pass reset_mask or its old name env_mask, not both")
        if seed is not None:
            check_int("seed", seed, 0)
        name = "env_mask" if "env_mask" in options else "reset_mask"
        mask = self._reset_mask(name, options.get(name))
        demo, frame = self._per_env("demo", options.get("demo")), self._per_env("frame", options.get("frame"))
        reseed = seed is not None or self._seed is None
        new_seed = (int(seed) if seed is not None else _fresh_seed()) if reseed else self._seed
        counts = np.zeros_like(self._reset_count) if reseed else self._reset_count
        idx = np.flatnonzero(mask)
        episodes, frames = self._draw(idx, new_seed, counts, demo, frame)  # raises on a bad pin, changes nothing
        starts = self._start_frames(options.get("start_frames"), idx.size)  # checked before anything changes

        super().reset(seed=seed)
        if reseed:
            self._seed = new_seed
            self._reset_count[:] = 0
            self._flow_count[:] = 0
        start_tokens = None if starts is None else self.stack.encode_camera(starts)
        self._apply_reset(idx, episodes, frames, start_tokens)
        return self._observation(), self._reset_info()

    def _start_frames(self, value: Any, count: int) -> np.ndarray | None:
        """`start_frames` as a checked (count, H, W, 3) uint8 array; None if absent."""
        if value is None:
            return None
        frames = _as_numpy(value)
        if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[0] != count or frames.shape[-1] != 3:
            raise ValueError(
                f"start_frames: expected uint8 ({count}, H, W, 3), one camera frame per world reset; got "
                f"{frames.dtype} {tuple(frames.shape)}"
            )
        return frames

    def _reset_mask(self, name: str, value: Any) -> np.ndarray:
        if value is None:
            return np.ones(self.num_envs, dtype=bool)
        mask = _as_numpy(value)
        if mask.dtype != np.bool_:
            raise ValueError(f"{name} must be booleans, got dtype {mask.dtype}")
        if mask.shape != (self.num_envs,):
            got = f"{mask.size} entries" if mask.ndim == 1 else f"shape {mask.shape}"
            raise ValueError(f"{name} has {got}; expected {self.num_envs} (num_envs)")
        return mask

    def _per_env(self, name: str, value: Any) -> np.ndarray | None:
        """An int or one int per env (demo index, frame index) -> (num_envs,) int64."""
        if value is None:
            return None
        arr = _as_numpy(value)
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer) or arr.ndim > 1:
            raise ValueError(f"{name} must be an integer or one per env, got {value!r}")
        if arr.ndim == 1 and arr.size not in (1, self.num_envs):
            raise ValueError(f"{name} has {arr.size} entries; expected 1 or {self.num_envs} (num_envs)")
        return np.broadcast_to(arr.astype(np.int64), (self.num_envs,))

    def _draw(
        self, idx: np.ndarray, seed: int, counts: np.ndarray, demo: np.ndarray | None, frame: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Start (episode, frame) of worlds `idx`: drawn from (seed, global env index, reset count),
        or pinned. Pure: reads the counters, never moves them."""
        episodes, frames = np.empty(idx.size, np.int64), np.empty(idx.size, np.int64)
        for j, i in enumerate(idx):
            ep, t0 = self.sampler.draw(seed, self.global_env_offset + int(i), int(counts[i]))
            if demo is not None:
                ep = int(demo[i])
                t0 = 0 if frame is None else t0
            if frame is not None:
                t0 = int(frame[i])
            self.sampler.check(ep, t0)
            episodes[j], frames[j] = ep, t0
        return episodes, frames

    def _apply_reset(
        self, idx: np.ndarray, episodes: np.ndarray, frames: np.ndarray, start_tokens: torch.Tensor | None = None
    ) -> None:
        """Worlds `idx` start at (episode, frame) of the demos, from that frame's tokens or from `start_tokens`."""
        if idx.size == 0:
            return
        self._reset_count[idx] += 1
        ids = torch.as_tensor(idx, device=self.device)
        ep_t = torch.as_tensor(episodes, device=self.device)
        fr_t = torch.as_tensor(frames, device=self.device)
        ref, row = self.reference, self.reference.index(ep_t, fr_t)
        self._episode[ids] = ep_t
        self._frame[ids] = fr_t
        self._chunk_step[ids] = 0
        self._tokens[ids] = ref.frame_tokens(ep_t, fr_t) if start_tokens is None else start_tokens.to(self.device)
        self._rgb[ids] = self._render(self._tokens[ids])  # a render, like every observation
        self._qpos[ids] = ref.qpos[row]
        self._needs_reset[ids] = False

    def _autoreset(self, worlds: torch.Tensor) -> None:
        """Reset `worlds` (bool per env) with the next draws of the current seed."""
        idx = np.flatnonzero(worlds.cpu().numpy())
        self._apply_reset(idx, *self._draw(idx, self._seed, self._reset_count, None, None))

    # ------------------------------------------------------------------ step
    def _validate_action(self, actions: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (float32 actions clipped to the joint limits on the env device, clipped entries per env).

        Finiteness and clipping are checked in the caller's dtype: a huge but finite float64 target is
        clipped, not turned into inf by a float32 cast."""
        expected = (self.num_envs, *self.single_action_space.shape)
        if isinstance(actions, torch.Tensor):
            real = actions.dtype != torch.bool and not actions.is_complex()
        else:
            actions = np.asarray(actions)
            real = actions.dtype != np.bool_ and np.issubdtype(actions.dtype, np.number)
            real = real and not np.issubdtype(actions.dtype, np.complexfloating)
        if not real:
            raise TypeError(
                f"action has dtype {actions.dtype}; expected real joint targets (float32) of shape {expected}"
            )
        if tuple(actions.shape) != expected:
            raise ValueError(
                f"action has shape {tuple(actions.shape)}; {self.robot.name} with chunk_size "
                f"{self.cfg.chunk_size} expects {expected} (num_envs, K, action_dim)"
            )
        a = actions if isinstance(actions, torch.Tensor) else torch.tensor(actions)  # keeps the dtype
        if not a.is_floating_point() or a.dtype in (torch.float16, torch.bfloat16):
            a = a.float()
        if not bool(torch.isfinite(a).all()):
            raise ValueError(f"action contains NaN or inf values (expected finite joint targets of shape {expected})")
        low, high = self._low.to(a.device, a.dtype), self._high.to(a.device, a.dtype)
        inside = torch.clamp(a, low, high)
        clipped = (inside != a).flatten(1).sum(1).to(self.device)
        return inside.to(self.device, torch.float32), clipped

    def step(self, actions: Any):
        """actions: (num_envs, K, A) -> obs, reward (N,), terminated (N,), truncated (N,), info."""
        self._check_open()
        _refuse_numpy_only_wrappers()
        actions, clipped = self._validate_action(actions)  # rejected actions leave the env untouched
        if self._seed is None:
            raise RuntimeError("call reset() before the first step()")
        if self.autoreset_mode == AutoresetMode.NEXT_STEP:
            resetting = self._needs_reset.clone()  # ended last step: reset now, their action is ignored
        elif bool(self._needs_reset.any()):
            ended = torch.nonzero(self._needs_reset).flatten().tolist()
            why = "finished their episode and autoreset_mode is Disabled"
            why = why if self.autoreset_mode == AutoresetMode.DISABLED else "were never reset"
            raise RuntimeError(
                f"world(s) {ended} {why}: reset them first, "
                f"env.reset(options={{'reset_mask': mask}}) with mask True at those worlds"
            )
        else:
            resetting = torch.zeros_like(self._needs_reset)
        stepping = ~resetting

        noise = self._noise() if self.dynamics.noise_shape is not None else None
        pred = self.dynamics(self._tokens, actions, noise, precision=self.cfg.precision)
        if not bool(torch.isfinite(pred).all()):  # name the component and its file, not the next tensor checked
            raise FloatingPointError(self._explain_non_finite(actions, noise))
        rgb = self._render(pred)

        reward, err, goal_err = self.reference.reward(pred, self._episode, self._frame)
        draws = self._extra_draws(actions)
        if self.cfg.reward_draws > 1:  # the reward of each draw, averaged; goal and success stay the world's own
            scored = [self.reference.reward(d, self._episode, self._frame) for d in draws[: self.cfg.reward_draws - 1]]
            reward = torch.stack([reward, *(r for r, _, _ in scored)]).mean(0)
            err = torch.stack([err, *(e for _, e, _ in scored)]).mean(0)
        uncertainty = None
        if self.disagreement is not None:
            uncertainty = self.disagreement(self._tokens, actions, pred, draws, self.cfg.precision)
            reward = reward - self.cfg.uncertainty_penalty * uncertainty
        new_frame = self.reference.advance(self._episode, self._frame)
        terminated = self.reference.runs_out(self._episode, self._frame) & stepping
        chunk_step = self._chunk_step + stepping.long()
        truncated = (chunk_step >= self.cfg.max_chunk_steps) & ~terminated & stepping
        done = terminated | truncated
        success = self.reference.success(goal_err, done)
        reward = torch.where(stepping, reward, torch.zeros_like(reward))

        s = stepping
        self._tokens = torch.where(s[:, None, None], pred, self._tokens)
        self._rgb = torch.where(s[:, None, None, None], rgb, self._rgb)
        self._qpos = torch.where(s[:, None], self.robot.to_full_qpos(actions[:, -1]), self._qpos)
        self._frame = torch.where(s, new_frame, self._frame)
        self._chunk_step = chunk_step
        self._flow_count[s.cpu().numpy()] += 1

        info: dict[str, Any] = {
            "reward_l1": err,
            "goal_l1": goal_err,
            "success": success,
            "clipped": clipped,
            "chunk_step": chunk_step.clone(),
            "demo": self._episode.clone(),
            "frame": self._frame.clone(),
        }
        if uncertainty is not None:
            info["uncertainty"] = uncertainty
        if bool(resetting.any()):
            self._autoreset(resetting)
            info = self._new_episode_info(info, resetting)
        obs = self._observation()
        if bool(done.any()):
            if self.autoreset_mode == AutoresetMode.SAME_STEP:
                info["final_obs"], info["_final_obs"] = obs, done
                final = {**info, **{f"_{key}": done for key in info}}
                info["final_info"], info["_final_info"] = final, done.clone()
                self._autoreset(done)
                info = self._new_episode_info(info, done)
                obs = self._observation()
            else:
                self._needs_reset |= done
        return obs, reward, terminated, truncated, info

    def _new_episode_info(self, info: dict[str, Any], reset: torch.Tensor) -> dict[str, Any]:
        """Worlds in `reset` began a new episode within this step: the top level shows that episode's
        state (demo, frame) and masks out the transition keys, which belonged to the one before."""
        out = dict(info)
        for key in (k for k in STEP_ONLY_INFO if k in info):
            out[key] = torch.where(reset, torch.zeros_like(info[key]), info[key])
            out[f"_{key}"] = ~reset
        out["demo"], out["frame"] = self._episode.clone(), self._frame.clone()
        return out

    def _extra_draws(self, actions: torch.Tensor) -> list[torch.Tensor]:
        """Extra flow draws of this step (reward averaging, uncertainty='draws'), draw i from noise stream 6 + i."""
        count = max(self.cfg.reward_draws - 1, int(self.cfg.uncertainty == "draws"))
        return [
            self.dynamics(self._tokens, actions, self._noise(EXTRA_DRAWS + i), precision=self.cfg.precision)
            for i in range(count)
        ]

    def _noise(self, stream: int = FLOW_NOISE) -> torch.Tensor:
        """Flow noise per world from (seed, stream (5; 6 + i for extra draw i), global env index,
        flow-step counter)."""
        shape = self.dynamics.noise_shape
        draws = [
            env_rng(self._seed, stream, self.global_env_offset + i, int(self._flow_count[i])).standard_normal(
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
        self._check_open()
        return self.reference.frames[self.reference.index(self._episode, self._frame)]

    def demo_renders(self) -> torch.Tensor:
        """The UNet render of every world's time-synced demo frame, (N, H, W, 3) uint8: what a world observes right
        after a reset (one image pipeline: the first observation is a render like every other)."""
        self._check_open()
        return self._render(self.reference.frame_tokens(self._episode, self._frame))

    def _render(self, tokens: torch.Tensor) -> torch.Tensor:
        try:
            return self.stack.render(tokens, self.cfg.precision)
        except FloatingPointError as err:  # the stack does not know its folder: add it
            raise FloatingPointError(f"bundle {self.bundle.path}: {err}") from None

    def demo_actions(self) -> torch.Tensor:
        """The next chunk of joint targets each world's reference demo recorded, (N, K, A) float32 (the last row
        repeated past the demo's end): replaying them should reproduce the demo, an in-distribution baseline."""
        self._check_open()
        return self.reference.chunk_targets(self._episode, self._frame)

    def render(self) -> np.ndarray | None:
        """Prediction | time-synced demo frame, side by side: (N, H, 2W, 3) uint8."""
        self._check_open()
        if self.render_mode != "rgb_array":
            return None
        return torch.cat([self._rgb, self.demo_frames()], dim=2).cpu().numpy()

    def close_extras(self, **kwargs: Any) -> None:
        self.reference = None  # free the demo frames and tokens on the device


def _success_threshold(cfg: WorldModelEnvConfig, bundle: Bundle) -> float:
    """The config's threshold, else the bundle's calibrated one, else the paper's."""
    return calibrated_threshold(bundle) if cfg.success_threshold is None else float(cfg.success_threshold)


def _autoreset_mode(mode: AutoresetMode | str) -> AutoresetMode:
    try:
        return AutoresetMode(mode)
    except ValueError:
        raise ValueError(
            f"autoreset_mode {mode!r}; valid: {', '.join(AUTORESET_MODES)} (or gymnasium.vector.AutoresetMode)"
        ) from None


def _check_task(robot: RobotSpec, task: str) -> SimTask:
    """The task must be one of the robot's: its reward mode and episode length mean nothing elsewhere."""
    try:
        return check_pair(robot, task)[1]
    except ValueError as err:
        if task in TASKS or any(task == t.env_id for t in TASKS.values()):
            raise  # a known task of another robot: check_pair already names this robot's tasks
        raise ValueError(f"{err}; {robot.name} runs: {', '.join(robot.tasks)}") from None


def _as_numpy(value: Any) -> np.ndarray:
    return value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def _fresh_seed() -> int:
    return int(np.random.SeedSequence().entropy % (2**63))


def _refuse_numpy_only_wrappers() -> None:
    """Gymnasium's vector `RecordEpisodeStatistics` and `NormalizeReward` keep numpy arrays and fail deep inside on
    torch tensors; if one of them (through any other vector wrappers) is calling this env's step, say so, and name
    the numpy view that works. Walks the calling frames up to the first frame that is not a vector wrapper's."""
    from gymnasium.vector import VectorWrapper
    from gymnasium.wrappers.vector import NormalizeReward, RecordEpisodeStatistics

    from rla_gym.envs.numpy_wrapper import NumpyVectorEnv

    frame = sys._getframe(2)  # the caller of step()
    while frame is not None:
        caller = frame.f_locals.get("self")
        if not isinstance(caller, VectorWrapper) or isinstance(caller, NumpyVectorEnv):
            return  # a user's code, or the numpy boundary: what is above it sees numpy
        if isinstance(caller, (RecordEpisodeStatistics, NormalizeReward)):
            name = type(caller).__name__
            raise TypeError(
                f"gymnasium's vector {name} works on numpy arrays; this env returns torch tensors. Wrap the numpy "
                f"view instead: {name}(NumpyVectorEnv(env)) (from rla_gym.envs.numpy_wrapper import NumpyVectorEnv)"
            )
        frame = frame.f_back
