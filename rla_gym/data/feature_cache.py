"""Encoder tokens per episode, computed once and kept on disk until the encoder changes.

One safetensors file per episode, `<cache_root>/<episode key>.safetensors` (the key mirrors the
episode's folder under the data root, e.g. `success/traj_000003`), holding `tokens (T, L, C)` and,
in its metadata, the fingerprint of the encoder (sha256 over its weights, plus the frame size) and a
signature of the episode's files. A file whose fingerprint or signature differs is stale and is
recomputed, so editing the encoder or re-recording an episode never serves old tokens.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from rla_gym.data.video import find_rgb_stream

if TYPE_CHECKING:
    import torch

    from rla_gym.data.dataset import EpisodeDataset

logger = logging.getLogger(__name__)

TOKENS_KEY = "tokens"


class FrameEncoder(Protocol):
    """What the cache needs from an encoder (a torch.nn.Module in practice)."""

    def encode_uint8(self, frames: torch.Tensor) -> torch.Tensor:
        """`(B, H, W, 3) uint8` -> tokens `(B, L, C)` float."""
        ...


def state_dict_fingerprint(module: Any) -> str:
    """sha256 hex over a module's state_dict: every key, dtype, shape and the raw bytes, in key order."""
    import torch

    digest = hashlib.sha256()
    for key, tensor in sorted(module.state_dict().items()):
        t = tensor.detach().to("cpu").contiguous()
        digest.update(f"{key}|{t.dtype}|{tuple(t.shape)}|".encode())
        if t.numel():
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def encoder_fingerprint(encoder: Any) -> str:
    """`encoder.fingerprint()` when it has one, else `state_dict_fingerprint(encoder)`."""
    own = getattr(encoder, "fingerprint", None)
    return str(own()) if callable(own) else state_dict_fingerprint(encoder)


def episode_signature(dataset: EpisodeDataset, index: int) -> str:
    """Cheap identity of an episode's files (byte sizes of metadata.h5 and the RGB stream)."""
    path, header = dataset.paths[index], dataset.header(index)
    stream = find_rgb_stream(path, header.camera)
    if stream is None:
        rgb = "missing"
    elif stream.is_dir():
        rgb = str(sum(p.stat().st_size for p in stream.iterdir() if p.is_file()))
    else:
        rgb = str(stream.stat().st_size)
    return f"T={header.num_steps};h5={(path / 'metadata.h5').stat().st_size};rgb={rgb};cam={header.camera}"


class FeatureCache:
    """Token files under `root`, valid for one `fingerprint` (see `for_encoder`)."""

    def __init__(self, root: Path, fingerprint: str, *, dtype: torch.dtype | None = None) -> None:
        import torch

        self.root = Path(root)
        self.fingerprint = fingerprint
        self.dtype = dtype if dtype is not None else torch.float16  # halves disk; tokens are fp16-safe

    @classmethod
    def for_encoder(cls, root: Path, encoder: Any, size: int | tuple[int, int] | None, **kwargs: Any) -> FeatureCache:
        """A cache keyed on the encoder's weights and the frame size fed to it."""
        combined = hashlib.sha256(f"{encoder_fingerprint(encoder)}|size={size}".encode()).hexdigest()
        return cls(root, combined, **kwargs)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.safetensors"

    def is_fresh(self, key: str, source: str = "") -> bool:
        """True when the file exists and was made by this fingerprint from this source."""
        meta = self._metadata(key)
        return meta is not None and meta.get("fingerprint") == self.fingerprint and meta.get("source") == source

    def load(self, key: str, source: str = "") -> torch.Tensor | None:
        """Tokens `(T, L, C)` in the stored dtype, or None when missing, stale or unreadable."""
        from safetensors import safe_open

        if not self.is_fresh(key, source):
            return None
        try:
            with safe_open(str(self.path(key)), framework="pt") as f:
                return f.get_tensor(TOKENS_KEY)
        except Exception as exc:  # a damaged cache file is only a miss
            logger.debug("cache miss for %s: %s", key, exc)
            return None

    def save(self, key: str, tokens: torch.Tensor, source: str = "") -> Path:
        """Store `tokens (T, L, C)`; written to a temporary name then renamed (no torn files)."""
        from safetensors.torch import save_file

        if tokens.ndim != 3:
            raise ValueError(f"tokens have shape {tuple(tokens.shape)}; expected (T, L, C)")
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        meta = {"fingerprint": self.fingerprint, "source": source, "shape": str(list(tokens.shape))}
        save_file({TOKENS_KEY: tokens.detach().to("cpu", self.dtype).contiguous()}, str(tmp), metadata=meta)
        tmp.replace(path)
        return path

    def _metadata(self, key: str) -> dict[str, str] | None:
        from safetensors import safe_open

        path = self.path(key)
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as f:
                return dict(f.metadata() or {})
        except Exception as exc:
            logger.debug("unreadable cache file %s: %s", path, exc)
            return None


