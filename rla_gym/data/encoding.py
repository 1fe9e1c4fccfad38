"""Frames to encoder tokens, and a fingerprint of the encoder's weights: what the trainers' token cache
(`rla_gym.train.data`, `DATA/.features/`) is computed with and keyed by, so a changed encoder never serves old
tokens."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

if TYPE_CHECKING:
    import torch


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
