"""Prediction quality on recorded held-out frames, the paper's ManiSkill protocol: from a real frame, each model
rolls out open loop with the recorded joint targets, 3 chunks of 10 steps, its own predicted tokens fed back, and is
compared with the real frames at t+10, t+20, t+30 (token L1 on DINO tokens; SSIM and PSNR of UNet renders at the
bundle's size). Also the UNet's reconstruction ceiling, each predictor's cost (parameters, GFLOPs and ms per step)
and RLA-WM's Euler sweep. Rollout and scores are `rla_gym.eval.open_loop`'s; `benchmarks/prediction_quality.py`
picks the starts and prints the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from rla_gym.eval import open_loop
from rla_gym.eval.cost import flops_per_step, ms_per_step
from rla_gym.models.bundle import Bundle
from rla_gym.models.checks import trusted_inputs
from rla_gym.models.device import precision_context
from rla_gym.models.dynamics import CopyDynamics
from rla_gym.models.regression import RegressionWorldModel
from rla_gym.models.stack import WorldModelStack

CHUNK, CHUNKS = 10, 3
EULER_SWEEP = (1, 2, 4, 10, 30)


@dataclass
class Starts:
    """B rollout starts: real frames and tokens at t0 + 10 k (k = 0..3), and the 30 targets after t0."""

    frames: torch.Tensor  # (B, CHUNKS + 1, H, W, 3) uint8 at the bundle's size
    tokens: torch.Tensor  # (B, CHUNKS + 1, L, C)
    targets: torch.Tensor  # (B, CHUNKS * CHUNK, A)
    where: list[tuple[str, int]] = field(default_factory=list)  # (episode key, t0)
    success: list[bool] = field(default_factory=list)  # per start: did its episode succeed (empty: not known)
    # held-out episodes too short for one start (fewer than CHUNK * CHUNKS + 1 frames), by outcome: a task whose
    # successes end sooner than that is measured on its failures only (Panda PullCube)
    too_short: dict[str, int] = field(default_factory=dict)


def start_sources(starts: Starts) -> dict[str, dict[str, int]]:
    """Where the starts come from: how many from successful and from failed episodes, and how many held-out
    episodes of each outcome gave none (too short)."""
    wins = sum(starts.success)
    return {
        "starts": {"success": wins, "failure": len(starts.success) - wins},
        "episodes_too_short": {"success": 0, "failure": 0, **starts.too_short},
    }


def chunks(starts: Starts) -> torch.Tensor:
    """The 30 targets after t0 as (B, CHUNKS, CHUNK, A)."""
    return starts.targets.view(starts.targets.shape[0], CHUNKS, CHUNK, -1)


HOLD_TOLERANCE = 0.1  # radians, summed over the joints


def holding(starts: Starts, tolerance: float = HOLD_TOLERANCE) -> torch.Tensor:
    """(B,) bool: the starts whose 30 commanded targets all stay within `tolerance` (L1 over the joints) of the
    first, where the arm is told to hold still. A mean over all starts hides them: there copying the first frame is
    nearly exact, and a model that invents motion loses to it (Panda's failed PullCube episodes hover for 100+ steps,
    most of its held-out starts)."""
    t = starts.targets.float()
    return (t - t[:, :1]).abs().sum(-1).amax(-1) < tolerance


def by_command(starts: Starts, preds: torch.Tensor) -> dict[str, dict]:
    """Token L1 at t+10/20/30 (a list; None for an empty group) over the starts told to hold and the others."""
    hold = holding(starts)
    groups = {}
    for name, mask in (("hold", hold), ("move", ~hold)):
        n = int(mask.sum())
        l1 = [float((preds[mask, k] - starts.tokens[mask, k + 1]).abs().mean()) if n else None for k in range(CHUNKS)]
        groups[name] = {"starts": n, "token_l1": l1}
    return groups


def against_copy(starts: Starts, preds: torch.Tensor) -> dict[str, float | int]:
    """Token L1 at t+30 start by start against copy-first's on the same starts (Wilcoxon signed-rank): the mean
    comparison in the tables, with its p-value. The starts come from held-out episodes no model trained on."""
    from rla_gym.eval.paired import paired_signed_rank

    real = starts.tokens[:, CHUNKS].to(preds.device)
    model = (preds[:, -1].float() - real).abs().mean((1, 2)).cpu().numpy()
    copy = (starts.tokens[:, 0].to(preds.device) - real).abs().mean((1, 2)).cpu().numpy()
    test = paired_signed_rank(-model, -copy)  # higher is better
    favours = {1: "model", -1: "copy", 0: "neither"}[test.favours]
    return {
        "starts": test.n,
        "model_better": test.a_better,
        "copy_better": test.b_better,
        "p_value": test.p_value,
        "favours": favours,  # the larger signed-rank sum: can differ from the counts (many small, few large)
    }


def score(stack: WorldModelStack, starts: Starts, preds: torch.Tensor) -> list[dict[str, float]]:
    """Per horizon (t+10, t+20, t+30): token L1, SSIM and PSNR of the rendered prediction (`open_loop.score`)."""
    return open_loop.score(stack, preds, starts.tokens[:, 1:], starts.frames[:, 1:], chunk=CHUNK)


@torch.no_grad()
def true_latent_rollout(stack: WorldModelStack, starts: Starts) -> torch.Tensor:
    """(B, CHUNKS, L, C): the RLA autoencoder given each chunk's true latent E(real_k, real_k+1), its decoded tokens
    fed back as a model's predictions are: what an RLA-WM that predicted every latent exactly would score, the
    tables' "ceiling" of the shared autoencoder (not a strict bound: a model could pick latents that undo the drift).
    Where the arm holds still it can sit above copy-first (Panda PullCube)."""
    rla = stack.rla
    real = starts.tokens.to(stack.device)
    state, out = real[:, 0], []
    with trusted_inputs(), precision_context(stack.device, None):  # as the RLA-WM rollouts run (bf16 on CUDA)
        for k in range(CHUNKS):
            state = rla.decode(state, rla.encode(real[:, k], real[:, k + 1])).float()
            out.append(state)
    return torch.stack(out, dim=1)


def reconstruction(stack: WorldModelStack, starts: Starts) -> dict[str, float]:
    """The UNet's ceiling: real frames encoded and rendered back (every start's 4 frames)."""
    scores = open_loop.image_scores(stack, starts.tokens.flatten(0, 1), starts.frames.flatten(0, 1))
    return {**scores, "frames": int(starts.frames.shape[0] * starts.frames.shape[1])}


def evaluate(
    bundle: Bundle, starts: Starts, regression: RegressionWorldModel | None = None, euler: tuple[int, ...] = EULER_SWEEP
) -> dict:
    """Every predictor rolled out open loop from every start (flow noise seeded 0 per rollout) and scored, with
    its cost; RLA-WM's Euler sweep. `_previews` (tensors, for the strip image) is popped by the caller."""
    stack = bundle.stack
    regression = bundle.regression if regression is None else regression
    s0, chunk = starts.tokens[:, 0], starts.targets[:, :CHUNK]
    models, previews = {}, {}
    for name, dynamics in open_loop.predictors(stack, regression).items():
        preds = open_loop.rollout(dynamics, s0, chunks(starts))
        previews[name] = preds
        models[name] = {
            "horizons": score(stack, starts, preds),
            "by_command": by_command(starts, preds),
            **({} if isinstance(dynamics, CopyDynamics) else {"t30_against_copy": against_copy(starts, preds)}),
            "gflops_per_step": flops_per_step(dynamics, s0, chunk) / 1e9,
            "ms_per_step_batch8": ms_per_step(dynamics, s0, chunk),
            "parameters": dynamics.parameters(),
        }
    sweep = {}
    for n in euler:
        dynamics = stack.dynamics(n)
        last = score(stack, starts, open_loop.rollout(dynamics, s0, chunks(starts)))[-1]
        sweep[n] = {
            **last,
            "ms_per_step_batch8": ms_per_step(dynamics, s0, chunk),
            "gflops": flops_per_step(dynamics, s0, chunk) / 1e9,
        }
    ceiling = true_latent_rollout(stack, starts)
    return {
        "starts": len(starts.where),
        "hold_tolerance": HOLD_TOLERANCE,  # what split the starts into hold and move (`by_command`)
        **({"start_sources": start_sources(starts)} if starts.success else {}),
        "reconstruction": reconstruction(stack, starts),
        "true_latents": {"horizons": score(stack, starts, ceiling), "by_command": by_command(starts, ceiling)},
        "models": models,
        "euler_sweep": sweep,
        "_previews": previews,
    }
