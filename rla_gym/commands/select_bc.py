"""`rla-gym select-bc RUN --bundle B --out DIR`: the BC checkpoint that does best in ManiSkill on the selection seeds.

The paper trains BC for 40 epochs and keeps the best checkpoint. Train with one checkpoint kept per epoch
(`rla-gym train bc --epochs 40 --keep-checkpoints 40`), then this scores each on the selection seeds (42-91 by
default; never the report seeds), prints the table and writes the best as a BC policy folder (fp16)."""

from __future__ import annotations

import argparse
import json
import sys

from rla_gym.args import ArgumentError, bundle_source, device, existing_dir, fresh_out, non_negative_int, out_dir
from rla_gym.specs.seeds import SELECTION_SEEDS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", type=existing_dir, help="a finished rla-gym train bc run folder")
    parser.add_argument(
        "--bundle", type=bundle_source, default=None, help="the bundle BC trained on (default: embedded)"
    )
    parser.add_argument("--out", type=out_dir, required=True, help="where to write the chosen BC policy")
    parser.add_argument(
        "--seeds",
        type=non_negative_int,
        nargs=2,
        metavar=("FIRST", "LAST"),
        default=(SELECTION_SEEDS[0], SELECTION_SEEDS[-1]),
        help=f"ManiSkill selection seeds FIRST..LAST (default {SELECTION_SEEDS[0]} {SELECTION_SEEDS[-1]})",
    )
    parser.add_argument("--max-steps", type=non_negative_int, default=None, help="env steps per episode (tests)")
    parser.add_argument("--size", type=non_negative_int, default=128, help="ManiSkill camera pixels")
    parser.add_argument("--device", type=device, default="cpu")


def run(args: argparse.Namespace) -> int:
    from rla_gym.eval.bc_selection import best_checkpoint, export_checkpoint, score_checkpoints
    from rla_gym.models.bundle import load_bundle
    from rla_gym.models.zoo import default_bundle_path
    from rla_gym.specs.seeds import eval_overlap

    first, last = args.seeds
    if last < first:
        raise ArgumentError("--seeds", "FIRST <= LAST", f"{first} {last}")
    if "report" in eval_overlap(first, last - first + 1):
        raise ArgumentError("--seeds", "selection seeds (the report seeds judge the chosen policy)", f"{first} {last}")
    fresh_out(args.out, run_files=("bc_policy.json",))
    try:
        robot = json.loads((args.run / "final" / "bc_policy.json").read_text())["robot"]
        bundle = load_bundle(args.bundle or default_bundle_path(robot, None), device=args.device, robot=robot)
        results = score_checkpoints(
            args.run,
            bundle,
            tuple(range(first, last + 1)),
            args.device,
            size=args.size,
            max_steps=args.max_steps or None,
        )
    except (FileNotFoundError, ValueError) as err:
        print(f"rla-gym select-bc: {err}", file=sys.stderr)
        return 2
    best = best_checkpoint(results)
    print(f"BC checkpoints of {args.run} on ManiSkill seeds {first}-{last}:")
    for step, result in results:
        lo, hi = result.ci95
        mark = "  <- chosen" if step == best else ""
        print(f"  step {step:>7}: {100 * result.success_rate:5.1f} % ({100 * lo:.1f}-{100 * hi:.1f} %), "
              f"mean return {result.mean_return:.2f}{mark}")  # fmt: skip
    print(f"wrote {export_checkpoint(args.run, best, args.out)}")
    return 0
