"""Fidelity against the simulator: a table, a plot and a strip around `rla_gym.eval.sim_fidelity` (ManiSkill and
the world model from the same start frame, the same action chunks: held-out demos replayed from their seeds, and
policies run closed loop; token L1 and SSIM per chunk step for RLA-WM, the regression baseline and copy-first, and
RLA-WM's Euler sweep).

    python -m benchmarks.sim_fidelity --bundle models/ur10e-RollBall-cpu --heldout HELDOUT --out DIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from rla_gym.eval import open_loop
from rla_gym.eval.sim_fidelity import LEGACY_HELDOUT_SEED, against_maniskill
from rla_gym.models.bundle import Bundle


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


def write_outputs(bundle: Bundle, results: dict, out: Path, task: str) -> dict:
    """The error plot (one colour per predictor, one line style per source) and the strip (per source: a row of
    ManiSkill frames, then one per predictor, copy-first left out, at t0 + k K) into `out`; returns the JSON-able
    results with the figure names."""
    import imageio.v2 as imageio

    out.mkdir(parents=True, exist_ok=True)
    previews = results.pop("_previews")
    curves = {name: {m: r["horizons"] for m, r in src["models"].items()} for name, src in results["sources"].items()}
    strip = out / f"fidelity_strip_{task}.png"
    plot = open_loop.plot_error_vs_horizon(curves, out / "fidelity_error_vs_horizon.png", truth="ManiSkill")
    rows = [open_loop.strip(bundle.stack, frames, tokens[:, 0], preds) for frames, tokens, preds in previews.values()]
    imageio.imwrite(strip, np.concatenate(rows))
    results["figures"] = [plot.name, strip.name]
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

    from rla_gym.models.bundle import load_bundle, resolve_bundle_path
    from rla_gym.models.zoo import default_bundle_path

    bundle = load_bundle(resolve_bundle_path(args.bundle or default_bundle_path("ur10e", "RollBall")))
    sim = against_maniskill(
        bundle, bundle.task, args.heldout, size=args.sim_size, chunks=args.chunks, stride=args.stride,
        max_episodes=args.episodes, seed_base=args.seed_base, progress=True,
    )  # fmt: skip
    results = write_outputs(bundle, sim, args.out, bundle.task)
    (args.out / "sim_fidelity.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    return results


if __name__ == "__main__":
    main()
