"""Frames to tokens and the encoder fingerprint that keys the trainers' token cache."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rla_gym.data.encoding import encode_frames, state_dict_fingerprint


class PatchEncoder(torch.nn.Module):
    """A tiny encoder whose tokens depend on the pixels: mean colour of each 8x8 patch through a linear map."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.proj = torch.nn.Linear(3, 4)

    def encode_uint8(self, frames: torch.Tensor) -> torch.Tensor:
        x = frames.float().permute(0, 3, 1, 2) / 255
        patches = torch.nn.functional.avg_pool2d(x, 8).flatten(2).transpose(1, 2)  # (B, L, 3)
        return self.proj(patches)


def test_fingerprint_follows_the_weights():
    enc = PatchEncoder()
    before = state_dict_fingerprint(enc)
    assert state_dict_fingerprint(PatchEncoder()) == before
    with torch.no_grad():
        enc.proj.weight[0, 0] += 1e-3
    assert state_dict_fingerprint(enc) != before


def test_encode_frames_batches_without_changing_the_tokens():
    frames = np.random.default_rng(0).integers(0, 255, (5, 16, 16, 3), dtype=np.uint8)
    enc = PatchEncoder()
    one = encode_frames(enc, frames, batch_size=5)
    two = encode_frames(enc, frames, batch_size=2)
    assert one.shape == (5, 4, 4) and torch.allclose(one, two)
    assert not torch.allclose(one[0], one[1])  # the tokens follow the pixels


def test_encode_frames_names_a_wrong_token_shape():
    class Flat(PatchEncoder):
        def encode_uint8(self, frames):
            return super().encode_uint8(frames).flatten(1)

    with pytest.raises(ValueError, match=r"expected \(2, L, C\)"):
        encode_frames(Flat(), np.zeros((2, 16, 16, 3), np.uint8))
