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
from rla_gym.data.demo_video import is_h264_file, join_h264
from rla_gym.data.video import find_rgb_stream, resize_frames
from rla_gym.models.bundle import Bundle, load_bundle
from rla_gym.models.state_dicts import load_strict
from rla_gym.train.build import load_final, load_rla_run, load_trained_encoder, read_latent_scale
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
    num_episodes: int | None,
    *,
    mask: bool = False,
    successes_only: bool = True,
    robot: str | None = None,
) -> DemoSet:
    """The first `num_episodes` (None: every) success episode under `root`, frames resized (and masked) to the
    stack's size. `robot`, when given, must be every chosen episode's robot. Unmasked mp4 episodes keep their
    H.264 streams (`DemoSet.video`), which is what a bundle then stores."""
    if num_episodes is not None and num_episodes < 1:
        raise ValueError(f"num_episodes: expected an integer >= 1 or None (every episode); got {num_episodes}")
    dataset = EpisodeDataset(root, cache_size=0)
    frames, targets, qpos, streams, sizes = [], [], [], [], set()
    for i in range(len(dataset)):
        header = dataset.header(i)
        if successes_only and not header.success:
            continue
        if robot is not None and header.robot != robot:
            raise ValueError(f"{root} holds {header.robot} episodes ({dataset.key(i)}); expected {robot}")
        episode = dataset[i]
        f = apply_mask(episode.frames, episode.mask) if mask else episode.frames
        frames.append(torch.from_numpy(np.ascontiguousarray(resize_frames(f, image_size))))
        targets.append(torch.from_numpy(np.asarray(episode.target_qpos, dtype=np.float32)))
        qpos.append(torch.from_numpy(np.asarray(episode.qpos, dtype=np.float32)))
        streams.append(find_rgb_stream(dataset.paths[i], episode.camera))
        sizes.add(tuple(episode.frames.shape[1:3]))
        if len(frames) == num_episodes:
            break
    if not frames:
        raise ValueError(f"no {'success ' if successes_only else ''}episode under {root} for the demo set")
    if mask or len(sizes) != 1 or not all(s is not None and is_h264_file(s) for s in streams):
        return DemoSet.from_episodes(frames, targets, qpos)  # masked or not all mp4: the frames themselves
    return DemoSet.from_episodes(frames, targets, qpos, video=join_h264(streams), video_size=sizes.pop())


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
    load_rla_run(stack.rla, runs.rla)
    load_strict(stack.world_model, load_final(runs.wm, "world_model"), source=f"{runs.wm}/final")
    stack.config.latent_scale = read_latent_scale(runs.wm)
    if euler_steps is not None:
        stack.config.euler_steps = euler_steps
    stack.eval()
    return Bundle(stack=stack, demos=demos, random=False, task=task, metadata=dict(metadata or {}))
