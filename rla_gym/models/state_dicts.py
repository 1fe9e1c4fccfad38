"""Strict state-dict loading with errors that name the first differing key and both shapes."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn


class CheckpointMismatchError(ValueError):
    """The checkpoint does not fit the model built from the config."""


def describe_mismatch(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> str | None:
    """None when keys and shapes agree one for one; else a message naming the first difference."""
    expected = model.state_dict()
    for key, tensor in expected.items():
        if key not in state:
            return f"{source} does not fit its config: it lacks key {key!r} (model expects {tuple(tensor.shape)})"
        if tuple(state[key].shape) != tuple(tensor.shape):
            return (
                f"{source} does not fit its config at key {key!r}: model expects {tuple(tensor.shape)}, "
                f"the file has {tuple(state[key].shape)}"
            )
    extra = [k for k in state if k not in expected]
    if extra:
        return (
            f"{source} does not fit its config: it has unexpected key {extra[0]!r} "
            f"(shape {tuple(state[extra[0]].shape)})"
        )
    return None


def load_strict(model: nn.Module, state: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """`load_state_dict(strict=True)` after a readable key/shape comparison."""
    problem = describe_mismatch(model, state, source)
    if problem:
        raise CheckpointMismatchError(problem)
    model.load_state_dict(state, strict=True)
