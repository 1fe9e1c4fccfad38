"""`rla-gym wmrl-summary RUN [RUN ...]`: several RL seeds of the main job (same BC, same report seeds) in one table.

    rla-gym wmrl --seed 1 --out out/wmrl-s1 ... ; rla-gym wmrl --seed 2 --out out/wmrl-s2 ...
    rla-gym wmrl-summary out/wmrl-s1 out/wmrl-s2 out/wmrl-s3

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


def run(args: argparse.Namespace) -> int:
    from rla_gym.eval.protocol import summarize_runs

    missing = [str(r) for r in args.runs if not (Path(r) / "report.json").is_file()]
    if missing:
        raise ArgumentError("runs", "wmrl run folders that reached the report stage (report.json)", ", ".join(missing))
    try:
        print(summarize_runs([json.loads((Path(r) / "report.json").read_text()) for r in args.runs]))
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
