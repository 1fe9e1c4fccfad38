"""Write a bundle: `--random` (random weights, synthetic demos: for trying the API and tests) or `--from-runs`
(trained UNet, RLA and RLA-WM runs on an init bundle's config and encoder, with real demos)."""

from __future__ import annotations

import argparse
import sys

from rla_gym.args import (
    bundle_out,
    bundle_source,
    existing_dir,
    int_at_least,
    non_negative_int,
    positive_int,
    positive_int_or_all,
)
from rla_gym.models.configs import PRESETS
from rla_gym.specs.robots import CHUNK_SIZE, ROBOTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument("--random", action="store_true", help="random weights and a synthetic demo set")
    kind.add_argument("--from-runs", action="store_true", help="assemble trained runs (--init, --unet, --rla, --wm)")
    parser.add_argument(
        "--out",
        type=bundle_out,
        required=True,
        help="bundle folder to write (an existing bundle there is replaced whole)",
    )
    parser.add_argument(
        "--encoder-run",
        type=existing_dir,
        help="use the encoder of a UNet run trained with --train-encoder (the run, or one of its checkpoints/step_N); "
        "with --random this makes an init bundle whose frozen encoder is that one",
    )
    random = parser.add_argument_group("--random")
    random.add_argument("--robot", choices=sorted(ROBOTS), default="ur10e")
    random.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    random.add_argument("--episodes", type=positive_int, default=4, help="synthetic demo episodes")
    longer = int_at_least(CHUNK_SIZE + 1, f"an env reset needs a demo longer than one chunk of {CHUNK_SIZE}")
    random.add_argument("--length", type=longer, default=24, help="frames per synthetic demo episode")
    random.add_argument("--seed", type=non_negative_int, default=0)
    random.add_argument(
        "--shared",
        type=bundle_source,
        default=None,
        help="take the encoder, UNet and RLA autoencoder of this bundle (a zoo's shared part), random dynamics for "
        "--robot: the init from which a new robot's RLA-WM and regression baseline train on that shared stack",
    )
    runs = parser.add_argument_group("--from-runs")
    runs.add_argument("--init", type=bundle_source, help="the bundle the runs were trained from (config and encoder)")
    runs.add_argument("--unet", type=existing_dir, help="UNet run folder")
    runs.add_argument("--rla", type=existing_dir, help="RLA autoencoder run folder")
    runs.add_argument("--wm", type=existing_dir, help="RLA-WM run folder")
    runs.add_argument("--demos", type=existing_dir, help="episodes for the demo set (success episodes are used)")
    runs.add_argument(
        "--num-demos",
        type=positive_int_or_all,
        default=16,
        help="success episodes to ship as demos, or 'all' (resets and references from every one; mp4 episodes are "
        "stored as their H.264 streams, ~10 KB each)",
    )
    runs.add_argument("--task", default=None, help="the task the demos show (default: the robot's first)")
    runs.add_argument("--mask", action="store_true", help="the runs were trained on masked frames")
    runs.add_argument("--euler-steps", type=positive_int, default=None, help="the bundle's default Euler steps")
    runs.add_argument("--regression", type=existing_dir, help="a regression baseline run to ship beside the stack")
    runs.add_argument("--fp16", action="store_true", help="store the weights in fp16 (half the size)")
    runs.add_argument(
        "--layered",
        nargs=2,
        metavar=("SHARED", "DYNAMICS"),
        default=None,
        help="write a layered zoo beside --out: the shared part (encoder, UNet, RLA) in folder SHARED and the "
        "robot's dynamics (RLA-WM, --regression) in DYNAMICS, both under --out's parent; --out is the task folder "
        "(demos, card). An existing part with the same weights is kept, one with other weights refused",
    )


