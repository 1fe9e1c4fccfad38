"""Does the world model see the task? Object pixels, probed object positions, outcome discrimination, blur.

    python -m benchmarks.object_fidelity --bundle models/ur10e-RollBall-cpu --heldout DATA/heldout \
        --train DATA/train --out out/object_fidelity [--unet RUN] [--regression RUN] [--rla RUN --wm RUN]

`--unet`, `--regression`, `--rla`, `--wm` swap in a candidate's trained weights (a run's final/) to compare it on
the same episodes. The measurement and the paired tests against `--baseline` are `rla_gym.eval.object_fidelity`'s;
this script loads, prints the table and writes `results.json`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def _swap(bundle, unet: Path | None, regression: Path | None, rla: Path | None, wm: Path | None) -> None:
    """Load candidate runs' weights into the bundle's components: a run folder (its final/) or one of its
    checkpoints/step_N. A world model from a checkpoint keeps the bundle's latent scale (a --finetune run's)."""
    from dataclasses import replace

    from rla_gym.models.regression import RegressionConfig, RegressionWorldModel, load_regression
    from rla_gym.models.state_dicts import load_strict
    from rla_gym.train.build import load_component, read_latent_scale

    stack = bundle.stack
    if unet is not None:
        load_strict(stack.image_decoder, load_component(unet, "image_decoder", "unet."), source=str(unet))
    if regression is not None:
        if (regression / "model.safetensors").is_file():  # a checkpoint: the trainer's architecture for this stack
            model = RegressionWorldModel(RegressionConfig.matching(stack.config))
            load_strict(model, load_component(regression, "regression", "model."), source=str(regression))
            bundle.regression = model.to(stack.device).eval()
        else:
            bundle.regression = load_regression(regression, device=stack.device)
    if rla is not None:
        load_strict(stack.rla.encoder, load_component(rla, "rla_encoder", "rla.encoder."), source=str(rla))
        load_strict(stack.rla.decoder, load_component(rla, "rla_decoder", "rla.decoder."), source=str(rla))
    if wm is not None:
        load_strict(stack.world_model, load_component(wm, "world_model", "wm."), source=str(wm))
        if (wm / "final" / "world_model.json").is_file():
            stack.config = replace(stack.config, latent_scale=read_latent_scale(wm))


def _fmt(values) -> str:
    return " / ".join(f"{v:.1f}" for v in values)


def table(report: dict) -> str:
    """Markdown: one row per dynamics."""
    objects = [r["object"] for r in report["reconstruction"]]
    lines = [
        "| model | token L1 t+30 | "
        + " | ".join(f"{o} error cm t+10/20/30" for o in objects)
        + " | outcome resolved | closer | success agreement | contrast t+30 | IoU t+30 | sharpness |",
        "|---|" + "---:|" * (len(objects) + 7),
    ]
    for name, m in report["models"].items():
        per_obj = [_fmt(m["probe_error_cm"][f"t+{h}"][k] for h in (10, 20, 30)) for k in range(len(objects))]
        out = m.get("outcome")  # none without replayed successes and their counterfactuals
        agree = m.get("probe_success_agreement")  # none for a task whose success is no distance between objects
        pix = m["object_pixels_t+30"][0]
        lines.append(
            f"| {name} | {m['token_l1']['t+30']:.4f} | "
            + " | ".join(per_obj)
            + (f" | {out['outcome_resolved']:+.2f} | {100 * out['outcome_closer']:.0f} %" if out else " | - | -")
            + (f" | {100 * agree:.0f} %" if agree is not None else " | -")
            + f" | {pix['contrast_ratio']:.2f} | {pix['mask_iou']:.2f} | {m['sharpness_t+30']:.2f} |"
        )
    first = next(iter(report["models"].values()), None)
    if first is not None:
        still = [_fmt(first["object_did_not_move_cm"][f"t+{h}"][k] for h in (10, 20, 30)) for k in range(len(objects))]
        lines.append("| (object did not move) | | " + " | ".join(still) + " | | | | | | |")
    lines += ["", "Reconstruction (encoder -> UNet) on the held-out frames:", ""]
    lines += ["| object | rgb L1 (grey levels) | contrast ratio | mask IoU | frames |", "|---|---:|---:|---:|---:|"]
    for r in report["reconstruction"]:
        lines.append(
            f"| {r['object']} | {r['rgb_l1']:.1f} | {r['contrast_ratio']:.2f} | {r['mask_iou']:.2f} | {r['frames']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.object_fidelity", description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", default=None, help="bundle folder or hub id (default: the embedded default)")
    parser.add_argument("--task", default="RollBall")
    parser.add_argument("--heldout", type=Path, required=True, help="held-out episodes with task-object segmentation")
    parser.add_argument("--train", type=Path, required=True, help="training episodes the position probe is fitted on")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--unet", type=Path, default=None, help="a UNet run (or its image_decoder.safetensors) to swap in"
    )
    parser.add_argument("--regression", type=Path, default=None, help="a regression run to swap in")
    parser.add_argument("--rla", type=Path, default=None, help="an RLA autoencoder run to swap in")
    parser.add_argument("--wm", type=Path, default=None, help="an RLA-WM run to swap in (with its latent scale)")
    parser.add_argument("--draws", type=int, default=4)
    parser.add_argument("--max-outcomes", type=int, default=24)
    parser.add_argument("--probe-episodes", type=int, default=120, help="training episodes the probe is fitted on")
    parser.add_argument("--no-sim", action="store_true", help="skip the outcome test (no simulator replays)")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--baseline", type=Path, default=None, help="results.json of another run: paired tests")
    args = parser.parse_args(argv)

    import torch

    from rla_gym.eval.object_fidelity import (
        ObjectFidelityConfig,
        compare,
        encode_all,
        fit_task_probe,
        load_episodes,
        measure,
        sim_outcomes,
    )
    from rla_gym.models.bundle import load_bundle
    from rla_gym.models.zoo import default_bundle_path
    from rla_gym.specs import get_task

    if args.threads:
        torch.set_num_threads(args.threads)
    task = get_task(args.task)
    bundle = load_bundle(args.bundle or default_bundle_path(task.robot, task.name))
    _swap(bundle, args.unet, args.regression, args.rla, args.wm)
    bundle.stack.eval()
    size = bundle.stack.image_size
    config = ObjectFidelityConfig(task=task.name, draws=args.draws, max_outcomes=args.max_outcomes)
    heldout = load_episodes(args.heldout, size)
    train = load_episodes(args.train, size, limit=args.probe_episodes)
    encode_all(bundle, heldout)
    encode_all(bundle, train)
    probe = fit_task_probe(train)
    outcomes = None if args.no_sim else sim_outcomes(task.name, task.robot, size)
    report = measure(bundle, heldout, probe, config, outcomes).to_dict()
    report["command"] = "python -m benchmarks.object_fidelity " + " ".join(argv if argv is not None else sys.argv[1:])
    report["episodes"] = {"heldout": len(heldout), "probe_train": len(train)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(report, indent=2))
    text = table(report)
    (args.out / "table.md").write_text(text + "\n")
    print(text)
    for note in report["notes"]:
        print(f"note: {note}")
    if args.baseline is not None:
        lines = compare(report, json.loads(args.baseline.read_text()))
        (args.out / "paired.txt").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
