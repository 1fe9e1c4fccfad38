"""Outcome discrimination: do the predicted final tokens tell the real outcome from a counterfactual one?

A scripted success is replayed in the simulator; its real final frame (ball in the goal) and a counterfactual
final frame (same arm pose, the task's object put back where it started) are encoded. A model rolled open loop
over the whole episode with the same joint targets should end nearer the real outcome. Per rollout,

    resolved = (L1(pred, counterfactual) - L1(pred, real)) / L1(real, counterfactual)

is 1 when the prediction is the real outcome, 0 when it is equally far from both (the object's fate not
predicted: the arm-only error cancels), -1 when it is the counterfactual.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class OutcomeScore:
    """Per rollout (episodes x noise draws, flattened): the fraction of the gap resolved and whether the
    prediction is closer to the real outcome; `gap` is L1(real, counterfactual) per episode."""

    resolved: np.ndarray  # (E * D,)
    closer: np.ndarray  # (E * D,) bool
    gap: np.ndarray  # (E,)

    @property
    def mean_resolved(self) -> float:
        return float(self.resolved.mean())

    @property
    def closer_rate(self) -> float:
        return float(self.closer.mean())

    def summary(self) -> dict[str, float]:
        return {
            "outcome_resolved": self.mean_resolved,
            "outcome_closer": self.closer_rate,
            "outcome_gap": float(self.gap.mean()),
            "rollouts": float(self.resolved.size),
            "episodes": float(self.gap.size),
        }

    def per_episode(self) -> np.ndarray:
        """Fraction resolved per episode, its draws averaged, (E,): the independent units a paired test needs."""
        return self.resolved.reshape(self.gap.size, -1).mean(1)


def token_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean |a - b| over the last two dims (tokens, channels): (..., L, C) x (..., L, C) -> (...)."""
    return (a.float() - b.float()).abs().mean(dim=(-2, -1))


def outcome_score(predicted: torch.Tensor, real: torch.Tensor, counterfactual: torch.Tensor) -> OutcomeScore:
    """predicted (E, L, C) or (E, D, L, C) with D noise draws; real, counterfactual (E, L, C) -> `OutcomeScore`."""
    if predicted.dim() == 3:
        predicted = predicted[:, None]
    same = predicted.dim() == 4 and (predicted.shape[0], *predicted.shape[2:]) == tuple(real.shape)
    if not same or real.shape != counterfactual.shape:
        raise ValueError(
            f"predicted {tuple(predicted.shape)} must be (E, [D,] L, C) matching real {tuple(real.shape)} and "
            f"counterfactual {tuple(counterfactual.shape)}"
        )
    gap = token_distance(real, counterfactual)  # (E,)
    if bool((gap <= 0).any()):
        raise ValueError("a counterfactual equals its real outcome: the object did not move in that episode")
    to_real = token_distance(predicted, real[:, None])  # (E, D)
    to_cf = token_distance(predicted, counterfactual[:, None])
    resolved = (to_cf - to_real) / gap[:, None]
    return OutcomeScore(resolved.flatten().numpy(), (to_real < to_cf).flatten().numpy(), gap.numpy())
