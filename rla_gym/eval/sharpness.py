"""Blur and collapse: the paper argues a regression world model predicts the blurry mean; measure it.

- Sharpness: high-frequency (Laplacian) energy of renders of predicted tokens over that of renders of real
  tokens (1: as sharp as the real thing; a blurry mean falls well below 1).
- Collapse: the error of the mean of n sampled predictions against the error of one sample. A stochastic
  model whose samples spread around the truth has a mean much better than one sample (ratio well below 1); a
  model that ignores its noise has ratio 1.
"""

from __future__ import annotations

import torch

_LAPLACIAN = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])


def laplacian_energy(images: torch.Tensor) -> torch.Tensor:
    """images (N, 3, H, W) in [0, 1] (or uint8 (N, H, W, 3)) -> (N,) mean squared Laplacian of the grey image."""
    if images.dtype == torch.uint8:
        images = images.permute(0, 3, 1, 2).float() / 255.0
    grey = images.float().mean(dim=1, keepdim=True)  # (N, 1, H, W)
    kernel = _LAPLACIAN.to(grey.device)[None, None]
    return torch.nn.functional.conv2d(grey, kernel).pow(2).mean(dim=(1, 2, 3))


def sharpness_ratio(predicted_renders: torch.Tensor, real_renders: torch.Tensor) -> float:
    """Total Laplacian energy of the predicted renders over the real ones (same frames, same order)."""
    return float(laplacian_energy(predicted_renders).sum() / laplacian_energy(real_renders).sum().clamp_min(1e-12))


def sample_collapse(samples: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """samples (n, B, L, C) of one start under n noise draws; target (B, L, C) -> token L1 of their mean, mean L1
    of one sample, and their ratio (mean-of-n / one-sample; 1 = the samples do not differ)."""
    if samples.dim() != 4 or samples.shape[1:] != target.shape:
        raise ValueError(f"samples {tuple(samples.shape)} must be (n, *target.shape) with target {tuple(target.shape)}")
    one = (samples.float() - target.float()).abs().mean().item()
    mean = (samples.float().mean(0) - target.float()).abs().mean().item()
    return {"l1_mean_of_n": mean, "l1_one_sample": one, "collapse_ratio": mean / one if one > 0 else 1.0}
