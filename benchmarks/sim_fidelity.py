"""Fidelity against the simulator: ManiSkill and the world model from the same start frame, the same action chunks.

ManiSkill executes the chunks and its frames after every chunk are the truth. Each predictor (RLA-WM at the
bundle's Euler steps, the direct-regression baseline when the bundle ships one, copy-first-frame) starts from the
first sim frame's tokens and rolls out open loop, its own tokens fed back. Per chunk step: token L1 against the sim
frame's tokens (the bundle's encoder), SSIM of the UNet render against the sim frame, both at the bundle's size
(sim frames resized with antialiasing, the training pipeline). The Euler sweep scores RLA-WM at each step count on
the first source's windows. Rollout, scores, strip and plot are `rla_gym.eval.open_loop`'s; this module holds the
ManiSkill side (replays, policy windows) and the table.

Action sources:
- held-out demos: each episode's recorded joint targets replayed in ManiSkill from its seed (collection seed +
  trajectory id: `rla-gym collect --seed S` gives traj_000i the seed S + i); the replay is checked against the
  recorded video (mean absolute pixel error, success agreement) so a wrong seed shows in the table. Windows of
  `chunks` chunks start every `stride` steps.
- policies: `policy(rgb, qpos) -> (K, A)` chunks (BC, RL as `SimPolicy`) run closed loop in ManiSkill from
  evaluation seeds, seeing the neural preprocessing as in `rla_gym.sim.evaluate`; the world model gets the same
  chunks open loop.

    python -m benchmarks.sim_fidelity --bundle models/ur10e-RollBall-cpu --heldout HELDOUT --out DIR
"""

from __future__ import annotations

import argparse
import json
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


# ---------------------------------------------------------------------------------------------- outputs
def table(results: dict) -> str:
    """Markdown: per source, each predictor's token L1 and SSIM per chunk step; the replay check; the Euler sweep."""
    lines = []
    for name, src in results["sources"].items():
        models = src["models"]
        hs = [r["horizon"] for r in next(iter(models.values()))["horizons"]]
        lines += [
            f"**{name}** ({src['windows']} windows)",
            "",
            "| model | "
            + " | ".join(f"token L1 t+{h}" for h in hs)
            + " | "
            + " | ".join(f"SSIM t+{h}" for h in hs)
            + " |",
            "|---|" + "---:|" * (2 * len(hs)),
        ]
        for model, m in models.items():
            l1 = " | ".join(f"{r['token_l1']:.4f}" for r in m["horizons"])
            ssim = " | ".join(f"{r['ssim']:.3f}" for r in m["horizons"])
            lines.append(f"| {model} | {l1} | {ssim} |")
        check = src.get("check")
        if check:
            lines += [
                "",
                f"Replay check ({check['episodes']} episodes, seeds {check['seed_base']} + trajectory id): mean "
                f"|sim - recorded| {check['pixel_mae']:.2f} grey levels (0-255, the recorded video is H.264), "
                f"simulator success agrees with the recording in {100 * check['success_agreement']:.0f} %.",
            ]
        lines.append("")
    if results.get("euler_sweep"):
        last = next(iter(results["euler_sweep"].values()))["horizon"]
        lines += [
            f"RLA-WM Euler steps on {results['euler_source']}, at t+{last}:",
            "",
            "| Euler steps | token L1 | SSIM |",
            "|---:|---:|---:|",
        ]
        for n, row in results["euler_sweep"].items():
            lines.append(f"| {n} | {row['token_l1']:.4f} | {row['ssim']:.3f} |")
    return "\n".join(lines).rstrip() + "\n"


def plot_error_vs_horizon(results: dict, path: Path) -> Path:
    """Token L1 and SSIM against open-loop steps: one colour per predictor, one line style per source."""
    curves = {name: {m: r["horizons"] for m, r in src["models"].items()} for name, src in results["sources"].items()}
    return open_loop.plot_error_vs_horizon(curves, path, truth="ManiSkill")


def strip_image(stack: WorldModelStack, previews: dict, path: Path) -> Path:
    """Per source: a row of ManiSkill frames, then one row per predictor (copy-first left out), at t0 + k K."""
    import imageio.v2 as imageio

    rows = [open_loop.strip(stack, frames, tokens[:, 0], preds) for frames, tokens, preds in previews.values()]
    imageio.imwrite(path, np.concatenate(rows))
    return path


def write_outputs(bundle: Bundle, results: dict, out: Path, task: str) -> dict:
    """Figure and strip into `out`; returns the JSON-able results with the figure names."""
    out.mkdir(parents=True, exist_ok=True)
    previews = results.pop("_previews")
    figures = [
        plot_error_vs_horizon(results, out / "fidelity_error_vs_horizon.png").name,
        strip_image(bundle.stack, previews, out / f"fidelity_strip_{task}.png").name,
    ]
    results["figures"] = figures
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", default=None, help="bundle folder or hub id (default: the embedded default)")
    parser.add_argument("--heldout", type=Path, required=True, help="held-out episodes collected in ManiSkill")
    parser.add_argument("--seed-base", type=int, default=LEGACY_HELDOUT_SEED, help="the held-out split's --seed")
    parser.add_argument("--episodes", type=int, default=8)
    parser.add_argument("--chunks", type=int, default=4)
    parser.add_argument("--stride", type=int, default=16)
    parser.add_argument("--sim-size", type=int, default=128)
    parser.add_argument("--out", type=Path, default=Path("out/sim_fidelity"))
    args = parser.parse_args(argv)

    from rla_gym.envs.config import WorldModelEnvConfig
    from rla_gym.models.bundle import load_bundle, resolve_bundle_path
    from rla_gym.models.zoo import default_bundle_path

    path = resolve_bundle_path(args.bundle or default_bundle_path("ur10e", "RollBall"))
    bundle = load_bundle(path)
    masked = bool(bundle.metadata.get("masked", False))
    env = make_env(bundle.robot, bundle.task, args.sim_size, masked)
    try:
        windows = demo_windows(
            env, args.heldout, bundle.stack.image_size, WorldModelEnvConfig.chunk_size, args.chunks, stride=args.stride,
            max_episodes=args.episodes, seed_base=args.seed_base, masked=masked, progress=True,
        )  # fmt: skip
    finally:
        env.close()
    results = write_outputs(bundle, evaluate(bundle, {"held-out demos": windows}), args.out, bundle.task)
    (args.out / "sim_fidelity.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    return results


if __name__ == "__main__":
    main()
