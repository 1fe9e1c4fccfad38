"""Which component made NaN or inf values, and from which bundle file.

A weights file damaged in the middle passes the manifest's size and stamp checks and loads; its first sign is a
non-finite prediction. The env calls `explain_non_finite` then, so the error names the file to restore rather
than the tensor that happened to be checked next."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from rla_gym.models.dynamics import Dynamics, RLAWMDynamics

# component (bundle file stem) -> what a user knows it as
COMPONENT_NAMES = {
    "encoder": "DINOv3 encoder",
    "rla_encoder": "RLA encoder",
    "rla_decoder": "RLA decoder",
    "world_model": "world model (RLA-WM)",
    "image_decoder": "UNet image decoder",
    "regression": "regression baseline",
}


def non_finite_tensors(module: nn.Module) -> list[str]:
    """Names of the module's parameters and buffers holding NaN or inf, in state-dict order."""
    return [k for k, v in module.state_dict().items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]


def _is_finite(x: torch.Tensor) -> bool:
    return bool(torch.isfinite(x).all())


def _where(stem: str, path: Path | None) -> str:
    file = f"{stem}.safetensors"
    return f"{COMPONENT_NAMES.get(stem, stem)} ({Path(path) / file if path is not None else file})"


def weights_problem(stem: str, module: nn.Module, path: Path | None) -> str | None:
    """A sentence naming the component and its file when its weights hold NaN or inf; None when they are finite."""
    bad = non_finite_tensors(module)
    if not bad:
        return None
    shown = ", ".join(bad[:3]) + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
    return (
        f"the {_where(stem, path)} holds NaN or inf weights ({shown}): the file is damaged; restore it or write the "
        "bundle again (`load_bundle(path, verify=True)` checks every file's sha256)"
    )


def explain_non_finite(
    dynamics: Dynamics,
    components: dict[str, nn.Module],
    tokens: torch.Tensor,
    targets: torch.Tensor,
    noise: torch.Tensor | None,
    path: Path | None = None,
    precision: str | None = None,
) -> str:
    """Why one step of `dynamics` from finite `tokens` (B, L, C) and `targets` (B, K, A) gave non-finite tokens.

    `components`: bundle file stem -> module (`stack.components()`, plus "regression"). Looks at the weights of the
    step's modules first, then replays an RLA-WM step stage by stage (condition, flow, RLA decoder) and names the
    first stage whose output is not finite."""
    stems = {id(m): stem for stem, m in components.items()}
    for module in dynamics.modules():
        stem = stems.get(id(module), type(module).__name__)
        problem = weights_problem(stem, module, path)
        if problem is not None:
            return f"the {dynamics.name} step predicted NaN or inf tokens: {problem}"
    if isinstance(dynamics, RLAWMDynamics):
        from rla_gym.models.checks import trusted_inputs
        from rla_gym.models.device import precision_context

        qpos = dynamics.robot.to_full_qpos(targets.float())
        lengths = torch.full((tokens.shape[0],), targets.shape[1], device=tokens.device, dtype=torch.long)
        with torch.no_grad(), trusted_inputs(), precision_context(tokens.device, precision):
            cond = dynamics.condition(tokens, qpos, lengths)
            stages = [("condition network of the", cond, "world_model")]
            if _is_finite(cond):
                z = dynamics.latent(cond, noise)
                stages.append(("flow network of the", z, "world_model"))
                if _is_finite(z):
                    stages.append(("", dynamics.decode(tokens, z), "rla_decoder"))
        for what, out, stem in stages:
            if not _is_finite(out):
                return (
                    f"the {dynamics.name} step predicted NaN or inf tokens: the {what + ' ' if what else ''}"
                    f"{_where(stem, path)} produced them from finite inputs (its weights are finite: values too large "
                    "for the precision, or a damaged file; `load_bundle(path, verify=True)` checks every sha256)"
                )
    files = ", ".join(_where(stems.get(id(m), type(m).__name__), path) for m in dynamics.modules())
    return f"the {dynamics.name} step predicted NaN or inf tokens from finite inputs ({files or 'no weights'})"
