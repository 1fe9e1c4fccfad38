"""Load the paper authors' released run folders (reference sections 1 and 0).

A run folder holds `config.yaml` (resolved; `models.<key>` = `{name, args}`) and
`ckpts/<key>_step<7 digits>.pt` (flat fp32 state dicts). The latest step is picked the way the
authors' loader does (lexicographic last), and every load is strict."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch
import yaml
from torch import nn

from rla_gym.models.configs import (
    EncoderConfig,
    StackConfig,
    TokenTransformerConfig,
    UNetConfig,
    WorldModelConfig,
)
from rla_gym.models.dino_encoder import DinoEncoder
from rla_gym.models.rla_wm import RLAWorldModel
from rla_gym.models.stack import WorldModelStack
from rla_gym.models.state_dicts import load_strict
from rla_gym.models.token_transformer import TokenTransformer
from rla_gym.models.unet import TokenToImageUNet

# released class name -> (our config, our module)
RELEASED_CLASSES: dict[str, tuple[type, type]] = {
    "SimpleTokenTransformer": (TokenTransformerConfig, TokenTransformer),
    "RLAWM": (WorldModelConfig, RLAWorldModel),
    "DinoToImageDecoderV1": (UNetConfig, TokenToImageUNet),
}

# The released ManiSkill folders on the hub repo `xyzhang368/RLA-WM` (reference section 0).
RELEASED_HUB_REPO = "xyzhang368/RLA-WM"
RELEASED_FOLDERS = {
    "rla": "rla/maniskill/20260323_21-41-25",
    "unet": "dino-to-image_unet/maniskill/20260404_22-53-36",
    "wm/panda": "rla-wm/maniskill/panda/20260405_11-00-59",
    "wm/xarm6_robotiq": "rla-wm/maniskill/xarm/20260404_15-49-08",
    "wm/ur10e": "rla-wm/maniskill/ur10e/20260404_15-49-19",
}


class RunFolderError(FileNotFoundError):
    """A released run folder lacks its config or checkpoint."""


class CheckpointReadError(ValueError):
    """A checkpoint file exists but cannot be read (truncated or corrupt)."""


def read_run_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise RunFolderError(f"no config.yaml in run folder {run_dir}")
    return yaml.safe_load(path.read_text())


def latest_checkpoint(run_dir: str | os.PathLike, key: str) -> Path:
    """`ckpts/<key>_step*.pt` with the largest (7-digit, so lexicographic) step; EMA files excluded."""
    ckpts = Path(run_dir) / "ckpts"
    files = sorted(p for p in ckpts.glob(f"{key}_step*.pt")) if ckpts.is_dir() else []
    if not files:
        raise RunFolderError(f"no checkpoint {key}_step*.pt in {ckpts}")
    return files[-1]


def model_block(config: dict[str, Any], key: str) -> tuple[str, dict[str, Any]]:
    try:
        block = config["models"][key]
    except KeyError as err:
        raise RunFolderError(f"config.yaml has no models.{key} block (has {sorted(config.get('models', {}))})") from err
    return block["name"], dict(block.get("args") or {})


def build_from_block(name: str, args: dict[str, Any]) -> nn.Module:
    if name not in RELEASED_CLASSES:
        raise ValueError(f"released model class {name!r} is not supported; supported: {sorted(RELEASED_CLASSES)}")
    config_cls, module_cls = RELEASED_CLASSES[name]
    return module_cls(config_cls.from_args(args))


def load_checkpoint_state(path: Path) -> dict[str, torch.Tensor]:
    """A released `.pt` checkpoint's state dict; an unreadable file is an error naming it."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError) as err:
        reason = str(err).split(". ")[0]  # torch adds a paragraph of advice after the first sentence
        raise CheckpointReadError(
            f"{path} cannot be read as a torch checkpoint ({reason}); it is truncated or corrupt"
        ) from err
    if isinstance(state, dict) and "model_state_dict" in state:
        state = state["model_state_dict"]
    return state


def load_run_model(run_dir: str | os.PathLike, key: str, args_from: str | os.PathLike | None = None) -> nn.Module:
    """Build `models.<key>` and load its latest checkpoint strictly.

    `args_from` reads the architecture from another run's config (the RLA-WM run describes the
    latent decoder whose weights live in the RLA run)."""
    name, args = model_block(read_run_config(args_from or run_dir), key)
    model = build_from_block(name, args)
    ckpt = latest_checkpoint(run_dir, key)
    load_strict(model, load_checkpoint_state(ckpt), source=str(ckpt))
    return model.eval()


def load_released_stack(
    robot: str,
    rla_dir: str | os.PathLike,
    wm_dir: str | os.PathLike,
    unet_dir: str | os.PathLike,
    encoder: DinoEncoder | None = None,
    encoder_config: EncoderConfig | None = None,
    euler_steps: int = 30,
) -> WorldModelStack:
    """Assemble a stack from the three released run folders (RLA, RLA-WM for `robot`, UNet).

    The DINOv3 encoder comes from `encoder`, else from `encoder_config.hub_id` (paper: DINOv3-L/16)."""
    rla_encoder = load_run_model(rla_dir, "encoder")
    rla_decoder = load_run_model(rla_dir, "decoder")
    world_model = load_run_model(wm_dir, "flow_model")
    image_decoder = load_run_model(unet_dir, "decoder")
    enc_cfg = encoder.config if encoder is not None else (encoder_config or EncoderConfig())
    cfg = StackConfig(
        robot=robot,
        encoder=enc_cfg,
        rla_encoder=rla_encoder.config,
        rla_decoder=rla_decoder.config,
        world_model=world_model.config,
        image_decoder=image_decoder.config,
        euler_steps=euler_steps,
        preset="released",
    )
    if encoder is None:
        encoder = DinoEncoder.from_pretrained(enc_cfg)
    stack = WorldModelStack(cfg, encoder=encoder)
    stack.rla.encoder, stack.rla.decoder = rla_encoder, rla_decoder
    stack.world_model, stack.image_decoder = world_model, image_decoder
    return stack.eval()


def download_released(robot: str, cache_dir: str | None = None) -> dict[str, Path]:
    """Fetch the three released ManiSkill run folders for `robot` from the hub (needs internet)."""
    from huggingface_hub import snapshot_download

    keys = {"rla": "rla", "wm": f"wm/{robot}", "unet": "unet"}
    missing = [k for k in keys.values() if k not in RELEASED_FOLDERS]
    if missing:
        raise ValueError(f"no released world model for robot {robot!r}; released: panda, xarm6_robotiq, ur10e")
    patterns = [f"{RELEASED_FOLDERS[k]}/*" for k in keys.values()] + [
        f"{RELEASED_FOLDERS[k]}/ckpts/*" for k in keys.values()
    ]
    root = Path(snapshot_download(RELEASED_HUB_REPO, allow_patterns=patterns, cache_dir=cache_dir))
    return {name: root / RELEASED_FOLDERS[k] for name, k in keys.items()}
