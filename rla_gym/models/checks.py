"""Input checks for public forwards: wrong shapes and non-finite values fail loudly, naming the argument.

Checks cost one reduction per tensor. Composite callers (the stack, the env) validate their own
inputs once and run the inner modules inside `trusted_inputs()` so the hot path pays nothing twice.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence

import torch

_state = threading.local()


def _enabled() -> bool:
    return getattr(_state, "depth", 0) == 0


@contextlib.contextmanager
def trusted_inputs() -> Iterator[None]:
    """Skip the checks of inner modules whose inputs the caller has already validated."""
    _state.depth = getattr(_state, "depth", 0) + 1
    try:
        yield
    finally:
        _state.depth -= 1


def _fmt(shape: Sequence[int | str | None]) -> str:
    return "(" + ", ".join("*" if d is None else str(d) for d in shape) + ")"


def check_tensor(
    name: str, x: torch.Tensor, shape: Sequence[int | str | None], *, finite: bool = True, force: bool = False
) -> None:
    """Raise ValueError unless `x` matches `shape` (ints must match; str/None match any size) and is finite."""
    if not (force or _enabled()):
        return
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    ok = x.dim() == len(shape) and all(isinstance(d, str) or d is None or d == s for d, s in zip(shape, x.shape))
    if not ok:
        raise ValueError(f"{name} has shape {tuple(x.shape)}; expected {_fmt(shape)}")
    if finite and x.is_floating_point() and x.numel() and not x.is_meta and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf values (shape {tuple(x.shape)})")
