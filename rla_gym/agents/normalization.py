"""Action normaliser: joint targets <-> [-1, 1] from a dataset's action range (reference 7.3, "limits" mode).

The BC head predicts, and PPO explores, in this normalised space, so the residual head's 0.1 bound means the
same fraction (5 %) of every joint's demonstrated range. Its range travels inside the policy's state dict
(buffers), so a saved policy unnormalises exactly as it was trained.
"""

from __future__ import annotations

import torch
from torch import nn

RANGE_EPS = 1e-4  # a joint whose demos never move it (range below this) is centred, not scaled


class ActionNormalizer(nn.Module):
    """x -> 2 (x - low) / (high - low) - 1 per action dimension; `unnormalize` inverts it exactly."""

    def __init__(self, low: torch.Tensor, high: torch.Tensor) -> None:
        super().__init__()
        low, high = torch.as_tensor(low, dtype=torch.float32), torch.as_tensor(high, dtype=torch.float32)
        if low.dim() != 1 or low.shape != high.shape:
            raise ValueError(
                f"low and high must be 1-D of the same length; got {tuple(low.shape)}, {tuple(high.shape)}"
            )
        if not bool((high >= low).all()):
            raise ValueError(f"high must be >= low in every dimension; got low {low.tolist()}, high {high.tolist()}")
        self.register_buffer("low", low)
        self.register_buffer("high", high)

    @classmethod
    def from_targets(cls, targets: torch.Tensor) -> ActionNormalizer:
        """Fit on joint targets (..., A): the per-dimension min and max over every row."""
        flat = torch.as_tensor(targets, dtype=torch.float32).reshape(-1, torch.as_tensor(targets).shape[-1])
        if flat.shape[0] == 0:
            raise ValueError("cannot fit an action normaliser on zero rows")
        return cls(flat.min(0).values, flat.max(0).values)

    @property
    def action_dim(self) -> int:
        return int(self.low.numel())

    def _centre_half(self) -> tuple[torch.Tensor, torch.Tensor]:
        half = (self.high - self.low) / 2
        half = torch.where(half < RANGE_EPS / 2, torch.ones_like(half), half)
        return (self.high + self.low) / 2, half

    def _check(self, x: torch.Tensor) -> None:
        if x.shape[-1] != self.action_dim:
            raise ValueError(f"actions have last dimension {x.shape[-1]}; the normaliser expects {self.action_dim}")

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Joint targets (..., A) -> normalised (..., A); the dataset's range maps onto [-1, 1]."""
        self._check(x)
        centre, half = self._centre_half()
        return (x - centre) / half

    def unnormalize(self, y: torch.Tensor) -> torch.Tensor:
        """Normalised (..., A) -> joint targets (..., A)."""
        self._check(y)
        centre, half = self._centre_half()
        return y * half + centre
