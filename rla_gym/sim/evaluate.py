"""Evaluate a policy in the real simulator, the way the paper scores its world-model-trained policies (reference 7.4).

    result = evaluate(policy, "ur10e", "RollBall", seeds=SELECTION_SEEDS)  # rla_gym.specs.seeds: 42-91
    print(result.summary())  # success rate with a 95 % Wilson interval

`policy(rgb (H, W, 3) uint8, qpos (J,)) -> (K, A)` absolute joint targets; each chunk is executed
open loop, one env step per row, and the episode ends when the simulator terminates (success) or at
`max_steps`. Success is the simulator's own `info["success"]` after the last executed step. A
policy with a `reset(env, seed)` method is told about every new episode (scripted policies read the
simulator's state through it). `neural_preprocess(frames) -> frames` is applied to each observation
first: the paper passes sim frames through its encoder and UNet so that a policy trained on
world-model images sees the same kind of image (`stack_preprocess(stack)` builds it for a stack).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rla_gym.specs.seeds import SELECTION_SEEDS
from rla_gym.specs.tasks import check_pair

logger = logging.getLogger(__name__)

Policy = Callable[[np.ndarray, np.ndarray], np.ndarray]
Preprocess = Callable[[np.ndarray], np.ndarray]  # (B, H, W, 3) uint8 -> (B, H, W, 3) uint8


@dataclass(frozen=True)
class SeedResult:
    seed: int
    success: bool  # the simulator's info["success"] after the last executed step
    steps: int  # env steps executed
    episode_return: float  # sum of the env's rewards (ManiSkill's normalized dense reward)
    video: Path | None = None


@dataclass(frozen=True)
class EvalResult:
    robot: str
    task: str
    episodes: list[SeedResult] = field(default_factory=list)

    @property
    def successes(self) -> int:
        return sum(e.success for e in self.episodes)

    @property
    def success_rate(self) -> float:
        return self.successes / len(self.episodes) if self.episodes else 0.0

    @property
    def ci95(self) -> tuple[float, float]:
        """95 % Wilson score interval of the success rate."""
        return wilson_interval(self.successes, len(self.episodes))

    @property
    def mean_return(self) -> float:
        return float(np.mean([e.episode_return for e in self.episodes])) if self.episodes else 0.0

    def summary(self) -> str:
        lo, hi = self.ci95
        return (
            f"{self.task} ({self.robot}): success {100 * self.success_rate:.1f} % "
            f"({self.successes}/{len(self.episodes)}, 95 % CI {100 * lo:.1f}-{100 * hi:.1f} %), "
            f"mean return {self.mean_return:.2f}"
        )


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for `successes` out of `n` Bernoulli trials ((0, 1) when n is 0)."""
    if n == 0:
        return 0.0, 1.0
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, {n}]; got {successes}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def stack_preprocess(stack) -> Preprocess:
    """Frames -> the stack's own reconstruction at its size (`stack.view`: resized as the training data, encoded,
    rendered by the UNet): the image BC trained on and the world-model env shows, with no resize after it."""

    def run(frames: np.ndarray) -> np.ndarray:
        return stack.view(frames).cpu().numpy()

    return run


def evaluate(
    policy: Policy,
    robot: str,
    task: str,
    seeds: Iterable[int] = SELECTION_SEEDS,
    video_dir: str | Path | None = None,
    neural_preprocess: Preprocess | None = None,
    size: int = 128,
    max_steps: int | None = None,
    *,
    use_preprocess: bool = True,
    env=None,
    progress: bool = False,
) -> EvalResult:
    """Roll `policy` out once per seed; see the module docstring.

    `use_preprocess=False` switches `neural_preprocess` off without removing it. `max_steps`
    defaults to the task's episode length. `env`: a `make_sim_env` env of this robot/task to reuse
    (left open); by default one is made at `size` pixels and closed at the end. Videos, when
    `video_dir` is given, are `<task>_seed<seed>.mp4`: the sim frame, and beside it the preprocessed
    frame when preprocessing is on. They hold one frame per policy call and play in real time: at
    control frequency / env steps per stored frame (e.g. 20 Hz / chunks of 8 = 2.5 fps).
    """
    spec, sim_task = check_pair(robot, task)
    limit = int(max_steps or sim_task.max_episode_steps)
    preprocess = neural_preprocess if use_preprocess else None
    seeds = [int(s) for s in seeds]
    own = env is None
    if own:
        from rla_gym.sim.make import make_sim_env

        env = make_sim_env(
            spec.name, sim_task.name, size=size, max_episode_steps=max(limit, sim_task.max_episode_steps)
        )
    if video_dir is not None:
        Path(video_dir).mkdir(parents=True, exist_ok=True)
    from tqdm.auto import tqdm

    results = []
    try:
        for seed in tqdm(seeds, desc=f"evaluate {sim_task.name}", unit="ep", disable=not progress):
            results.append(_rollout(env, policy, spec, sim_task.name, seed, limit, preprocess, video_dir))
    finally:
        if own:
            env.close()
    result = EvalResult(spec.name, sim_task.name, results)
    logger.info("%s", result.summary())
    return result


