"""Prediction quality on recorded held-out frames: RLA-WM against the regression baseline and "copy the first frame".

The paper's ManiSkill protocol, measured by `rla_gym.eval.prediction_quality` (open loop with the recorded joint
targets, 3 chunks of 10 steps, predictions fed back; token L1, SSIM and PSNR at t+10/20/30; the UNet's ceiling, the
cost per step and RLA-WM's Euler sweep). This module picks the starts on the recorded frames and draws the table,
the error plot and a strip (real | RLA-WM | regression at t+0/10/20/30). The regression baseline is the bundle's
(`--regression RUN` to compare another).

    python -m benchmarks.prediction_quality --bundle models/ur10e-RollBall-cpu --data HELDOUT --out DIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from rla_gym.eval import open_loop
from rla_gym.eval.prediction_quality import CHUNK, CHUNKS, EULER_SWEEP, HOLD_TOLERANCE, Starts, evaluate
from rla_gym.models.bundle import Bundle, load_bundle
from rla_gym.models.regression import load_regression
from rla_gym.models.stack import WorldModelStack


def held_out_starts(
    stack: WorldModelStack, root: Path, max_starts: int, stride: int = 10, mask: bool = False
) -> Starts:
    from rla_gym.train.data import load_training_data

    data = load_training_data(root, stack.encoder, stack.image_size, mask=mask, progress=False)
    span = CHUNK * CHUNKS
    frames, tokens, targets, where, success = [], [], [], [], []
    too_short = {"success": 0, "failure": 0}
    for i, key in enumerate(data.keys):
        if len(data.targets[i]) <= span:
            too_short["success" if data.success[i] else "failure"] += 1
        for t0 in range(0, len(data.targets[i]) - span, stride):
            idx = [t0 + CHUNK * k for k in range(CHUNKS + 1)]
            frames.append(data.frames[i][idx])
            tokens.append(data.tokens[i][idx].float())
            targets.append(torch.from_numpy(data.targets[i][t0 : t0 + span]))
            where.append((key, t0))
            success.append(bool(data.success[i]))
    if not frames:
        raise ValueError(f"no held-out episode under {root} is longer than {span} steps")
    pick = np.random.default_rng(0).permutation(len(frames))[:max_starts]
    return Starts(
        torch.stack([frames[p] for p in pick]),
        torch.stack([tokens[p] for p in pick]),
        torch.stack([targets[p] for p in pick]),
        [where[p] for p in pick],
        [success[p] for p in pick],
        too_short,
    )


CEILING = "RLA autoencoder, true latents (ceiling)"


def with_ceiling(results: dict) -> dict[str, dict]:
    """The measured models by table name, then the true-latent ceiling where it was measured: the rows of every
    table of these results."""
    ceiling = results.get("true_latents")
    return {**results["models"], **({CEILING: ceiling} if ceiling else {})}


def table(results: dict) -> str:
    rec = results["reconstruction"]
    lines = [
        f"UNet reconstruction of held-out frames (encode -> render, {rec['frames']} frames): "
        f"SSIM {rec['ssim']:.3f}, PSNR {rec['psnr']:.1f} dB",
        "",
        "| model | token L1 t+10 | t+20 | t+30 | SSIM t+10 | t+20 | t+30 | PSNR t+30 | params | GFLOPs/step | ms/step (8 envs) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, m in with_ceiling(results).items():
        h = m["horizons"]
        cost = (  # the ceiling is no model: it has no cost
            f"{m['parameters'] / 1e6:.2f} M | {m['gflops_per_step']:.3f} | {m['ms_per_step_batch8']:.0f}"
            if "parameters" in m
            else "- | - | -"
        )
        lines.append(
            f"| {name} | {h[0]['token_l1']:.4f} | {h[1]['token_l1']:.4f} | {h[2]['token_l1']:.4f} | "
            f"{h[0]['ssim']:.3f} | {h[1]['ssim']:.3f} | {h[2]['ssim']:.3f} | {h[2]['psnr']:.1f} | {cost} |"
        )
    lines += ["", *paired_lines(results), *([sources] if (sources := sources_line(results)) else [])]
    split = command_table(results)
    lines += ["", split] if split else []
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


def sources_line(results: dict) -> str:
    """Which held-out episodes the starts come from (empty for results measured before this was kept)."""
    src = results.get("start_sources")
    if not src:
        return ""
    short = src["episodes_too_short"]
    line = (
        f"Starts by the outcome of their episode: {src['starts']['success']} from successful episodes, "
        f"{src['starts']['failure']} from failed ones."
    )
    if short["success"] or short["failure"]:
        line += (
            f" Held-out episodes too short for a start ({CHUNK * CHUNKS} steps or fewer), not measured: "
            f"{short['success']} successful, {short['failure']} failed."
        )
    return line


def paired_lines(results: dict) -> list[str]:
    """Each model against copy-first at t+30 token L1, start by start, with the paired test's p-value (empty for
    results measured before the test)."""
    lines = []
    for name, m in results["models"].items():
        t = m.get("t30_against_copy")
        if t:
            leans = {"model": f"the signed ranks favour {name}", "copy": "the signed ranks favour copy-first"}
            lean = f"; {leans[t['favours']]}" if t.get("favours") in leans else ""  # absent: measured before
            lines.append(
                f"{name} against copy-first, token L1 at t+30 start by start: lower on {t['model_better']}, higher "
                f"on {t['copy_better']} of {t['starts']} starts{lean} (Wilcoxon signed-rank, p = {t['p_value']:.3g})."
            )
    if results.get("true_latents"):
        lines.append(
            f"{CEILING}: each chunk's latent encoded from the real next frame and decoded, fed back like a model's "
            "prediction; what an RLA-WM that predicted every latent exactly would score."
        )
    return lines


def command_table(results: dict) -> str:
    """Token L1 split by what the arm is told: hold (the 30 targets stay within the tolerance the results were
    measured with of the first) or move. Empty for results measured before the split."""
    models = {name: m["by_command"] for name, m in with_ceiling(results).items() if "by_command" in m}
    if not models:
        return ""
    n = next(iter(models.values()))
    lines = [
        f"Token L1 by what the arm is told: **hold** ({n['hold']['starts']} starts whose 30 targets stay within "
        f"{results.get('hold_tolerance', HOLD_TOLERANCE)} rad, summed over the joints, of the first) and "
        f"**move** ({n['move']['starts']} starts).",
        "",
        "| model | hold t+10 | t+20 | t+30 | move t+10 | t+20 | t+30 |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, groups in models.items():
        cells = [f"{x:.4f}" if x is not None else "-" for g in ("hold", "move") for x in groups[g]["token_l1"]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def measure(
    bundle: Bundle, root: Path, max_starts: int, out: Path, task: str, regression=None, euler=EULER_SWEEP, prefix=""
) -> dict:
    """`evaluate` (`regression` None: the bundle's) from up to `max_starts` starts on the episodes under `root`; the
    error plot and the strip (per start: real frames, then one row per model, copy-first left out) into `out` as
    `<prefix>error_vs_horizon.png` and `<prefix>strip_<task>.png`. Returns the results with the figure names."""
    import imageio.v2 as imageio

    starts = held_out_starts(bundle.stack, root, max_starts, mask=bool(bundle.metadata.get("masked", False)))
    results = evaluate(bundle, starts, regression, euler)
    previews = results.pop("_previews")
    curves = {"recorded held-out frames": {name: m["horizons"] for name, m in results["models"].items()}}
    plot = open_loop.plot_error_vs_horizon(curves, out / f"{prefix}error_vs_horizon.png")
    strip = out / f"{prefix}strip_{task}.png"
    imageio.imwrite(strip, open_loop.strip(bundle.stack, starts.frames, starts.tokens[:, 0], previews, rows=2))
    results["figures"] = [plot.name, strip.name]
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", required=True, help="bundle folder or hub id")
    parser.add_argument("--data", type=Path, required=True, help="held-out episodes (seeds no model trained on)")
    parser.add_argument("--regression", type=Path, default=None, help="regression run (default: the bundle's)")
    parser.add_argument("--out", type=Path, default=Path("out/prediction_quality"))
    parser.add_argument("--max-starts", type=int, default=64)
    parser.add_argument("--euler", type=int, nargs="*", default=list(EULER_SWEEP))
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    bundle = load_bundle(args.bundle)
    regression = load_regression(args.regression) if args.regression is not None else None  # else the bundle's
    args.out.mkdir(parents=True, exist_ok=True)
    results = measure(bundle, args.data, args.max_starts, args.out, bundle.task, regression, tuple(args.euler))
    (args.out / "prediction_quality.json").write_text(json.dumps(results, indent=2))
    print(f"held-out rollouts: {results['starts']} starts, 3 chunks of {CHUNK} recorded targets, predictions fed back")
    print(table(results))
    return results


if __name__ == "__main__":
    main()
