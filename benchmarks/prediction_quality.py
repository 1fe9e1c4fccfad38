"""Prediction quality on held-out episodes: RLA-WM against the direct-regression baseline and "copy the first frame".

The paper's ManiSkill protocol: from a real frame, roll each model out open loop with the recorded joint targets,
3 chunks of 10 steps, feeding its own predicted tokens back; compare with the real frames at t+10, t+20, t+30.
Token L1 is measured on DINO tokens (real frames encoded by the bundle's encoder); SSIM and PSNR on RGB, every
model's tokens rendered by the same UNet against the real frame at the bundle's size. Copy-first renders the
first frame's tokens. Also: RLA-WM at 1, 2, 4, 10, 30 Euler steps (error and ms per step), FLOPs per step, a plot
of error against horizon and a strip image (real | RLA-WM | regression at t+0/10/20/30).

    python -m benchmarks.prediction_quality --bundle models/ur10e-RollBall-cpu --data HELDOUT --out DIR
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from rla_gym.models.bundle import Bundle, load_bundle
from rla_gym.models.regression import RegressionWorldModel, load_regression
from rla_gym.models.stack import WorldModelStack

CHUNK, CHUNKS = 10, 3
EULER_SWEEP = (1, 2, 4, 10, 30)


Step = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # tokens (B, L, C), chunk (B, K, A) -> (B, L, C)


@dataclass
class Starts:
    """B rollout starts: real frames and tokens at t0 + 10 k (k = 0..3), and the 30 targets after t0."""

    frames: torch.Tensor  # (B, CHUNKS + 1, H, W, 3) uint8 at the bundle's size
    tokens: torch.Tensor  # (B, CHUNKS + 1, L, C)
    targets: torch.Tensor  # (B, CHUNKS * CHUNK, A)
    where: list[tuple[str, int]] = field(default_factory=list)  # (episode key, t0)


def held_out_starts(
    stack: WorldModelStack, root: Path, max_starts: int, stride: int = 10, mask: bool = False
) -> Starts:
    from rla_gym.train.data import load_training_data

    data = load_training_data(root, stack.encoder, stack.image_size, mask=mask, progress=False)
    span = CHUNK * CHUNKS
    frames, tokens, targets, where = [], [], [], []
    for i, key in enumerate(data.keys):
        for t0 in range(0, len(data.targets[i]) - span, stride):
            idx = [t0 + CHUNK * k for k in range(CHUNKS + 1)]
            frames.append(data.frames[i][idx])
            tokens.append(data.tokens[i][idx].float())
            targets.append(torch.from_numpy(data.targets[i][t0 : t0 + span]))
            where.append((key, t0))
    if not frames:
        raise ValueError(f"no held-out episode under {root} is longer than {span} steps")
    pick = np.random.default_rng(0).permutation(len(frames))[:max_starts]
    return Starts(
        torch.stack([frames[p] for p in pick]),
        torch.stack([tokens[p] for p in pick]),
        torch.stack([targets[p] for p in pick]),
        [where[p] for p in pick],
    )


def rollout(step, s0: torch.Tensor, targets: torch.Tensor) -> list[torch.Tensor]:
    """Tokens after each chunk, the prediction fed back: [s_10, s_20, s_30]."""
    out, s = [], s0
    for k in range(CHUNKS):
        s = step(s, targets[:, k * CHUNK : (k + 1) * CHUNK])
        out.append(s)
    return out


def rla_wm_step(stack: WorldModelStack, euler_steps: int, seed: int = 0) -> Step:
    """RLA-WM one chunk ahead; flow noise from a seeded CPU generator (the same draws on every device)."""
    gen = torch.Generator().manual_seed(seed)

    def step(s: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
        noise = torch.randn(s.shape[0], *stack.latent_shape, generator=gen).to(s.device)
        return stack.predict(s, chunk, noise=noise, euler_steps=euler_steps)

    return step


def regression_step(stack: WorldModelStack, model: RegressionWorldModel) -> Step:
    key = stack.config.robot_key

    @torch.no_grad()
    def step(s: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
        qpos = stack.robot.to_full_qpos(chunk.float())
        lengths = torch.full((s.shape[0],), chunk.shape[1], dtype=torch.long, device=s.device)
        return model(s, qpos, lengths, key).float()

    return step


def copy_step(s: torch.Tensor, chunk: torch.Tensor) -> torch.Tensor:
    return s


def predictors(stack: WorldModelStack, regression: RegressionWorldModel | None) -> dict[str, Step]:
    """RLA-WM at the stack's Euler steps, the regression baseline (if given), copy-first-frame."""
    steps = {f"RLA-WM ({stack.config.euler_steps} Euler)": rla_wm_step(stack, stack.config.euler_steps)}
    if regression is not None:
        steps["regression"] = regression_step(stack, regression.to(stack.device))
    steps["copy first frame"] = copy_step
    return steps


