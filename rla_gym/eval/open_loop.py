"""Open-loop rollout and its scoring, once: the paper's protocol for a world model's predictions.

From real start tokens, a `Dynamics` (RLA-WM, regression, copy-first: `rla_gym.models.dynamics`) steps through a
sequence of recorded joint-target chunks, each prediction fed back as the next state; the predicted tokens after
every chunk are scored against the real tokens (token L1) and their UNet renders against the real frames (SSIM,
PSNR). `benchmarks/prediction_quality.py` (recorded frames) and `benchmarks/sim_fidelity.py` (ManiSkill re-renders)
are presets, tables and `main()`s around these functions; object and outcome metrics take `rollout`'s tokens.

    preds = rollout(bundle.dynamics("rla-wm"), tokens[:, 0], chunks)  # (B, N, L, C): after chunk 1..N
    rows = score(bundle.stack, preds, tokens[:, 1:], frames[:, 1:], chunk=chunks.shape[2])
    # [{"horizon": K, "token_l1": ..., "ssim": ..., "psnr": ...}, ...] one per chunk step
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torchmetrics.functional.image import structural_similarity_index_measure

from rla_gym.eval import figures
from rla_gym.models.dynamics import CopyDynamics, Dynamics, RegressionDynamics
from rla_gym.models.regression import RegressionWorldModel
from rla_gym.models.stack import WorldModelStack


def predictors(
    stack: WorldModelStack, regression: RegressionWorldModel | None = None, euler_steps: int | None = None
) -> dict[str, Dynamics]:
    """The models every open-loop table compares: RLA-WM at `euler_steps` (None: the stack's), the direct-regression
    baseline when there is one (`Bundle.regression`), and copy-first-frame, by their table names."""
    models: dict[str, Dynamics] = {}
    rla_wm = stack.dynamics(euler_steps)
    models[f"RLA-WM ({rla_wm.euler_steps} Euler)"] = rla_wm
    if regression is not None:
        models["regression"] = RegressionDynamics(regression.to(stack.device), stack.robot, stack.num_tokens)
    wm = stack.config.world_model
    models["copy first frame"] = CopyDynamics(stack.robot, stack.token_dim, wm.max_horizon, stack.num_tokens)
    return models


@torch.no_grad()
def rollout(
    dynamics: Dynamics,
    start: torch.Tensor,
    chunks: torch.Tensor | Sequence[torch.Tensor],
    *,
    batch: int | None = None,
    seed: int = 0,
    generator: torch.Generator | None = None,
    precision: str | None = None,
) -> torch.Tensor:
    """Open loop from `start` (B, L, C) through `chunks` of absolute joint targets, each prediction fed back ->
    predicted tokens after every chunk, (B, N, L, C), on the start tokens' device. `chunks` is (B, N, K, A), or a
    sequence of N tensors (B, K_n, A) when the chunks differ in length (a shorter last one).

    Worlds run `batch` at a time (None: all at once), each batch through all N chunks. A stochastic model's flow
    noise comes from `generator` (a CPU generator seeded with `seed` when None: the same draws on every device),
    drawn per call in that order: the same seed, batch and inputs give the same predictions. To sample several
    futures of one start, repeat it: `rollout(d, s0.expand(draws, L, C), chunks.expand(draws, ...))`."""
    steps = list(chunks.unbind(1)) if isinstance(chunks, torch.Tensor) and chunks.dim() == 4 else list(chunks)
    b = start.shape[0]
    if start.dim() != 3 or not steps or any(c.dim() != 3 or c.shape[0] != b for c in steps):
        shapes = tuple(chunks.shape) if isinstance(chunks, torch.Tensor) else [tuple(c.shape) for c in steps]
        raise ValueError(
            f"start has shape {tuple(start.shape)} and chunks {shapes}; expected (B, L, C) and (B, N, K, A) "
            "(or N tensors (B, K_n, A)) with the same B"
        )
    gen = generator if generator is not None else torch.Generator().manual_seed(seed)
    size = batch or b
    out = []
    for i in range(0, b, size):
        s, preds = start[i : i + size], []
        for c in steps:
            s = dynamics(s, c[i : i + size].to(s.device), generator=gen, precision=precision)
            preds.append(s)
        out.append(torch.stack(preds, dim=1))
    return torch.cat(out)


def _as_unit(frames: torch.Tensor, device: torch.device) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float in [0, 1]."""
    return frames.to(device).permute(0, 3, 1, 2).float() / 255


@torch.no_grad()
def image_scores(
    stack: WorldModelStack, tokens: torch.Tensor, frames: torch.Tensor, batch: int | None = None
) -> dict[str, float]:
    """UNet renders of `tokens` (B, L, C) against real `frames` (B, H, W, 3) uint8 at the stack's size: mean SSIM
    over the images and PSNR of the pooled squared error (dB, data range 1)."""
    ssim_sum, sq_sum, count = 0.0, 0.0, 0
    size = batch or tokens.shape[0]
    for t, f in zip(tokens.split(size), frames.split(size)):
        rendered = _as_unit(stack.render(t), t.device)
        real = _as_unit(f, rendered.device)
        ssim = structural_similarity_index_measure(rendered, real, data_range=1.0, reduction="none")
        ssim_sum += float(ssim.sum())
        sq_sum += float(((rendered - real) ** 2).sum())
        count += real.numel()
    mse = sq_sum / count
    return {
        "ssim": ssim_sum / tokens.shape[0],
        "psnr": 10 * math.log10(1.0 / mse) if mse > 0 else math.inf,
    }


@torch.no_grad()
def score(
    stack: WorldModelStack,
    preds: torch.Tensor,
    real_tokens: torch.Tensor,
    real_frames: torch.Tensor,
    *,
    chunk: int,
    batch: int | None = None,
) -> list[dict[str, float]]:
    """Per chunk step k = 1..N of `preds` (B, N, L, C): horizon (k * chunk env steps), token L1 against
    `real_tokens` (B, N, L, C), and SSIM and PSNR of the rendered prediction against `real_frames`
    (B, N, H, W, 3) uint8 (`image_scores`)."""
    if preds.shape != real_tokens.shape or tuple(real_frames.shape[:2]) != tuple(preds.shape[:2]):
        raise ValueError(
            f"preds {tuple(preds.shape)}, real tokens {tuple(real_tokens.shape)} and real frames "
            f"{tuple(real_frames.shape)} disagree: expected (B, N, L, C), (B, N, L, C) and (B, N, H, W, 3)"
        )
    rows = []
    for k in range(preds.shape[1]):
        l1 = float((preds[:, k] - real_tokens[:, k].to(preds.device)).abs().mean())
        rows.append(
            {"horizon": chunk * (k + 1), "token_l1": l1, **image_scores(stack, preds[:, k], real_frames[:, k], batch)}
        )
    return rows


@torch.no_grad()
def strip(
    stack: WorldModelStack,
    frames: torch.Tensor,
    start: torch.Tensor,
    preds: dict[str, torch.Tensor],
    rows: int = 1,
    skip: tuple[str, ...] = ("copy",),
) -> np.ndarray:
    """An image (H', W * (N + 1), 3) uint8: per world b < `rows`, its real frames `frames[b]` (N + 1, H, W, 3) in
    a row, then one row per model (names starting with one of `skip` left out): the render of `start[b]` (L, C)
    then the renders of `preds[model][b]` (N, L, C); a 4-pixel white band after each world."""
    blocks = []
    for b in range(min(rows, frames.shape[0])):
        blocks.append(torch.cat(list(frames[b].cpu()), dim=1))
        first = stack.render(start[b : b + 1]).cpu()[0]
        for name, pred in preds.items():
            if name.startswith(skip):
                continue
            blocks.append(torch.cat([first, *stack.render(pred[b]).cpu()], dim=1))
        blocks.append(torch.full_like(blocks[-1][:4], 255))
    return torch.cat(blocks, dim=0).numpy()


def plot_error_vs_horizon(
    curves: dict[str, dict[str, list[dict[str, float]]]], path: Path, truth: str | None = None
) -> Path:
    """Token L1 (from 0 at t+0) and SSIM against open-loop steps: `curves[source][model]` is `score`'s rows; one
    colour per model, one line style per source (a single source is left out of the labels). `truth` names what
    the predictions are compared with, in the axis labels."""
    plt = figures.pyplot()

    styles = ["-", "--", ":", "-."]
    against = f" vs {truth}" if truth else ""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6) if len(curves) > 1 else (9, 3.4))
    colours: dict[str, str] = {}
    for j, (source, models) in enumerate(curves.items()):
        for model, horizons in models.items():
            colour = colours.setdefault(model, f"C{len(colours)}")
            label = f"{model}, {source}" if len(curves) > 1 else model
            kw = {"color": colour, "linestyle": styles[j % len(styles)], "marker": "o", "label": label}
            hs = [0] + [r["horizon"] for r in horizons]
            axes[0].plot(hs, [0.0] + [r["token_l1"] for r in horizons], **kw)
            axes[1].plot(hs[1:], [r["ssim"] for r in horizons], **kw)
    axes[0].set(xlabel="env steps ahead (open loop)", ylabel=f"token L1{against}", title="DINO token error")
    axes[1].set(xlabel="env steps ahead (open loop)", ylabel=f"SSIM{against}", title="rendered frame SSIM")
    axes[0].legend(fontsize=7 if len(curves) > 1 else 8)
    return figures.save(fig, path)
