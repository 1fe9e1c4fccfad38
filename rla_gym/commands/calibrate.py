"""Calibrate a bundle's world-model success threshold on its demos and write it into the bundle.

Without it a small stack's `info["success"]` uses the paper's DINOv3-L threshold and is constant; see
`rla_gym.eval.success_calibration` for what is measured."""

from __future__ import annotations

import argparse
import sys

from rla_gym.args import bundle_source, device, non_negative_int, positive_int


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bundle", type=bundle_source, required=True, help="a saved bundle folder (its config.json gets the threshold)"
    )
    parser.add_argument("--repeats", type=positive_int, default=4, help="replays of each demo (different flow noise)")
    parser.add_argument(
        "--max-demos",
        type=positive_int,
        default=None,
        help="calibrate on the first N demos only (faster; default: every demo, one world each)",
    )
    parser.add_argument("--seed", type=non_negative_int, default=0)
    parser.add_argument("--device", type=device, default="auto", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--dry-run", action="store_true", help="print the calibration, write nothing")


def run(args: argparse.Namespace) -> int:
    from rla_gym.eval.success_calibration import calibrate_success
    from rla_gym.models.bundle import BundleError, load_bundle, set_bundle_metadata
    from rla_gym.models.device import resolve_device

    try:
        bundle = load_bundle(args.bundle)
    except (BundleError, FileNotFoundError) as err:
        print(f"rla-gym calibrate: {err}", file=sys.stderr)
        return 2
    calibration = calibrate_success(
        bundle, repeats=args.repeats, seed=args.seed, device=resolve_device(args.device), max_demos=args.max_demos
    )
    print(calibration.describe())
    if not args.dry_run:
        values = {"success_threshold": calibration.threshold, "success_calibration": calibration.to_metadata()}
        set_bundle_metadata(args.bundle, values)
        print(f"wrote success_threshold {calibration.threshold:.4f} to {args.bundle}/config.json")
    return 0
