"""Episodes in memory for training: frames at the stack's size and their encoder tokens, computed once.

At CPU scale every frame fits in memory (300 episodes of 64 px frames and 64 x 192 tokens: ~0.5 GB), so the
frozen encoder runs once per frame and the tokens are cached in one file beside the data, keyed by the
encoder's weights, the image size and the mask setting. Frames are read at the recorded size (128 px) and
resized with antialiasing to the stack's size: one frame pipeline everywhere (design notes: a 64 px render is
aliased and a model trained on it fails on resized 128 px frames).
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rla_gym.data.dataset import EpisodeDataset
from rla_gym.data.encoding import encode_frames, state_dict_fingerprint
from rla_gym.data.episode import resize_masks
from rla_gym.data.video import resize_frames

log = logging.getLogger(__name__)

CACHE_DIR = ".features"  # hidden: episode discovery never walks it


@dataclass
class TrainingData:
    """Per-episode arrays, index-aligned. frames[i]: (T, H, W, 3) uint8 (None when loaded without frames: only
    the UNet trains on pixels); tokens[i]: (T, L, C) float16; targets[i]: (T, A) float32 joint targets commanded
    from each frame; interaction[i]: (T,) bool; labels[i]: (T, H, W) uint8 task-object labels at the stack's size
    (k + 1 on object k; None when loaded without frames or recorded without segmentation)."""

    keys: list[str]
    frames: list[torch.Tensor] | None
    tokens: list[torch.Tensor]
    targets: list[np.ndarray]
    interaction: list[np.ndarray]
    success: list[bool]
    masked: bool
    labels: list[torch.Tensor | None] | None = None
    # each episode's folder, resolved (a view of links and its target name one folder), and what encoded the tokens
    # (encoder weights, image size, mask): another root's load can reuse these tokens (`load_training_data(reuse=)`)
    sources: list[str] | None = None
    setting: str | None = None

    def __post_init__(self) -> None:
        n = len(self.keys)
        for name in ("frames", "tokens", "targets", "interaction", "success", "labels", "sources"):
            if getattr(self, name) is not None and len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} episodes; keys has {n}")
        if n == 0:
            raise ValueError("no episodes: training needs at least one readable traj_* folder")

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def num_frames(self) -> int:
        return int(sum(len(t) for t in self.targets))

    def successes(self) -> TrainingData:
        """Only the successful episodes: behaviour cloning imitates demonstrations, not failures (reference 7.3
        trains BC on the `success/` split)."""
        keep = [i for i, s in enumerate(self.success) if s]
        if not keep:
            raise ValueError(f"none of the {len(self)} episodes succeeded: BC needs successful demonstrations")
        return self.subset(keep)

    def first(self, fraction: float) -> TrainingData:
        """The first ceil(fraction x N) episodes in key order (at least one): nested subsets, so BC on 10 % of the
        demos saw a part of what BC on 25 % saw (issue 17's headroom variants)."""
        if not 0 < fraction <= 1:
            raise ValueError(f"fraction must be in (0, 1]; got {fraction}")
        return self.subset(list(range(max(1, math.ceil(fraction * len(self))))))

    def subset(self, keep: list[int]) -> TrainingData:
        """The episodes at `keep`, every per-episode array alike."""
        pick = lambda xs: None if xs is None else [xs[i] for i in keep]  # noqa: E731
        return TrainingData(
            pick(self.keys),
            pick(self.frames),
            pick(self.tokens),
            pick(self.targets),
            pick(self.interaction),
            pick(self.success),
            self.masked,
            pick(self.labels),
            sources=pick(self.sources),
            setting=self.setting,
        )

    def flat_index(self) -> tuple[np.ndarray, np.ndarray]:
        """(episode, frame) of every frame, for uniform frame sampling."""
        ep = np.concatenate([np.full(len(t), i) for i, t in enumerate(self.targets)])
        fr = np.concatenate([np.arange(len(t)) for t in self.targets])
        return ep, fr


def apply_mask(frames: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Black out the background (ground, sky): frames (T, H, W, 3) uint8 * mask (T, H', W') bool, resized nearest."""
    if mask.shape[1:] != frames.shape[1:3]:
        idx_h = (np.arange(frames.shape[1]) * mask.shape[1] // frames.shape[1]).astype(int)
        idx_w = (np.arange(frames.shape[2]) * mask.shape[2] // frames.shape[2]).astype(int)
        mask = mask[:, idx_h][:, :, idx_w]
    return frames * mask[..., None].astype(np.uint8)


def load_training_data(
    root: str | Path,
    encoder: torch.nn.Module,
    image_size: int,
    *,
    mask: bool = False,
    cache: bool = True,
    batch_size: int = 64,
    device: str | torch.device = "cpu",
    progress: bool = True,
    keep_frames: bool = True,
    robot: str | None = None,
    reuse: Sequence[TrainingData] = (),
) -> TrainingData:
    """Read every episode under `root`, resize (and mask) its frames, encode them (cached).

    `keep_frames=False` is for the trainers that only see tokens (RLA, RLA-WM, regression, BC): the frames are
    not kept (~300 MB for the default data set) and, once the tokens are cached, the videos are not even decoded.
    `robot`, when given, must be every episode's robot (a model of one robot trained on another's joints is wrong
    without an error). `reuse`: data loaded from other roots with the same encoder, size and mask; an episode
    folder they hold (views of one data set as roots of links) takes their tokens instead of being encoded again."""
    from tqdm.auto import tqdm

    root = Path(root)
    dataset = EpisodeDataset(root, cache_size=0)
    if dataset.skipped:
        log.warning("%d corrupt episode folders skipped under %s", len(dataset.skipped), root)
    keys = [dataset.key(i) for i in range(len(dataset))]
    if robot is not None:
        other = {dataset.header(i).robot: keys[i] for i in range(len(dataset)) if dataset.header(i).robot != robot}
        if other:
            name, key = next(iter(other.items()))
            raise ValueError(
                f"{root} holds {name} episodes (e.g. {key}); expected {robot} episodes, the robot of the model"
            )
    setting = f"{state_dict_fingerprint(encoder)}|{image_size}|mask={mask}"
    fingerprint = hashlib.sha256(f"{setting}|{'/'.join(keys)}".encode()).hexdigest()[:16]
    cache_path = root / CACHE_DIR / f"train-{fingerprint}.pt"
    cached = torch.load(cache_path, weights_only=True) if cache and cache_path.is_file() else None
    sources = [str(path.resolve()) for path in dataset.paths]
    known = _reusable_tokens(reuse, setting, root) if cached is None else {}

    frames, tokens, targets, interaction, success, labels = [], [], [], [], [], []
    reused = 0
    for i in tqdm(range(len(dataset)), desc=f"load {root.name}", unit="ep", disable=not progress):
        encode = cached is None and sources[i] not in known
        read_frames = keep_frames or encode
        episode = dataset[i] if read_frames else dataset.header(i)
        if read_frames:
            f = episode.frames
            if mask:
                if episode.mask is None:
                    raise ValueError(
                        f"{dataset.paths[i]} has no foreground mask; collect again or train without --mask"
                    )
                f = apply_mask(f, episode.mask)
            f = resize_frames(f, image_size)
            if keep_frames:
                frames.append(torch.from_numpy(np.ascontiguousarray(f)))
                lab = episode.object_labels
                labels.append(
                    None if lab is None else torch.from_numpy(resize_masks(lab, (image_size, image_size)).copy())
                )
            if encode:
                tokens.append(encode_frames(encoder, f, batch_size=batch_size, device=str(device)).half())
        if cached is None and not encode:
            tokens.append(known[sources[i]])
            reused += 1
        targets.append(np.asarray(episode.target_qpos, dtype=np.float32))
        interaction.append(np.asarray(episode.object_moved, dtype=bool))
        success.append(bool(episode.success))
    if cached is not None:
        tokens = list(cached["tokens"])
        log.info("tokens for %d episodes read from %s", len(tokens), cache_path)
    else:
        if reused:
            log.info("tokens for %d of %d episodes under %s reused from other roots", reused, len(tokens), root)
        if cache:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_path.with_suffix(".tmp")
            torch.save({"tokens": tokens, "keys": keys}, tmp)
            tmp.replace(cache_path)
    kept = (frames, labels) if keep_frames else (None, None)
    return TrainingData(
        keys, kept[0], tokens, targets, interaction, success, mask, kept[1], sources=sources, setting=setting
    )


def _reusable_tokens(reuse: Sequence[TrainingData], setting: str, root: Path) -> dict[str, torch.Tensor]:
    """Tokens by resolved episode folder from data loaded elsewhere; data encoded otherwise is refused (its tokens
    would be another encoder's, silently)."""
    known: dict[str, torch.Tensor] = {}
    for data in reuse:
        if data.sources is None or data.setting != setting:
            raise ValueError(
                f"cannot reuse tokens for {root}: they were encoded with another encoder, image size or mask "
                f"({data.setting!r}; this load: {setting!r})"
            )
        known.update(zip(data.sources, data.tokens))
    return known
