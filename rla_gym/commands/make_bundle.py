"""Write a bundle: `--random` makes random weights with a synthetic demo set (for trying the API and tests)."""

from __future__ import annotations

import argparse
import logging

from rla_gym.models.configs import PRESETS
from rla_gym.specs.robots import ROBOTS

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--random", action="store_true", required=True, help="random weights (the only kind yet)")
    parser.add_argument("--robot", choices=sorted(ROBOTS), default="ur10e")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    parser.add_argument("--episodes", type=int, default=4, help="synthetic demo episodes")
    parser.add_argument("--length", type=int, default=24, help="frames per synthetic demo episode")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", required=True, help="bundle folder to write")


def run(args: argparse.Namespace) -> int:
    from rla_gym.models.random_bundle import make_random_bundle

    bundle = make_random_bundle(args.robot, args.preset, args.episodes, args.length, args.seed)
    path = bundle.save_pretrained(args.out)
    log.info("wrote random %s bundle for %s to %s", args.preset, args.robot, path)
    return 0