def _rollout(env, policy: Policy, spec, task: str, seed: int, limit: int, preprocess, video_dir) -> SeedResult:
    from rla_gym.sim.make import rgb_frames

    obs, _ = env.reset(seed=seed)
    if hasattr(policy, "reset"):
        policy.reset(env, seed)
    video: list[np.ndarray] = []
    steps, total, success, done = 0, 0.0, False, False
    while steps < limit and not done:
        raw = rgb_frames(obs)[:1]  # (1, H, W, 3) uint8
        seen = raw if preprocess is None else _checked_preprocess(preprocess, raw)
        if video_dir is not None:
            video.append(raw[0] if preprocess is None else np.concatenate([raw[0], _shown(seen[0], raw[0])], axis=1))
        qpos = obs["agent"]["qpos"][0].cpu().numpy()
        chunk = _checked_chunk(policy(seen[0], qpos), spec)
        for action in chunk:
            obs, reward, terminated, truncated, info = env.step(action)
            steps += 1
            total += float(reward.item() if hasattr(reward, "item") else reward)
            success = bool(info["success"].item() if hasattr(info["success"], "item") else info["success"])
            done = bool(terminated) or steps >= limit
            if done:
                break
    path = None
    if video_dir is not None and video:
        from rla_gym.data.video import write_video

        path = Path(video_dir) / f"{task}_seed{seed}.mp4"
        write_video(path, np.stack(video), fps=real_time_fps(env, len(video), steps))
    return SeedResult(seed, success, steps, total, path)


def real_time_fps(env, frames: int, steps: int) -> float:
    """Frame rate that plays `frames` stored over `steps` env steps in real time: a video of one frame
    per policy call at the control frequency would run chunk-length times too fast."""
    control_freq = float(env.unwrapped.control_freq)  # env steps per simulated second
    return control_freq * frames / max(steps, 1)


def _checked_chunk(chunk, spec) -> np.ndarray:
    chunk = np.asarray(chunk, dtype=np.float32)
    if chunk.ndim == 1:
        chunk = chunk[None]
    if chunk.ndim != 2 or chunk.shape[1] != spec.action_dim or chunk.shape[0] == 0:
        raise ValueError(
            f"policy returned an action chunk of shape {chunk.shape}; {spec.name} expects (K, {spec.action_dim}) "
            "absolute joint targets with K >= 1"
        )
    return chunk


def _checked_preprocess(preprocess: Preprocess, frames: np.ndarray) -> np.ndarray:
    """The preprocessed frames: uint8 (B, S, S, 3), B as the input's; S may differ (a stack's own size)."""
    out = np.asarray(preprocess(frames))
    if out.dtype != np.uint8 or out.ndim != 4 or out.shape[0] != frames.shape[0] or out.shape[-1] != 3:
        raise ValueError(
            f"neural_preprocess returned {out.dtype} {out.shape}; expected uint8 ({frames.shape[0]}, S, S, 3)"
        )
    if out.shape[1] != out.shape[2]:
        raise ValueError(f"neural_preprocess returned {out.shape}; expected square frames (B, S, S, 3)")
    return out


def _shown(seen: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """The policy's frame at the camera frame's size, for the side-by-side video only (nearest: no new blur)."""
    if seen.shape == raw.shape:
        return seen
    rows = np.arange(raw.shape[0]) * seen.shape[0] // raw.shape[0]
    cols = np.arange(raw.shape[1]) * seen.shape[1] // raw.shape[1]
    return seen[rows][:, cols]