def run(args: argparse.Namespace) -> int:
    from rla_gym.models.bundle import BundleError

    try:
        return _run(args)
    except BundleError as err:  # --out a folder that is not a bundle; an --init that does not load
        print(f"rla-gym make-bundle: {err}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    if args.random:
        from rla_gym.models.random_bundle import make_random_bundle

        bundle = make_random_bundle(args.robot, args.preset, args.episodes, args.length, args.seed)
        encoder = ""
        if args.shared is not None:
            from rla_gym.models.bundle import load_bundle
            from rla_gym.models.random_bundle import adopt_shared_part

            if args.encoder_run is not None:
                print("rla-gym make-bundle: --shared already gives the encoder; drop --encoder-run", file=sys.stderr)
                return 2
            try:
                adopt_shared_part(bundle, load_bundle(args.shared))
            except ValueError as err:
                print(f"rla-gym make-bundle: argument --shared: {err}", file=sys.stderr)
                return 2
            encoder = f" on the shared stack of {args.shared}"
        if args.encoder_run is not None:
            from rla_gym.models.state_dicts import load_strict
            from rla_gym.train.build import load_trained_encoder

            try:
                load_strict(bundle.stack.encoder, load_trained_encoder(args.encoder_run), source=str(args.encoder_run))
            except (ValueError, FileNotFoundError) as err:
                print(f"rla-gym make-bundle: {err}", file=sys.stderr)
                return 2
            encoder = f" with the encoder of {args.encoder_run}"
        path = bundle.save_pretrained(args.out)
        print(f"wrote random {args.preset} bundle for {args.robot}{encoder} to {path}")
        return 0

    from rla_gym.models.bundle import load_bundle
    from rla_gym.train.assemble import Runs, assemble_bundle, demo_set

    missing = [f"--{n}" for n in ("init", "unet", "rla", "wm", "demos") if getattr(args, n) is None]
    if missing:
        print(f"rla-gym make-bundle: --from-runs needs {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        init = load_bundle(args.init)
        task = args.task or init.stack.robot.tasks[0]
        demos = demo_set(args.demos, init.stack.image_size, args.num_demos, mask=args.mask, robot=init.robot)
        runs = Runs(unet=args.unet, rla=args.rla, wm=args.wm, encoder=args.encoder_run)
        meta = {"preset": init.config.preset, "masked": bool(args.mask)}
        bundle = assemble_bundle(args.init, runs, demos, task, euler_steps=args.euler_steps, metadata=meta)
    except (ValueError, FileNotFoundError) as err:
        print(f"rla-gym make-bundle: {err}", file=sys.stderr)
        return 2
    import torch

    from rla_gym.models.bundle import save_bundle, stored

    dtype = torch.float16 if args.fp16 else None
    extra = {}
    if args.regression is not None:  # written with the stack, in one go
        from safetensors.torch import load_file, save

        final = args.regression / "final"
        if not (final / "regression.safetensors").is_file() or not (final / "regression.json").is_file():
            print(
                f"rla-gym make-bundle: argument --regression: expected a finished regression run "
                f"(final/regression.safetensors and final/regression.json); got {args.regression}",
                file=sys.stderr,
            )
            return 2
        weights = {k: stored(v, dtype) for k, v in load_file(final / "regression.safetensors").items()}
        extra = {"regression.safetensors": save(weights), "regression.json": final / "regression.json"}
    if args.layered is not None:
        from rla_gym.models.layered import save_layered

        if args.regression is not None:
            from rla_gym.models.regression import load_regression

            bundle.regression = load_regression(args.regression)
        shared, dynamics = args.layered
        path = save_layered(bundle, args.out.parent, shared=shared, dynamics=dynamics, task=args.out.name, dtype=dtype)
        print(f"wrote {task} task folder {path} with parts {shared}, {dynamics} ({demos.num_episodes} demo episodes)")
        return 0
    path = save_bundle(bundle, args.out, dtype=dtype, extra=extra)
    print(f"wrote {task} bundle for {bundle.robot} to {path} ({demos.num_episodes} demo episodes)")
    return 0
