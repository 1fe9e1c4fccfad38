"""Build a trainer's task from an init bundle, training data and (for RLA-WM) a trained RLA run."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from rla_gym.data.pairs import PairSamplerConfig
from rla_gym.models.bundle import load_bundle
from rla_gym.models.regression import RegressionConfig, RegressionWorldModel
from rla_gym.models.stack import WorldModelStack
from rla_gym.models.state_dicts import load_strict
from rla_gym.models.token_transformer import RLAAutoencoder
from rla_gym.specs import WM_ACTION_BUFFER
from rla_gym.train.data import TrainingData, load_training_data
from rla_gym.train.pairs import TransitionSampler

log = logging.getLogger(__name__)

MODELS = ("unet", "rla", "wm", "regression", "bc")
RLA_MAX_HORIZON = 30  # CPU default: covers the world model's 15-step buffer with margin (reference: 99)


@dataclass
class TaskOptions:
    model: str
    init: str
    data: Path
    heldout: Path | None = None
    rla_run: Path | None = None  # wm: the RLA run whose final weights define the latent space; rla: start from it
    mask: bool = False
    train_encoder: bool = False  # unet: train the encoder with it as an image autoencoder
    max_horizon: int | None = None  # pair horizon in steps (default: rla 30, wm/regression 15)
    latent_scale: float | None = None  # wm: None = std of z on the training pairs
    euler_steps: int | None = None  # wm held-out evaluation (default: the bundle's)
    progress: bool = True
    policy_preset: str = "paper"  # bc: network size ("paper": ResNet-18 at 128 px, "cpu": at 64 px, "tiny": tests)
    bc_failures: bool = False  # bc: also imitate failed episodes (off: successes only, as the reference)
    bc_fraction: float = 1.0  # bc: imitate the first this fraction of the (successful) training episodes
    object_weight: float = 0.0  # unet: task-object pixels weigh 1 + this in the L1 (recorded segmentation)
    motion_weight: float = (
        0.0  # rla, regression, wm (with token_weight): tokens weigh 1 + this x (change / mean change)
    )
    token_weight: float = 0.0  # wm: adds this x the token loss of the decoded x0 estimate (0: flow matching only)
    finetune: bool = False  # unet, rla, wm, regression: start from the init bundle's trained weights
    t1_prob: float = 0.0  # wm: the share of flow-matching samples at t = 1 (what one Euler step evaluates)
    decoder_only: bool = False  # rla (finetune or rla_run): freeze the encoder: its latents, every RLA-WM, stay valid

    def __post_init__(self) -> None:
        for name in ("object_weight", "motion_weight", "token_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 0; got {getattr(self, name)}")
        if self.object_weight > 0 and self.model != "unet":
            raise ValueError(f"--object-weight weighs image pixels: it applies to unet, not {self.model}")
        if self.token_weight > 0 and self.model != "wm":
            raise ValueError(f"--token-weight adds RLA-WM's decoded-token loss: it applies to wm, not {self.model}")
        if self.motion_weight > 0 and self.model not in ("rla", "regression", "wm"):
            raise ValueError(
                f"--motion-weight weighs token losses: it applies to rla, regression, wm; not {self.model}"
            )
        if self.motion_weight > 0 and self.model == "wm" and self.token_weight <= 0:
            raise ValueError("--motion-weight on wm weighs its decoded-token loss: give --token-weight > 0 too")
        if not 0 <= self.t1_prob <= 1:
            raise ValueError(f"--t1-prob: expected a probability in [0, 1]; got {self.t1_prob}")
        if self.t1_prob > 0 and self.model != "wm":
            raise ValueError(f"--t1-prob sets RLA-WM's flow-matching times: it applies to wm, not {self.model}")
        if not 0 < self.bc_fraction <= 1:
            raise ValueError(f"--bc-fraction: expected a number in (0, 1]; got {self.bc_fraction}")
        if self.bc_fraction < 1 and self.model != "bc":
            raise ValueError(f"--bc-fraction picks BC's demonstrations: it applies to bc, not {self.model}")
        if self.finetune and self.model == "bc":
            raise ValueError("--finetune starts from a bundle's world-model weights; BC starts from ImageNet-free init")
        trained = self.finetune or self.rla_run is not None
        if self.decoder_only and (self.model != "rla" or not trained):
            raise ValueError(
                "--decoder-only trains the RLA decoder under a trained, frozen encoder: it applies to rla with "
                f"--finetune or --rla RUN; got {self.model}{'' if trained else ' without either'}"
            )


def load_final(run: Path, name: str) -> dict[str, torch.Tensor]:
    path = Path(run) / "final" / f"{name}.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: train that run to the end first (its final/ folder)")
    return load_file(path)


def load_rla_run(rla: RLAAutoencoder, run: Path) -> RLAAutoencoder:
    """The RLA autoencoder of a finished run (its `final/` encoder and decoder) into `rla`."""
    load_strict(rla.encoder, load_final(run, "rla_encoder"), source=f"{run}/final/rla_encoder.safetensors")
    load_strict(rla.decoder, load_final(run, "rla_decoder"), source=f"{run}/final/rla_decoder.safetensors")
    return rla


def load_component(source: Path, name: str, prefix: str) -> dict[str, torch.Tensor]:
    """One component's weights from a run (its `final/<name>.safetensors`) or from one of its checkpoints
    (`checkpoints/step_N`, whose `model.safetensors` holds the trained module under `prefix`), so a model can be
    taken from any step of a run, not only its last."""
    source = Path(source)
    final = source / "final" / f"{name}.safetensors"
    if final.is_file():
        return load_file(final)
    ckpt = source / "model.safetensors"
    if ckpt.is_file():
        weights = {k[len(prefix) :]: v for k, v in load_file(ckpt).items() if k.startswith(prefix)}
        if weights:
            return weights
        raise ValueError(f"{ckpt} holds no {name} (no key starts with {prefix!r})")
    raise FileNotFoundError(
        f"no {name} at {source}: give a run folder with final/{name}.safetensors or one of its checkpoints/step_N"
    )


def load_trained_encoder(source: Path) -> dict[str, torch.Tensor]:
    """The encoder of a UNet run trained with `--train-encoder`, from its end or any checkpoint."""
    try:
        return load_component(source, "encoder", "encoder.")
    except ValueError as err:
        raise ValueError(f"{err}: was that UNet run trained with --train-encoder?") from None
    except FileNotFoundError:
        raise FileNotFoundError(
            f"no trained encoder at {source}: give a UNet run trained with --train-encoder (its final/encoder) or "
            "one of its checkpoints/step_N folders"
        ) from None


def build_task(opts: TaskOptions):
    """-> (task, description) for `rla_gym.train.loop.train`."""
    if opts.model not in MODELS:
        raise ValueError(f"unknown model {opts.model!r}; trainers: {', '.join(MODELS)}")
    for name, value in (("max_horizon", opts.max_horizon), ("euler_steps", opts.euler_steps)):
        if value is not None and value < 1:
            raise ValueError(
                f"--{name.replace('_', '-')}: expected an integer >= 1 (or None: the default); got {value}"
            )
    if opts.latent_scale is not None and not (math.isfinite(opts.latent_scale) and opts.latent_scale > 0):
        raise ValueError(f"--latent-scale: expected a finite number > 0 (or None: std of z); got {opts.latent_scale}")
    bundle = load_bundle(opts.init)
    if opts.model == "bc":  # the bundle's trained encoder and UNet render the policy's images, unchanged
        from rla_gym.train.bc import build_bc_task

        enc, size = bundle.stack.encoder, bundle.stack.image_size
        load = dict(
            mask=opts.mask, progress=opts.progress, keep_frames=False, robot=bundle.robot
        )  # BC renders tokens, not frames
        train = load_training_data(opts.data, enc, size, **load)
        held = load_training_data(opts.heldout, enc, size, **load) if opts.heldout else None
        if not opts.bc_failures:
            train, held = train.successes(), held.successes() if held is not None else None
        if opts.bc_fraction < 1:
            train = train.first(opts.bc_fraction)
        return build_bc_task(bundle.stack, train, held, opts.policy_preset)
    # fresh modules from the bundle's config (zero-init output layers as the authors train them); only the
    # encoder's weights come from the bundle
    encoder = bundle.stack.encoder
    stack = bundle.stack if opts.finetune else WorldModelStack(bundle.config, encoder=encoder)
    size = stack.image_size

    # The UNet and the RLA autoencoder are the shared part of a zoo (one for every robot and task, as the paper trains
    # them): they learn from any robot's frames. RLA-WM and the regression baseline read the joints: their robot only.
    shared = opts.model in ("unet", "rla")

    def data(root: Path | None) -> TrainingData | None:
        if root is None:
            return None
        keep = opts.model == "unet"  # the only trainer that sees pixels
        return load_training_data(
            root,
            encoder,
            size,
            mask=opts.mask,
            progress=opts.progress,
            keep_frames=keep,
            robot=None if shared else bundle.robot,
        )

    if opts.model == "unet":
        from rla_gym.train.unet import UNetTask

        unet = stack.image_decoder
        return UNetTask(
            unet,
            data(opts.data),
            data(opts.heldout),
            encoder if opts.train_encoder else None,
            object_weight=opts.object_weight,
        )

    robot = None if shared else stack.robot  # the RLA autoencoder sees tokens only, no joints
    default_h = RLA_MAX_HORIZON if opts.model == "rla" else WM_ACTION_BUFFER
    pair_cfg = PairSamplerConfig(min_horizon=1, max_horizon=default_h if opts.max_horizon is None else opts.max_horizon)
    train_pairs = TransitionSampler(data(opts.data), pair_cfg, robot)
    held = data(opts.heldout)
    held_pairs = TransitionSampler(held, pair_cfg, robot) if held is not None else None

    if opts.model == "rla":
        from rla_gym.train.rla import RLATask

        if opts.rla_run is not None:  # continue a trained RLA run (the bundle gives the config and the encoder)
            load_rla_run(stack.rla, opts.rla_run)
        return RLATask(
            stack.rla, train_pairs, held_pairs, motion_weight=opts.motion_weight, decoder_only=opts.decoder_only
        )
    if opts.model == "regression":
        from rla_gym.train.regression import RegressionTask

        if pair_cfg.max_horizon > stack.config.world_model.max_horizon:
            raise ValueError(f"--max-horizon {pair_cfg.max_horizon} exceeds the action buffer")
        if opts.finetune and bundle.regression is None:
            raise ValueError(f"--finetune regression: bundle {opts.init} ships no regression baseline to start from")
        model = bundle.regression if opts.finetune else RegressionWorldModel(RegressionConfig.matching(stack.config))
        return RegressionTask(model, stack.config.robot_key, train_pairs, held_pairs, motion_weight=opts.motion_weight)

    from rla_gym.train.wm import WMTask, estimate_latent_scale

    if opts.rla_run is None:
        raise ValueError("training RLA-WM needs --rla RUN: the trained RLA autoencoder that defines its latents")
    rla = load_rla_run(RLAAutoencoder(stack.config.rla_encoder, stack.config.rla_decoder), opts.rla_run).eval()
    scale = opts.latent_scale
    if scale is None and opts.finetune:  # the bundle's world model learned x0 = z / its scale: keep it
        scale = stack.config.latent_scale
    if scale is None:
        scale = estimate_latent_scale(rla, train_pairs)
    log.info("RLA-WM latent scale %.3f (x0 = z / scale)", scale)
    steps = stack.config.euler_steps if opts.euler_steps is None else opts.euler_steps
    return WMTask(
        stack.world_model,
        rla,
        stack.robot,
        scale,
        train_pairs,
        held_pairs,
        steps,
        token_weight=opts.token_weight,
        motion_weight=opts.motion_weight,
        t1_prob=opts.t1_prob,
    )


def read_latent_scale(run: Path) -> float:
    return float(json.loads((Path(run) / "final" / "world_model.json").read_text())["latent_scale"])
