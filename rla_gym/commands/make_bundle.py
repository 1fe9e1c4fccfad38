"""Write a bundle: `--random` (random weights, synthetic demos: for trying the API and tests) or `--from-runs`
(trained UNet, RLA and RLA-WM runs on an init bundle's config and encoder, with real demos)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rla_gym.models.configs import PRESETS
from rla_gym.specs.robots import ROBOTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    kind = parser.add_mutually_exclusive_group(required=True)
    kind.add_argument("--random", action="store_true", help="random weights and a synthetic demo set")
    kind.add_argument("--from-runs", action="store_true", help="assemble trained runs (--init, --unet, --rla, --wm)")
    parser.add_argument("--out", required=True, help="bundle folder to write")
    parser.add_argument(
        "--encoder-run",
        type=Path,
        help="use the encoder of a UNet run trained with --train-encoder (the run, or one of its checkpoints/step_N); "
        "with --random this makes an init bundle whose frozen encoder is that one",
    )
    random = parser.add_argument_group("--random")
    random.add_argument("--robot", choices=sorted(ROBOTS), default="ur10e")
    random.add_argument("--preset", choices=sorted(PRESETS), default="tiny")
    random.add_argument("--episodes", type=int, default=4, help="synthetic demo episodes")
    random.add_argument("--length", type=int, default=24, help="frames per synthetic demo episode")
    random.add_argument("--seed", type=int, default=0)
    runs = parser.add_argument_group("--from-runs")
    runs.add_argument("--init", help="the bundle the runs were trained from (config and encoder)")
    runs.add_argument("--unet", type=Path, help="UNet run folder")
    runs.add_argument("--rla", type=Path, help="RLA autoencoder run folder")
    runs.add_argument("--wm", type=Path, help="RLA-WM run folder")
    runs.add_argument("--demos", type=Path, help="episodes for the demo set (success episodes are used)")
    runs.add_argument("--num-demos", type=int, default=16, help="demo episodes to ship")
    runs.add_argument("--task", default=None, help="the task the demos show (default: the robot's first)")
    runs.add_argument("--mask", action="store_true", help="the runs were trained on masked frames")
    runs.add_argument("--euler-steps", type=int, default=None, help="the bundle's default Euler steps")
    runs.add_argument("--regression", type=Path, help="a regression baseline run to ship beside the stack")
    runs.add_argument("--fp16", action="store_true", help="store the weights in fp16 (half the size)")


def run(args: argparse.Namespace) -> int:
    if args.random:
        from rla_gym.models.random_bundle import make_random_bundle

        bundle = make_random_bundle(args.robot, args.preset, args.episodes, args.length, args.seed)
        encoder = ""
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
        demos = demo_set(args.demos, init.stack.image_size, args.num_demos, mask=args.mask)
        runs = Runs(unet=args.unet, rla=args.rla, wm=args.wm, encoder=args.encoder_run)
        meta = {"preset": init.config.preset, "masked": bool(args.mask)}
        bundle = assemble_bundle(args.init, runs, demos, task, euler_steps=args.euler_steps, metadata=meta)
    except (ValueError, FileNotFoundError) as err:
        print(f"rla-gym make-bundle: {err}", file=sys.stderr)
        return 2
    import torch

    from rla_gym.models.bundle import add_to_bundle, stored

    path = bundle.save_pretrained(args.out, dtype=torch.float16 if args.fp16 else None)
    if args.regression is not None:
        from safetensors.torch import load_file, save

        final = args.regression / "final"
        dtype = torch.float16 if args.fp16 else None
        weights = {k: stored(v, dtype) for k, v in load_file(final / "regression.safetensors").items()}
        add_to_bundle(path, {"regression.safetensors": save(weights), "regression.json": final / "regression.json"})
    print(f"wrote {task} bundle for {bundle.robot} to {path} ({demos.num_episodes} demo episodes)")
    return 0