def encode_frames(
    encoder: FrameEncoder, frames: np.ndarray, *, batch_size: int = 16, device: str = "cpu"
) -> torch.Tensor:
    """`frames (T, H, W, 3) uint8` -> tokens `(T, L, C)` on the CPU, encoded `batch_size` at a time."""
    import torch

    out = []
    with torch.inference_mode():
        for start in range(0, len(frames), batch_size):
            chunk = torch.from_numpy(np.ascontiguousarray(frames[start : start + batch_size])).to(device)
            tokens = encoder.encode_uint8(chunk)  # (b, L, C)
            if tokens.ndim != 3 or tokens.shape[0] != chunk.shape[0]:
                raise ValueError(
                    f"encoder.encode_uint8 returned {tuple(tokens.shape)} for {tuple(chunk.shape)}; "
                    f"expected ({chunk.shape[0]}, L, C)"
                )
            out.append(tokens.float().cpu())
    return torch.cat(out)


@dataclass
class FeaturizeReport:
    computed: int = 0
    reused: int = 0
    skipped: list[str] = field(default_factory=list)  # episode keys that failed to load


def featurize_dataset(
    dataset: EpisodeDataset,
    encoder: FrameEncoder,
    cache: FeatureCache,
    *,
    batch_size: int = 16,
    device: str = "cpu",
    progress: bool = True,
) -> FeaturizeReport:
    """Fill `cache` with every episode's tokens; fresh files are kept, broken episodes skipped."""
    from tqdm.auto import tqdm

    report = FeaturizeReport()
    if hasattr(encoder, "eval"):
        encoder.eval()
    bar = tqdm(range(len(dataset)), desc="featurize", unit="episode", disable=not progress)
    for i in bar:
        key, source = dataset.key(i), episode_signature(dataset, i)
        if cache.is_fresh(key, source):
            report.reused += 1
            continue
        episode = dataset.load(i)  # warns and returns None for a broken episode
        if episode is None or episode.frames is None:
            report.skipped.append(key)
            continue
        cache.save(key, encode_frames(encoder, episode.frames, batch_size=batch_size, device=device), source)
        report.computed += 1
        bar.set_postfix(computed=report.computed, reused=report.reused)
    logger.info(
        "featurized %d episodes (%d reused, %d skipped) into %s",
        report.computed,
        report.reused,
        len(report.skipped),
        cache.root,
    )
    return report


class CachedTokens(Sequence):
    """`tokens[i]` = episode i's cached tokens `(T, L, C)`, for `PairSampler.sample(..., states=...)`.

    Kept in memory after the first load (`keep=True`). A missing or stale entry raises KeyError
    telling to fill the cache with `featurize_dataset`.
    """

    def __init__(self, dataset: EpisodeDataset, cache: FeatureCache, *, keep: bool = True) -> None:
        self.dataset, self.cache, self.keep = dataset, cache, keep
        self._memory: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> torch.Tensor:  # type: ignore[override]
        if index in self._memory:
            return self._memory[index]
        key = self.dataset.key(index)
        tokens = self.cache.load(key, episode_signature(self.dataset, index))
        if tokens is None:
            raise KeyError(
                f"no fresh tokens for {key} in {self.cache.root}; fill it with featurize_dataset(dataset, encoder, cache)"
            )
        if self.keep:
            self._memory[index] = tokens
        return tokens
