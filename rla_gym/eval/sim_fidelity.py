"""Fidelity against the simulator: ManiSkill and the world model from the same start frame, the same action chunks.

ManiSkill executes the chunks and its frames after every chunk are the truth. Each predictor (RLA-WM at the
bundle's Euler steps, the direct-regression baseline when the bundle ships one, copy-first-frame) starts from the
first sim frame's tokens and rolls out open loop, its own tokens fed back. Per chunk step: token L1 against the sim
frame's tokens (the bundle's encoder), SSIM of the UNet render against the sim frame, both at the bundle's size
(sim frames resized with antialiasing, the training pipeline). The Euler sweep scores RLA-WM at each step count on
the first source's windows. Rollout and scores are `rla_gym.eval.open_loop`'s; this module holds the ManiSkill side
(replays, policy windows) and the evaluation over sources.

Action sources:
- held-out demos: each episode's recorded joint targets replayed in ManiSkill from its seed (collection seed +
  trajectory id: `rla-gym collect --seed S` gives traj_000i the seed S + i); the replay is checked against the
  recorded video (mean absolute pixel error, success agreement) so a wrong seed shows in the table. Windows of
  `chunks` chunks start every `stride` steps.
- policies: `policy(rgb, qpos) -> (K, A)` chunks (BC, RL as `SimPolicy`) run closed loop in ManiSkill from
  evaluation seeds, seeing the neural preprocessing as in `rla_gym.sim.evaluate`; the world model gets the same
  chunks open loop.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rla_gym.data.split_metadata import episode_seed
from rla_gym.data.video import resize_frames
from rla_gym.eval import open_loop
from rla_gym.models.bundle import Bundle
from rla_gym.models.regression import RegressionWorldModel
from rla_gym.models.stack import WorldModelStack

log = logging.getLogger(__name__)

LEGACY_HELDOUT_SEED = (
    100_000  # the shipped bundle's held-out split (--seed 100000), collected before seeds were recorded
)
EULER_SWEEP = (30, 10, 4, 1)
SimPolicyFn = Callable[[np.ndarray, np.ndarray], np.ndarray]  # rgb (H, W, 3) uint8, qpos (J,) -> (K, A)


@dataclass
class Windows:
    """B open-loop comparisons of N chunks each, from one action source."""

    frames: torch.Tensor  # (B, N + 1, S, S, 3) uint8 sim frames at the stack's size: before chunk 0 .. after chunk N-1
    chunks: torch.Tensor  # (B, N, K, A) joint targets executed in ManiSkill
    where: list[str] = field(default_factory=list)  # per window: "<episode key or seed>@t0"
    check: dict[str, float] = field(default_factory=dict)  # replay check (demo sources)

    def __post_init__(self) -> None:
        b, n1 = self.frames.shape[:2]
        if tuple(self.chunks.shape[:2]) != (b, n1 - 1):
            raise ValueError(
                f"frames {tuple(self.frames.shape)} and chunks {tuple(self.chunks.shape)} disagree: "
                "expected (B, N + 1, S, S, 3) frames for (B, N, K, A) chunks"
            )


# ---------------------------------------------------------------------------------------------- ManiSkill side
class _Frames:
    """The frame the stack sees from a ManiSkill observation: RGB of env 0, masked when the bundle was trained so."""

    def __init__(self, env, masked: bool) -> None:
        self.masked = masked
        if masked:
            from rla_gym.sim.scripted.record import background_ids

            self.background = background_ids(env.unwrapped)

    def __call__(self, obs: dict) -> tuple[np.ndarray, np.ndarray]:
        """-> (raw frame, frame for the stack), each (H, W, 3) uint8."""
        from rla_gym.sim.make import rgb_frames

        raw = np.array(rgb_frames(obs)[0])
        if not self.masked:
            return raw, raw
        from rla_gym.sim.scripted.record import foreground_mask

        mask = foreground_mask(obs, self.background)
        if mask is None:
            raise ValueError("the bundle was trained on masked frames; make the env with obs_mode='rgb+segmentation'")
        return raw, raw * mask[..., None].astype(np.uint8)


def make_env(robot: str, task: str, size: int, masked: bool):
    """A ManiSkill env for open-loop comparisons: no time limit in the way, segmentation when frames are masked."""
    from rla_gym.sim.make import make_sim_env

    obs_mode = "rgb+segmentation" if masked else "rgb"
    return make_sim_env(robot, task, size=size, obs_mode=obs_mode, max_episode_steps=100_000)


def replay(env, seed: int, targets: np.ndarray, masked: bool = False) -> tuple[np.ndarray, np.ndarray, bool]:
    """Reset with `seed`, execute `targets` (T, A) one row per step -> raw frames (T + 1, H, W, 3), frames for the
    stack (T + 1, H, W, 3), and whether the simulator reported success on any step."""
    view = _Frames(env, masked)
    obs, _ = env.reset(seed=seed)
    raw, seen = zip(*[view(obs)])
    raw, seen, success = list(raw), list(seen), False
    for action in targets:
        obs, _, _, _, info = env.step(np.asarray(action, np.float32))
        success |= bool(info["success"].item() if hasattr(info["success"], "item") else info["success"])
        r, s = view(obs)
        raw.append(r)
        seen.append(s)
    return np.stack(raw), np.stack(seen), success


def demo_windows(
    env,
    root: Path,
    image_size: int,
    chunk: int,
    chunks: int,
    *,
    stride: int = 10,
    max_episodes: int | None = None,
    seed_base: int = LEGACY_HELDOUT_SEED,
    masked: bool = False,
    progress: bool = False,
) -> Windows:
    """Held-out episodes replayed in ManiSkill from their seeds, cut into windows of `chunks` chunks of `chunk`
    recorded targets; `check` holds the replay's pixel error against the recorded video and the success agreement."""
    from tqdm.auto import tqdm

    from rla_gym.data.dataset import EpisodeDataset

    dataset = EpisodeDataset(Path(root), cache_size=0, with_mask=False)
    span = chunk * chunks
    usable = [i for i in range(len(dataset)) if dataset.header(i).num_steps >= span]
    if not usable:
        raise ValueError(f"no episode under {root} has {span} steps (chunks {chunks} x chunk {chunk}) to replay")
    usable = usable[:max_episodes] if max_episodes else usable
    frames, targets, where, errors, agree = [], [], [], [], []
    for i in tqdm(usable, desc="replay held-out demos", unit="ep", disable=not progress):
        episode = dataset[i]
        seed = episode_seed(dataset.paths[i], seed_base)
        raw, seen, success = replay(env, seed, episode.target_qpos, masked)
        recorded = resize_frames(episode.frames, raw.shape[1:3])
        errors.append(float(np.abs(raw[: len(recorded)].astype(np.float32) - recorded.astype(np.float32)).mean()))
        agree.append(success == bool(episode.success))
        seen = resize_frames(seen, image_size)
        for t0 in range(0, episode.num_steps - span + 1, stride):
            frames.append(torch.from_numpy(seen[t0 : t0 + span + 1 : chunk].copy()))
            targets.append(torch.from_numpy(episode.target_qpos[t0 : t0 + span]).view(chunks, chunk, -1))
            where.append(f"{dataset.key(i)}@{t0}")
    check = {
        "episodes": len(usable),
        "pixel_mae": float(np.mean(errors)),
        "success_agreement": float(np.mean(agree)),
        "seed_base": seed_base,
    }
    return Windows(torch.stack(frames), torch.stack(targets), where, check)


