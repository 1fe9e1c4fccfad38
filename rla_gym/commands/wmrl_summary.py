"""`rla-gym wmrl-summary RUN [RUN ...]`: several RL seeds of the main job (same BC, same report seeds) in one table.

    rla-gym wmrl --seed 1 --out out/wmrl-s1 ... ; rla-gym wmrl --seed 2 --out out/wmrl-s2 ...
    rla-gym wmrl-summary out/wmrl-s1 out/wmrl-s2 out/wmrl-s3
    rla-gym wmrl-summary out/guarded-s1 out/guarded-s2 --versus out/wmrl-s1 out/wmrl-s2   # a change, paired by seed

The paper runs 15 RL seeds; one run's checkpoint choice is one draw. Each RUN is a `rla-gym wmrl --out` folder whose
run reached its report stage (`report.json`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rla_gym.args import ArgumentError, existing_dir


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", type=existing_dir, help="rla-gym wmrl --out folders with a report.json")
    parser.add_argument(
        "--versus",
        nargs="+",
        type=existing_dir,
        default=None,
        help="as many runs again, paired in order by RL seed (e.g. the same seeds without a guard): each RUN against "
        "its pair, seed by seed and pooled",
    )


def run(args: argparse.Namespace) -> int:
    from rla_gym.eval.protocol import summarize_runs

    for what, runs in (("runs", args.runs), ("--versus", args.versus or [])):
        missing = [str(r) for r in runs if not (Path(r) / "report.json").is_file()]
        if missing:
            raise ArgumentError(
                what, "wmrl run folders that reached the report stage (report.json)", ", ".join(missing)
            )
    try:
        reports = [json.loads((Path(r) / "report.json").read_text()) for r in args.runs]
        print(summarize_runs(reports))
        if args.versus is not None:
            from rla_gym.eval.protocol import compare_run_sets

            versus = [json.loads((Path(r) / "report.json").read_text()) for r in args.versus]
            print(compare_run_sets(reports, versus, Path(args.runs[0]).name, Path(args.versus[0]).name))
    except ValueError as err:
        print(f"rla-gym wmrl-summary: {err}", file=sys.stderr)
        return 2
    from rla_gym.eval.protocol import model_gap
    from rla_gym.train.loop import read_csv

    print("checkpoints on the selection seeds, in ManiSkill and inside the world model:")
    for r in args.runs:
        if (Path(r) / "sim_eval.csv").is_file():
            print("  " + model_gap(Path(r).name, read_csv(Path(r) / "sim_eval.csv")))
    return 0
