"""Object state read from tokens: a linear probe from DINO tokens to the task objects' positions.

Fitted on real tokens of training episodes (ridge regression, solved in closed form; the ridge strength picked
on held-out training episodes), applied to predicted tokens of held-out rollouts: if the world model predicts
where the ball goes, the probe reads it back from its tokens. A probe fitted on shuffled labels must fail (its
held-out error stays at the labels' spread), which the tests check.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

RIDGE_GRID = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)  # relative to the Gram matrix of tokens / sqrt(L C)


@dataclass
class ObjectProbe:
    """y = (x - mean) @ weight + bias, x the flattened tokens (L * C), y the objects' xy positions (2 N)."""

    mean: torch.Tensor  # (D,)
    weight: torch.Tensor  # (D, P)
    bias: torch.Tensor  # (P,)
    ridge: float

    def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (..., L, C) -> positions (..., P)."""
        x = tokens.float().flatten(-2) - self.mean
        return x @ self.weight + self.bias


def _ridge(x: torch.Tensor, y: torch.Tensor, lam: float) -> torch.Tensor:
    """Dual ridge on X / sqrt(D): W = X^T (X X^T / D + lam I)^-1 Y / D, cheap when N << D (12k dims)."""
    n = x.shape[0]
    gram = x @ x.T / x.shape[1]
    alpha = torch.linalg.solve(gram + lam * torch.eye(n, dtype=x.dtype), y)
    return x.T @ alpha / x.shape[1]


def fit_probe(
    tokens: torch.Tensor,
    positions: torch.Tensor,
    groups: np.ndarray,
    *,
    max_frames: int = 3000,
    seed: int = 0,
) -> ObjectProbe:
    """tokens (N, L, C), positions (N, P), groups (N,) episode ids -> a probe; one fifth of the episodes pick the
    ridge strength, then the probe is refitted on all. At most `max_frames` frames are used (dual solve)."""
    rng = np.random.default_rng(seed)
    if len(tokens) > max_frames:
        keep = np.sort(rng.choice(len(tokens), size=max_frames, replace=False))
        tokens, positions, groups = tokens[keep], positions[keep], np.asarray(groups)[keep]
    x = tokens.double().flatten(1)
    y = positions.double()
    mean = x.mean(0)
    x = x - mean
    episodes = np.unique(groups)
    val_eps = rng.choice(episodes, size=max(1, len(episodes) // 5), replace=False)
    val = torch.from_numpy(np.isin(groups, val_eps))
    best, best_err = RIDGE_GRID[0], float("inf")
    if (~val).sum() > 0 and val.sum() > 0:
        for lam in RIDGE_GRID:
            ym = y[~val].mean(0)
            w = _ridge(x[~val], y[~val] - ym, lam)
            err = float((x[val] @ w + ym - y[val]).norm(dim=-1).mean())
            if err < best_err:
                best, best_err = lam, err
    ym = y.mean(0)
    w = _ridge(x, y - ym, best)
    return ObjectProbe(mean.float(), w.float(), ym.float(), best)


def xy_positions(task_object_poses: np.ndarray) -> np.ndarray:
    """(T, N, 7) poses -> (T, 2 N) xy of each object, metres."""
    return np.asarray(task_object_poses, dtype=np.float32)[:, :, :2].reshape(len(task_object_poses), -1)


def position_error_cm(predicted: torch.Tensor, true: torch.Tensor, num_objects: int) -> np.ndarray:
    """predicted, true (B, 2 N) -> (B, N) per-object xy error in cm."""
    diff = (predicted.float() - true.float()).reshape(len(predicted), num_objects, 2)
    return (diff.norm(dim=-1) * 100).numpy()


def success_from_positions(positions: torch.Tensor, distance: float, obj: int = 0, goal: int = 1) -> np.ndarray:
    """(B, 2 N) positions -> (B,) bool: object `obj` within `distance` metres (xy) of object `goal`."""
    p = positions.float().reshape(len(positions), -1, 2)
    return ((p[:, obj] - p[:, goal]).norm(dim=-1) < distance).numpy()
