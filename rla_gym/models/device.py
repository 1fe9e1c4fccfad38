"""Device choice and mixed precision: bf16 autocast on CUDA only, full fp32 on CPU."""

from __future__ import annotations

import contextlib

import torch


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """'auto' -> CUDA when available, else CPU; anything else as torch understands it."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def check_device(device: str | torch.device = "auto") -> torch.device:
    """`resolve_device`, refusing a device this machine does not have (torch would fail later, deep inside a run).

    Raises ValueError naming what is available: cpu, auto, and cuda / cuda:0..N-1 where torch sees N GPUs."""
    try:
        dev = resolve_device(device)
    except (RuntimeError, ValueError) as err:
        raise ValueError(f"expected cpu, cuda, cuda:N or auto; got {str(device)!r} ({err})") from err
    if dev.type == "cpu":
        return dev
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise ValueError(f"expected cpu or auto (torch sees no CUDA device here); got {str(device)!r}")
        if dev.index is not None and dev.index >= count:
            raise ValueError(f"expected cpu, auto, cuda or cuda:0..cuda:{count - 1}; got {str(device)!r}")
        return dev
    raise ValueError(f"expected cpu, cuda, cuda:N or auto; got {str(device)!r} (device type {dev.type!r})")


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously), so a timer around it measures that work."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def autocast(device: torch.device, enabled: bool = True) -> contextlib.AbstractContextManager:
    """bf16 autocast where it pays (CUDA); a no-op elsewhere so CPU results stay exact fp32."""
    if enabled and device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


PRECISIONS = ("float32", "bfloat16")


def check_precision(precision: str | None) -> None:
    if precision is not None and precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r}; valid: None (the device's default), {', '.join(PRECISIONS)}")


def precision_context(device: torch.device, precision: str | None) -> contextlib.AbstractContextManager:
    """The autocast a forward runs under. None: the device's default (`autocast`: bf16 on CUDA, exact fp32
    elsewhere); "float32": fp32 everywhere; "bfloat16": bf16 autocast on any device."""
    check_precision(precision)
    if precision is None:
        return autocast(device)
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=precision == "bfloat16")
