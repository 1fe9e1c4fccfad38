"""Collect scripted ManiSkill demonstrations into the paper authors' on-disk layout (resumable, parallel)."""

from __future__ import annotations

import argparse
import sys

from rla_gym.args import even_int_at_least, non_negative_float, non_negative_int, out_dir, positive_int
from rla_gym.sim.collect import CollectConfig, collect
from rla_gym.sim.scripted.base import ScriptConfig
from rla_gym.sim.scripted.record import RecordConfig
from rla_gym.specs.seeds import HELDOUT_SEED_BASE, TRAIN_SEED_BASE


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--robot", required=True, help="ur10e, panda or xarm6_robotiq (or the ManiSkill uid)")
    parser.add_argument("--task", required=True, help="PushT, RollBall, PullCube, PullCubeTool or PokeCube")
    parser.add_argument("--episodes", type=non_negative_int, required=True, help="episodes wanted in OUT (ids 0..N-1)")
    parser.add_argument("--out", type=out_dir, required=True, help="dataset root")
    parser.add_argument(
        "--size", type=even_int_at_least(16, "pixels", "H.264 video"), default=128, help="front camera pixels (square)"
    )
    parser.add_argument("--workers", type=positive_int, default=1, help="processes, each with its own simulator")
    parser.add_argument(
        "--seed",
        type=non_negative_int,
        default=TRAIN_SEED_BASE,
        help=f"episode i uses ManiSkill seed SEED + i (default {TRAIN_SEED_BASE}: training scenes; "
        f"held-out demos: {HELDOUT_SEED_BASE}); must not overlap the evaluation seeds",
    )
    parser.add_argument(
        "--allow-eval-seeds",
        action="store_true",
        help="collect scenes that overlap the evaluation seeds (e.g. replays of evaluation episodes)",
    )
    parser.add_argument(
        "--fail-every", type=non_negative_int, default=3, help="every n-th episode uses the failure mode (0: none)"
    )
    parser.add_argument(
        "--max-steps",
        type=positive_int,
        default=None,
        help="episode limit, >= 1 (default: 150, the authors' collection limit)",
    )
    parser.add_argument(
        "--post-success-steps", type=non_negative_int, default=5, help="frames kept after the first success"
    )
    parser.add_argument(
        "--joint-noise", type=non_negative_float, default=ScriptConfig.joint_noise, help="rad, per step"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    try:
        config = CollectConfig(
            robot=args.robot,
            task=args.task,
            episodes=args.episodes,
            out=args.out,
            size=args.size,
            seed=args.seed,
            workers=args.workers,
            fail_every=args.fail_every,
            allow_eval_seeds=args.allow_eval_seeds,
            record=RecordConfig(max_steps=args.max_steps, post_success_steps=args.post_success_steps),
            script=ScriptConfig(joint_noise=args.joint_noise),
        )
    except ValueError as err:
        print(f"rla-gym collect: {err}", file=sys.stderr)
        return 2
    from rla_gym.sim.make import default_backends
    from rla_gym.sim.vulkan import vulkan_problem

    problem = vulkan_problem("cuda" if default_backends()[1] == "gpu" else "cpu")
    if problem is not None:
        print(f"rla-gym collect: {problem}", file=sys.stderr)
        return 1
    try:
        report = collect(config, progress=not args.no_progress)
    except ValueError as err:
        print(f"rla-gym collect: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # the output folder cannot be written (permissions, disk full, ...)
        print(f"rla-gym collect: cannot write {err.filename or args.out}: {err.strerror or err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rla-gym collect: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    print(report.summary())
    return 0
