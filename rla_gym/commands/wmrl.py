"""The main job: RL inside the world model from the BC policy, BC and RL scored in ManiSkill on the same seeds.

Prints the BC-vs-RL table (success, 95 % interval, episodes) and writes side-by-side videos (simulator | world
model for the same actions), a learning curve, the best and last RL checkpoints (peft adapters) into --out.
`--preset demo` fits a 2-core CPU; `--preset cpu-long` runs for hours there in the background (`--resume` continues
it); `--preset paper` is the paper's run; single settings override a preset.
Runs under `torchrun --nproc_per_node N` unchanged."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

from rla_gym.args import (
    ArgumentError,
    bundle_source,
    device,
    existing_dir,
    fresh_out,
    int_between,
    non_negative_float,
    non_negative_int,
    out_dir,
    positive_int,
)
from rla_gym.specs import ROBOTS, TASKS
from rla_gym.specs.seeds import REPORT_SEEDS, SELECTION_SEEDS

RUN_FILES = (
    "checkpoints",
    "curve.csv",
    "bc_eval.json",
    "bc_report.json",
    "report.json",
    "results.txt",
)  # what tells a wmrl run folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--robot", default="ur10e", choices=list(ROBOTS))
    parser.add_argument("--task", default="RollBall", choices=list(TASKS), help="one of the robot's tasks")
    parser.add_argument(
        "--bundle", type=bundle_source, default=None, help="bundle folder or hub id (default: the embedded default)"
    )
    parser.add_argument(
        "--bc", type=existing_dir, default=None, help="BC policy folder (default: the one shipped beside the bundle)"
    )
    parser.add_argument(
        "--out", type=out_dir, default=Path("out/wmrl"), help="folder for the table, videos, plot, checkpoints"
    )
    parser.add_argument(
        "--preset",
        default="demo",
        choices=("demo", "cpu-long", "paper", "tiny"),
        help="settings to start from (demo ~15 min on 2 cores; cpu-long ~3 h there, resumable; paper: a GPU)",
    )
    parser.add_argument("--iterations", type=positive_int, default=None, help="PPO iterations (rollout + update)")
    parser.add_argument(
        "--num-envs", type=positive_int, default=None, help="world-model envs over all ranks (paper 112)"
    )
    parser.add_argument(
        "--num-steps", type=positive_int, default=None, help="chunk decisions per env per rollout (paper 4)"
    )
    parser.add_argument(
        "--minibatch-size", type=positive_int, default=None, help="PPO minibatch over all ranks (paper 224)"
    )
    parser.add_argument("--update-epochs", type=positive_int, default=None, help="PPO epochs per update (paper 8)")
    parser.add_argument("--seed", type=non_negative_int, default=None, help="RL seed (the paper runs 1-15)")
    parser.add_argument("--eval-every", type=positive_int, default=None, help="ManiSkill evaluation every N iterations")
    parser.add_argument(
        "--eval-seeds",
        type=non_negative_int,
        nargs=2,
        metavar=("FIRST", "LAST"),
        default=None,
        help=f"ManiSkill seeds FIRST..LAST inclusive (paper {SELECTION_SEEDS[0]} {SELECTION_SEEDS[-1]})",
    )
    parser.add_argument("--eval-max-steps", type=positive_int, default=None, help="env steps per evaluation episode")
    parser.add_argument(
        "--report-episodes",
        type=int_between(0, len(REPORT_SEEDS), "the report seeds"),
        default=None,
        help=f"score BC and the chosen checkpoints on this many report seeds ({REPORT_SEEDS[0]}+, which choose "
        "nothing), each against BC seed by seed (0: no report stage)",
    )
    parser.add_argument(
        "--reward-draws",
        type=positive_int,
        default=None,
        help="average the world-model reward over N flow-noise draws (less model noise in the signal; N x the "
        "dynamics cost)",
    )
    parser.add_argument(
        "--uncertainty",
        choices=("draws", "regression"),
        default=None,
        help="info['uncertainty'] in the world-model env: a second flow draw or the regression baseline",
    )
    parser.add_argument(
        "--uncertainty-penalty",
        type=non_negative_float,
        default=None,
        help="reward -= this x info['uncertainty'] (needs --uncertainty): a guard against exploiting the model",
    )
    parser.add_argument(
        "--wm-select-worlds",
        type=non_negative_int,
        default=None,
        help="world-model episodes per checkpoint for choosing one without the simulator (0: off)",
    )
    parser.add_argument(
        "--videos", type=non_negative_int, default=None, help="side-by-side videos for the first N seeds"
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue from the latest checkpoint in --out (policy, optimisers, best)"
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="clear a used --out and start a new run there (else it is refused)"
    )
    parser.add_argument("--device", type=device, default="auto", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--no-progress", action="store_true")


def config_from_args(args: argparse.Namespace):
    """The preset with the given flags applied."""
    from rla_gym.train.wmrl import wmrl_preset

    config = wmrl_preset(args.preset, robot=args.robot, task=args.task, bundle=args.bundle, bc=args.bc, out=args.out)
    ppo = {
        k: v
        for k, v in {
            "iterations": args.iterations,
            "num_envs": args.num_envs,
            "num_steps": args.num_steps,
            "minibatch_size": args.minibatch_size,
            "update_epochs": args.update_epochs,
            "seed": args.seed,
        }.items()
        if v is not None
    }
    top = {
        "eval_every": args.eval_every,
        "eval_max_steps": args.eval_max_steps,
        "videos": args.videos,
        "report_episodes": args.report_episodes,
        "wm_select_worlds": args.wm_select_worlds,
        "reward_draws": args.reward_draws,
        "uncertainty": args.uncertainty,
        "uncertainty_penalty": args.uncertainty_penalty,
    }
    top = {k: v for k, v in top.items() if v is not None}
    if args.eval_seeds is not None:
        first, last = args.eval_seeds
        if last < first:
            raise ArgumentError("--eval-seeds", "FIRST <= LAST", f"{first} {last}")
        top["eval_seeds"] = tuple(range(first, last + 1))
    return replace(
        config,
        ppo=replace(config.ppo, **ppo),
        device=args.device,
        progress=not args.no_progress,
        resume=args.resume,
        **top,
    )


def run(args: argparse.Namespace) -> int:
    from rla_gym.train.wmrl import run_wmrl

    try:
        config = config_from_args(args)  # every value checked before --out is touched
        fresh_out(config.out, resume=config.resume, overwrite=args.overwrite, run_files=RUN_FILES)
        result = run_wmrl(config)
    except (ValueError, FileNotFoundError) as err:
        print(f"rla-gym wmrl: {err}", file=sys.stderr)
        return 2
    if result.bc is None:  # a non-zero torchrun rank: rank 0 reports
        return 0
    print(result.table())
    if result.report:
        print(result.report)
    print(result.time_split())
    for path in [*result.videos, result.curve, result.out / "best"]:
        print(f"wrote {path}")
    return 0