def score(stack: WorldModelStack, starts: Starts, preds: list[torch.Tensor]) -> list[dict[str, float]]:
    """Per horizon (t+10, t+20, t+30): token L1, SSIM and PSNR of the rendered prediction."""
    rows = []
    for k, pred in enumerate(preds, start=1):
        real_tokens = starts.tokens[:, k]
        real = starts.frames[:, k].permute(0, 3, 1, 2).float() / 255
        rendered = stack.render(pred).permute(0, 3, 1, 2).float() / 255
        rows.append(
            {
                "horizon": CHUNK * k,
                "token_l1": float((pred - real_tokens).abs().mean()),
                "ssim": float(structural_similarity_index_measure(rendered, real, data_range=1.0)),
                "psnr": float(peak_signal_noise_ratio(rendered, real, data_range=1.0)),
            }
        )
    return rows


def reconstruction(stack: WorldModelStack, starts: Starts) -> dict[str, float]:
    """The UNet's ceiling: real frames encoded and rendered back (every start's 4 frames)."""
    tokens = starts.tokens.flatten(0, 1)
    real = starts.frames.flatten(0, 1).permute(0, 3, 1, 2).float() / 255
    rendered = stack.render(tokens).permute(0, 3, 1, 2).float() / 255
    return {
        "ssim": float(structural_similarity_index_measure(rendered, real, data_range=1.0)),
        "psnr": float(peak_signal_noise_ratio(rendered, real, data_range=1.0)),
        "frames": int(real.shape[0]),
    }


def flops_per_step(step, s: torch.Tensor, chunk: torch.Tensor) -> float:
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        step(s[:1], chunk[:1])
    return float(counter.get_total_flops())


def ms_per_step(step, s: torch.Tensor, chunk: torch.Tensor, batch: int = 8, repeats: int = 3) -> float:
    s, chunk = s[:batch], chunk[:batch]
    step(s, chunk)
    start = time.perf_counter()
    for _ in range(repeats):
        step(s, chunk)
    return (time.perf_counter() - start) / repeats * 1000


def evaluate(bundle: Bundle, starts: Starts, regression: RegressionWorldModel | None, euler: tuple[int, ...]) -> dict:
    stack = bundle.stack
    s0, chunk = starts.tokens[:, 0], starts.targets[:, :CHUNK]
    models, previews = {}, {}
    for name, step in predictors(stack, regression).items():
        preds = rollout(step, s0, starts.targets)
        previews[name] = preds
        models[name] = {
            "horizons": score(stack, starts, preds),
            "gflops_per_step": flops_per_step(step, s0, chunk) / 1e9,
            "ms_per_step_batch8": ms_per_step(step, s0, chunk),
            "parameters": _parameters(stack, regression, name),
        }
    sweep = {}
    for n in euler:
        step = rla_wm_step(stack, n)
        last = score(stack, starts, rollout(step, s0, starts.targets))[-1]
        sweep[n] = {
            **last,
            "ms_per_step_batch8": ms_per_step(step, s0, chunk),
            "gflops": flops_per_step(step, s0, chunk) / 1e9,
        }
    return {
        "starts": len(starts.where),
        "reconstruction": reconstruction(stack, starts),
        "models": models,
        "euler_sweep": sweep,
        "_previews": previews,
    }


def _parameters(stack: WorldModelStack, regression: RegressionWorldModel | None, name: str) -> int:
    if name.startswith("RLA-WM"):
        return sum(p.numel() for m in (stack.world_model, stack.rla.decoder) for p in m.parameters())
    if name == "regression" and regression is not None:
        return sum(p.numel() for p in regression.parameters())
    return 0