def policy_windows(
    env,
    policy: SimPolicyFn,
    seeds: list[int],
    image_size: int,
    chunks: int,
    *,
    preprocess: Callable[[np.ndarray], np.ndarray] | None = None,
    masked: bool = False,
) -> Windows:
    """One window per seed: the policy acts closed loop in ManiSkill for `chunks` chunks (it sees `preprocess` of
    the sim frame, as in evaluation); every chunk's rows are executed and recorded."""
    from rla_gym.sim.make import rgb_frames

    view = _Frames(env, masked)
    frames, chunk_list, where = [], [], []
    for seed in seeds:
        obs, _ = env.reset(seed=int(seed))
        seen_frames, executed = [view(obs)[1]], []
        for _ in range(chunks):
            raw = rgb_frames(obs)[:1]  # (1, H, W, 3) uint8
            shown = raw if preprocess is None else preprocess(raw)
            chunk = np.asarray(policy(shown[0], obs["agent"]["qpos"][0].cpu().numpy()), dtype=np.float32)
            if executed and chunk.shape != executed[0].shape:
                raise ValueError(f"policy returned chunks of shape {executed[0].shape} then {chunk.shape}")
            for action in chunk:
                obs, *_ = env.step(action)
            executed.append(chunk)
            seen_frames.append(view(obs)[1])
        frames.append(torch.from_numpy(resize_frames(np.stack(seen_frames), image_size)))
        chunk_list.append(torch.from_numpy(np.stack(executed)))
        where.append(f"seed {seed}@0")
    return Windows(torch.stack(frames), torch.stack(chunk_list), where)


