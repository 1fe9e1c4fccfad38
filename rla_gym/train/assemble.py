"""Assemble a bundle from trained runs: the init bundle's config and encoder, each run's final weights, and a
demo set of real success episodes (the env resets from their frames and rewards against their tokens)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rla_gym.data.dataset import EpisodeDataset
from rla_gym.data.demo_set import DemoSet
from rla_gym.data.video import resize_frames
from rla_gym.models.bundle import Bundle, load_bundle
from rla_gym.models.state_dicts import load_strict
from rla_gym.train.build import load_final, load_trained_encoder, read_latent_scale
from rla_gym.train.data import apply_mask

log = logging.getLogger(__name__)


@dataclass
class Runs:
    unet: Path
    rla: Path
    wm: Path
    encoder: Path | None = None  # a --train-encoder UNet run or checkpoint: its encoder replaces the init one


def demo_set(
    root: Path,
    image_size: int,
    num_episodes: int,
    *,
    mask: bool = False,
    successes_only: bool = True,
    robot: str | None = None,
) -> DemoSet:
    """The first `num_episodes` (success) episodes under `root`, frames resized (and masked) to the stack's size.
    `robot`, when given, must be every chosen episode's robot."""
    if num_episodes < 1:
        raise ValueError(f"num_episodes: expected an integer >= 1; got {num_episodes}")
    dataset = EpisodeDataset(root, cache_size=0)
    frames, targets, qpos = [], [], []
    for i in range(len(dataset)):
        if successes_only and not dataset.header(i).success:
            continue
        if robot is not None and dataset.header(i).robot != robot:
            raise ValueError(f"{root} holds {dataset.header(i).robot} episodes ({dataset.key(i)}); expected {robot}")
        episode = dataset[i]
        f = apply_mask(episode.frames, episode.mask) if mask else episode.frames
        frames.append(torch.from_numpy(np.ascontiguousarray(resize_frames(f, image_size))))
        targets.append(torch.from_numpy(np.asarray(episode.target_qpos, dtype=np.float32)))
        qpos.append(torch.from_numpy(np.asarray(episode.qpos, dtype=np.float32)))
        if len(frames) == num_episodes:
            break
    if not frames:
        raise ValueError(f"no {'success ' if successes_only else ''}episode under {root} for the demo set")
    return DemoSet.from_episodes(frames, targets, qpos)


def assemble_bundle(
    init: str,
    runs: Runs,
    demos: DemoSet,
    task: str,
    *,
    euler_steps: int | None = None,
    metadata: dict | None = None,
) -> Bundle:
    """Load the init bundle and overwrite its components with the trained weights (strictly)."""
    if euler_steps is not None and euler_steps < 1:
        raise ValueError(f"euler_steps: expected an integer >= 1 (or None: the init bundle's); got {euler_steps}")
    bundle = load_bundle(init)
    stack = bundle.stack
    if runs.encoder is not None:
        load_strict(stack.encoder, load_trained_encoder(runs.encoder), source=f"{runs.encoder} (encoder)")
    load_strict(stack.image_decoder, load_final(runs.unet, "image_decoder"), source=f"{runs.unet}/final")
    load_strict(stack.rla.encoder, load_final(runs.rla, "rla_encoder"), source=f"{runs.rla}/final")
    load_strict(stack.rla.decoder, load_final(runs.rla, "rla_decoder"), source=f"{runs.rla}/final")
    load_strict(stack.world_model, load_final(runs.wm, "world_model"), source=f"{runs.wm}/final")
    stack.config.latent_scale = read_latent_scale(runs.wm)
    if euler_steps is not None:
        stack.config.euler_steps = euler_steps
    stack.eval()
    return Bundle(stack=stack, demos=demos, random=False, task=task, metadata=dict(metadata or {}))