def table(results: dict) -> str:
    rec = results["reconstruction"]
    lines = [
        f"UNet reconstruction of held-out frames (encode -> render, {rec['frames']} frames): "
        f"SSIM {rec['ssim']:.3f}, PSNR {rec['psnr']:.1f} dB",
        "",
        "| model | token L1 t+10 | t+20 | t+30 | SSIM t+10 | t+20 | t+30 | PSNR t+30 | params | GFLOPs/step | ms/step (8 envs) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in results["models"].items():
        h = m["horizons"]
        lines.append(
            f"| {name} | {h[0]['token_l1']:.4f} | {h[1]['token_l1']:.4f} | {h[2]['token_l1']:.4f} | "
            f"{h[0]['ssim']:.3f} | {h[1]['ssim']:.3f} | {h[2]['ssim']:.3f} | {h[2]['psnr']:.1f} | "
            f"{m['parameters'] / 1e6:.2f} M | {m['gflops_per_step']:.3f} | {m['ms_per_step_batch8']:.0f} |"
        )
    lines += [
        "",
        "| Euler steps | token L1 t+30 | SSIM t+30 | GFLOPs/step | ms/step (8 envs) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for n, row in results["euler_sweep"].items():
        lines.append(
            f"| {n} | {row['token_l1']:.4f} | {row['ssim']:.3f} | {row['gflops']:.3f} | {row['ms_per_step_batch8']:.0f} |"
        )
    return "\n".join(lines)


def plot_error_vs_horizon(results: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for name, m in results["models"].items():
        hs = [0] + [r["horizon"] for r in m["horizons"]]
        axes[0].plot(hs, [0.0] + [r["token_l1"] for r in m["horizons"]], marker="o", label=name)
        axes[1].plot(hs[1:], [r["ssim"] for r in m["horizons"]], marker="o", label=name)
    axes[0].set(xlabel="steps ahead (open loop)", ylabel="token L1", title="DINO token error")
    axes[1].set(xlabel="steps ahead (open loop)", ylabel="SSIM", title="rendered frame SSIM")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def strip_image(stack: WorldModelStack, starts: Starts, previews: dict, path: Path, rows: int = 2) -> Path:
    """Per start: a row of real frames then a row per model, at t+0/10/20/30 (copy-first left out)."""
    import imageio.v2 as imageio

    blocks = []
    for b in range(min(rows, starts.frames.shape[0])):
        blocks.append(torch.cat(list(starts.frames[b]), dim=1))
        for name, preds in previews.items():
            if name.startswith("copy"):
                continue
            first = stack.render(starts.tokens[b : b + 1, 0])[0]
            blocks.append(torch.cat([first] + [stack.render(p[b : b + 1])[0] for p in preds], dim=1))
        blocks.append(torch.full_like(blocks[-1][:4], 255))
    imageio.imwrite(path, torch.cat(blocks, dim=0).numpy())
    return path


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", required=True, help="bundle folder or hub id")
    parser.add_argument("--data", type=Path, required=True, help="held-out episodes (seeds no model trained on)")
    parser.add_argument("--regression", type=Path, default=None, help="regression baseline (run folder or bundle)")
    parser.add_argument("--out", type=Path, default=Path("out/prediction_quality"))
    parser.add_argument("--max-starts", type=int, default=64)
    parser.add_argument("--euler", type=int, nargs="*", default=list(EULER_SWEEP))
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    bundle = load_bundle(args.bundle)
    regression_path = args.regression
    if regression_path is None and bundle.path is not None and (Path(bundle.path) / "regression.safetensors").is_file():
        regression_path = Path(bundle.path)
    regression = load_regression(regression_path) if regression_path is not None else None
    masked = bool(bundle.metadata.get("masked", False))
    starts = held_out_starts(bundle.stack, args.data, args.max_starts, mask=masked)
    results = evaluate(bundle, starts, regression, tuple(args.euler))
    args.out.mkdir(parents=True, exist_ok=True)
    previews = results.pop("_previews")
    plot_error_vs_horizon(results, args.out / "error_vs_horizon.png")
    strip_image(bundle.stack, starts, previews, args.out / f"strip_{bundle.task}.png")
    (args.out / "prediction_quality.json").write_text(json.dumps(results, indent=2))
    print(f"held-out rollouts: {results['starts']} starts, 3 chunks of {CHUNK} recorded targets, predictions fed back")
    print(table(results))
    return results


if __name__ == "__main__":
    main()