# ---------------------------------------------------------------------------------------------- world-model side
@torch.no_grad()
def encode(stack: WorldModelStack, frames: torch.Tensor, batch: int) -> torch.Tensor:
    """(B, N + 1, S, S, 3) uint8 -> tokens (B, N + 1, L, C) on the stack's device."""
    flat = frames.flatten(0, 1)
    tokens = torch.cat([stack.encode(part) for part in flat.split(batch)])
    return tokens.view(*frames.shape[:2], *tokens.shape[1:])


def score(
    stack: WorldModelStack, windows: Windows, tokens: torch.Tensor, preds: torch.Tensor, batch: int
) -> list[dict[str, float]]:
    """Per chunk step k = 1..N: horizon (env steps), token L1, SSIM and PSNR against the sim frames
    (`open_loop.score`)."""
    chunk = windows.chunks.shape[2]
    return open_loop.score(stack, preds, tokens[:, 1:], windows.frames[:, 1:], chunk=chunk, batch=batch)


def evaluate(
    bundle: Bundle,
    sources: dict[str, Windows],
    regression: RegressionWorldModel | None = None,
    euler: tuple[int, ...] = EULER_SWEEP,
    batch: int = 32,
) -> dict:
    """Every predictor on every source, and RLA-WM's Euler sweep on the first source. `_previews` (tensors, for
    the strip image) is popped by the caller before the results are written as JSON."""
    if not sources:
        raise ValueError("no action source to compare: give held-out demos or at least one policy")
    stack = bundle.stack.eval()
    dynamics_by_name = open_loop.predictors(stack, bundle.regression if regression is None else regression)
    noise = {
        model: torch.Generator().manual_seed(0) for model in dynamics_by_name
    }  # one stream per model, over sources
    out: dict = {"chunk": None, "chunks": None, "sources": {}, "euler_sweep": {}, "_previews": {}}
    first = next(iter(sources))
    for name, windows in sources.items():
        tokens = encode(stack, windows.frames, batch)
        models, previews = {}, {}
        for model, dynamics in dynamics_by_name.items():
            preds = open_loop.rollout(dynamics, tokens[:, 0], windows.chunks, batch=batch, generator=noise[model])
            models[model] = {"horizons": score(stack, windows, tokens, preds, batch)}
            previews[model] = preds[:1]
        out["sources"][name] = {"windows": len(windows.where), "models": models}
        if windows.check:
            out["sources"][name]["check"] = windows.check
        out["_previews"][name] = (windows.frames[:1], tokens[:1], previews)
        out["chunk"], out["chunks"] = int(windows.chunks.shape[2]), int(windows.chunks.shape[1])
        if name == first:
            for n in euler:
                preds = open_loop.rollout(stack.dynamics(n), tokens[:, 0], windows.chunks, batch=batch)
                out["euler_sweep"][int(n)] = score(stack, windows, tokens, preds, batch)[-1]
            out["euler_source"] = name
    return out


def against_maniskill(
    bundle: Bundle,
    task: str,
    heldout: Path,
    policies: list = (),
    *,
    size: int = 128,
    chunks: int = 4,
    stride: int = 16,
    max_episodes: int | None = 8,
    policy_seeds: list[int] = (),
    seed_base: int = LEGACY_HELDOUT_SEED,
    regression: RegressionWorldModel | None = None,
    euler: tuple[int, ...] = EULER_SWEEP,
    progress: bool = False,
) -> dict:
    """The whole comparison in one ManiSkill env: the held-out demos' windows, then one window per seed of each
    `policies` entry (`rla_gym.eval.policies.PolicyEntry`, acting closed loop), every predictor scored on each
    (`evaluate`; `_previews` for the strip is popped by the caller)."""
    from rla_gym.agents.bc import SimPolicy
    from rla_gym.envs.config import WorldModelEnvConfig
    from rla_gym.eval.policies import load_policy
    from rla_gym.sim.evaluate import stack_preprocess

    stack = bundle.stack
    masked = bool(bundle.metadata.get("masked", False))
    env = make_env(bundle.robot, task, size, masked)
    sources = {}
    try:
        sources["held-out demos"] = demo_windows(
            env, heldout, stack.image_size, WorldModelEnvConfig.chunk_size, chunks, stride=stride,
            max_episodes=max_episodes, seed_base=seed_base, masked=masked, progress=progress,
        )  # fmt: skip
        for entry in policies:
            policy = load_policy(entry, bundle, stack.device)
            sources[f"{entry.name} actions"] = policy_windows(
                env, SimPolicy(policy.act, bundle.robot, stack.device), list(policy_seeds), stack.image_size, chunks,
                preprocess=stack_preprocess(stack) if policy.preprocess else None, masked=masked,
            )  # fmt: skip
    finally:
        env.close()
    return evaluate(bundle, sources, regression, euler)
