"""The benchmarks' common choice of what to measure: a shipped or given bundle, or a preset's random weights.

Speed does not depend on what the weights learned, so `--random-preset paper` measures the paper-size stack where no
trained one exists; numerics and quality need the trained bundle."""

from __future__ import annotations

import argparse

import torch


def add_bundle_args(parser: argparse.ArgumentParser, task_default: str | None = None) -> None:
    """--robot, --task, --bundle, --random-preset and --device."""
    parser.add_argument("--robot", default="ur10e")
    parser.add_argument("--task", default=task_default)
    parser.add_argument("--bundle", default=None, help="bundle folder (default: the robot and task's shipped one)")
    parser.add_argument("--random-preset", default=None, choices=["tiny", "cpu", "paper"], help="random weights")
    parser.add_argument("--device", default="auto")


def bundle_from_args(args: argparse.Namespace) -> tuple[object, torch.device, str]:
    """(bundle, device, a line naming the source) for the arguments of `add_bundle_args`."""
    from rla_gym.models.device import resolve_device

    device = resolve_device(args.device)
    if args.random_preset:
        from rla_gym.models.random_bundle import make_random_bundle

        bundle = make_random_bundle(args.robot, args.random_preset, episodes=4, length=40, seed=0, task=args.task)
        return bundle, device, f"random {args.random_preset} preset"
    from rla_gym.envs.bundles import resolve_bundle

    bundle = resolve_bundle(args.bundle, args.robot, args.task, device)
    return bundle, device, str(bundle.path)
