"""The video-aligned reward (paper 4.3): negative DINO-token L1 to the time-synced demo frame
("aligned") or to the demo's last frame ("goal"), times a scale (paper: 5)."""

from __future__ import annotations

import torch

REWARD_MODES = ("aligned", "goal")


def token_l1(pred: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference over tokens and channels: (N, L, C), (N, L, C) -> (N,)."""
    return (pred - ref).abs().mean(dim=(1, 2))


def video_aligned_reward(pred: torch.Tensor, ref: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns (reward, raw L1), both (N,): reward = -scale * mean|pred - ref|."""
    err = token_l1(pred, ref)
    return -scale * err, err
