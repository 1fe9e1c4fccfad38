"""Train one model of the stack (unet, rla, wm, regression) or the BC policy (bc): resumable, on CPU, one GPU or many (accelerate)."""

from __future__ import annotations

import argparse
import sys

from rla_gym.args import (
    ArgumentError,
    bundle_source,
    existing_dir,
    non_negative_int,
    out_dir,
    positive_float,
    positive_int,
)
from rla_gym.train.build import MODELS
from rla_gym.train.loop import TrainConfig


def add_arguments(parser: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    parser.add_argument("model", choices=MODELS, help="which model to train")
    parser.add_argument(
        "--init",
        "--bundle",
        dest="init",
        type=bundle_source,
        required=True,
        help="bundle (folder or hub id) whose config and encoder to use (bc: whose encoder and UNet render its images)",
    )
    parser.add_argument(
        "--data", type=existing_dir, required=True, help="training episodes (traj_* folders, searched recursively)"
    )
    parser.add_argument("--heldout", type=existing_dir, default=None, help="held-out episodes for evaluation")
    parser.add_argument("--out", type=out_dir, required=True, help="run folder: checkpoints, logs, plot, final/ export")
    parser.add_argument(
        "--rla",
        type=existing_dir,
        default=None,
        help="wm: the trained RLA run folder (its latents); rla: start from that run",
    )
    parser.add_argument("--steps", type=positive_int, default=d.steps)
    parser.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    parser.add_argument("--lr", type=positive_float, default=d.lr)
    parser.add_argument("--warmup-steps", type=non_negative_int, default=d.warmup_steps)
    parser.add_argument("--checkpoint-every", type=positive_int, default=d.checkpoint_every)
    parser.add_argument("--eval-every", type=non_negative_int, default=d.eval_every, help="0: only at the end")
    parser.add_argument("--seed", type=non_negative_int, default=d.seed)
    parser.add_argument("--mixed-precision", default=d.mixed_precision, choices=("auto", "no", "bf16", "fp16"))
    parser.add_argument("--cpu", action="store_true", help="train on the CPU even where CUDA is available")
    parser.add_argument("--threads", type=non_negative_int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder's latest checkpoint")
    parser.add_argument("--mask", action="store_true", help="black out ground and sky (recorded foreground mask)")
    parser.add_argument("--train-encoder", action="store_true", help="unet: train the encoder too (image AE)")
    parser.add_argument("--max-horizon", type=positive_int, default=None, help="pair horizon in steps (rla 30, wm 15)")
    parser.add_argument(
        "--latent-scale", type=positive_float, default=None, help="wm: x0 = z / scale (default: std of z)"
    )
    parser.add_argument(
        "--euler-steps", type=positive_int, default=None, help="wm: Euler steps of the held-out evaluation"
    )
    parser.add_argument(
        "--epochs", type=positive_int, default=None, help="bc: train this many epochs (overrides --steps)"
    )
    parser.add_argument(
        "--policy-preset",
        default="paper",
        choices=("paper", "cpu", "tiny"),
        help="bc: network size (paper: ResNet-18 at 128 px; cpu: ResNet-18 at 64 px)",
    )
    parser.add_argument(
        "--bc-failures", action="store_true", help="bc: imitate failed episodes too (default: successes only)"
    )
    parser.add_argument(
        "--keep-checkpoints",
        type=positive_int,
        default=2,
        help="checkpoints kept (the latest N; bc: one per epoch, so a large N keeps every epoch for "
        "`rla-gym select-bc`)",
    )
    parser.add_argument(
        "--bc-fraction",
        type=float,
        default=1.0,
        help="bc: imitate only the first this fraction of the successful training episodes (nested subsets: "
        "headroom variants for world-model RL)",
    )
    parser.add_argument(
        "--object-weight",
        type=float,
        default=0.0,
        help="unet: the task objects' pixels (recorded segmentation) weigh 1 + this in the L1 (0: plain L1)",
    )
    parser.add_argument(
        "--motion-weight",
        type=float,
        default=0.0,
        help="rla, regression, wm (with --token-weight): each token's loss weighs 1 + this x (its change / the "
        "mean change) (0: plain)",
    )
    parser.add_argument(
        "--token-weight",
        type=float,
        default=0.0,
        help="wm: add this x the token loss of the x0 its velocity implies, decoded by the frozen RLA decoder "
        "(0: flow matching only, the reference)",
    )
    parser.add_argument(
        "--t1-prob",
        type=float,
        default=0.0,
        help="wm: the share of flow-matching samples drawn at t = 1, the only time a one-Euler-step sampler "
        "evaluates (logit-normal time almost never gets there; 0: the reference)",
    )
    parser.add_argument(
        "--finetune", action="store_true", help="unet, rla, wm, regression: start from the --init bundle's weights"
    )
    parser.add_argument(
        "--decoder-only",
        action="store_true",
        help="rla with --finetune or --rla RUN: train the decoder only; the encoder, hence the latent space and every RLA-WM "
        "trained in it, stays as it is",
    )
    parser.add_argument("--no-progress", action="store_true")


def run(args: argparse.Namespace) -> int:
    import torch

    from rla_gym.train.build import TaskOptions, build_task
    from rla_gym.train.loop import latest_checkpoint, train

    if not args.resume and latest_checkpoint(args.out) is not None:
        raise ArgumentError(
            "--out", "a new run folder (or --resume to continue its run)", f"{args.out} (has checkpoints)"
        )
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        config = TrainConfig(
            steps=args.steps,
            batch_size=args.batch_size,
            lr=args.lr,
            warmup_steps=args.warmup_steps,
            checkpoint_every=args.checkpoint_every,
            eval_every=args.eval_every,
            seed=args.seed,
            keep_checkpoints=args.keep_checkpoints,
            mixed_precision=args.mixed_precision,
            cpu=args.cpu,
        )
        opts = TaskOptions(
            model=args.model,
            init=args.init,
            data=args.data,
            heldout=args.heldout,
            rla_run=args.rla,
            mask=args.mask,
            train_encoder=args.train_encoder,
            max_horizon=args.max_horizon,
            latent_scale=args.latent_scale,
            euler_steps=args.euler_steps,
            progress=not args.no_progress,
            policy_preset=args.policy_preset,
            bc_failures=args.bc_failures,
            bc_fraction=args.bc_fraction,
            object_weight=args.object_weight,
            motion_weight=args.motion_weight,
            token_weight=args.token_weight,
            finetune=args.finetune,
            t1_prob=args.t1_prob,
            decoder_only=args.decoder_only,
        )
        torch.manual_seed(args.seed)
        task = build_task(opts)
        if args.model == "bc":  # a checkpoint and a held-out evaluation per epoch
            epoch = task.steps_per_epoch(config.batch_size)
            config.checkpoint_every = config.eval_every = epoch
            config.weight_decay = 1e-4  # the authors' BC recipe (paper A.2)
            if args.epochs is not None:
                if args.epochs < 1:
                    raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
                config.steps = args.epochs * epoch
        result = train(task, config, args.out, resume=args.resume, progress=not args.no_progress)
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        print(f"rla-gym train: {err}", file=sys.stderr)
        return 2
    print(f"{args.model}: {result.steps} steps, final loss {result.final_loss:.4f}")
    for key, value in result.metrics.items():
        print(f"  held-out {key}: {value:.4f}")
    for path in result.exported:
        print(f"  wrote {path}")
    return 0
