"""Token cache: reused while the encoder's weights match, recomputed when they change."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from rla_gym.data import (
    CachedTokens,
    EpisodeDataset,
    FeatureCache,
    PairSampler,
    episode_signature,
    featurize_dataset,
    state_dict_fingerprint,
    synthetic_episode,
    write_episode,
)


class PatchEncoder(nn.Module):
    """Stand-in encoder: an 8x8 conv patchifier, uint8 (B, H, W, 3) -> tokens (B, L, C)."""

    def __init__(self, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.proj = nn.Conv2d(3, 6, kernel_size=8, stride=8)
        self.calls = 0

    def encode_uint8(self, frames: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        x = frames.permute(0, 3, 1, 2).float() / 255.0
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, L, C)


@pytest.fixture()
def data(tmp_path: Path) -> EpisodeDataset:
    write_episode(tmp_path / "success", 0, synthetic_episode(10, 16, seed=0))
    write_episode(tmp_path / "fail", 1, synthetic_episode(12, 16, success=False, seed=1))
    return EpisodeDataset(tmp_path)


def test_fingerprint_follows_the_weights():
    enc = PatchEncoder()
    before = state_dict_fingerprint(enc)
    assert state_dict_fingerprint(PatchEncoder()) == before
    with torch.no_grad():
        enc.proj.bias[0] += 1e-3
    assert state_dict_fingerprint(enc) != before


def test_cache_is_reused_then_recomputed_when_weights_change(data, tmp_path):
    cache_dir = tmp_path / "cache"
    enc = PatchEncoder()
    first = featurize_dataset(data, enc, FeatureCache.for_encoder(cache_dir, enc, None), batch_size=4, progress=False)
    assert (first.computed, first.reused) == (2, 0)
    calls = enc.calls
    assert calls == 3 + 3  # 10 and 12 frames in batches of 4
    tokens = CachedTokens(data, FeatureCache.for_encoder(cache_dir, enc, None))
    assert tokens[0].shape == (12, 4, 6) and tokens[1].shape == (10, 4, 6)  # (T, L, C); fail/ sorts first

    again = featurize_dataset(data, enc, FeatureCache.for_encoder(cache_dir, enc, None), progress=False)
    assert (again.computed, again.reused) == (0, 2) and enc.calls == calls

    signature = episode_signature(data, 0)
    assert FeatureCache.for_encoder(cache_dir, enc, None).load(data.key(0), signature) is not None
    with torch.no_grad():
        enc.proj.weight.mul_(2.0)
    changed = FeatureCache.for_encoder(cache_dir, enc, None)
    assert changed.load(data.key(0), signature) is None  # stale: made by other weights
    redo = featurize_dataset(data, enc, changed, progress=False)
    assert (redo.computed, redo.reused) == (2, 0)
    assert not torch.allclose(CachedTokens(data, changed)[0].float(), tokens[0].float())


def test_cached_tokens_feed_the_pair_sampler(data, tmp_path):
    enc = PatchEncoder()
    cache = FeatureCache.for_encoder(tmp_path / "cache", enc, None)
    featurize_dataset(data, enc, cache, progress=False)
    batch = PairSampler.from_dataset(data, seed=0).sample(8, CachedTokens(data, cache))
    assert batch.states_t.shape == (8, 4, 6) and batch.actions.shape == (8, 15, 5)


def test_missing_tokens_say_how_to_fill_the_cache(data, tmp_path):
    cache = FeatureCache.for_encoder(tmp_path / "empty", PatchEncoder(), None)
    with pytest.raises(KeyError, match=r"fill it with featurize_dataset\(dataset, encoder, cache\)"):
        CachedTokens(data, cache)[0]
