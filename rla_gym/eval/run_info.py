"""What a measurement run records about itself: the machine it ran on, how busy that machine was, and the sections
it carried over from an earlier run's results instead of measuring them again."""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Iterable
from pathlib import Path


def machine_info(device: str = "cpu") -> dict:
    """What ran the benchmark: CPU model and cores, memory, OS, Python, torch, the GPU if one was used."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {
        "cpu": cpu,
        "cpu_cores": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
        if hasattr(os, "sysconf")
        else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": device,
        "gpu": None,
        "load_average": load_average(),
    }
    if device.startswith("cuda") and torch.cuda.is_available():
        props = torch.cuda.get_device_properties(torch.device(device))
        info["gpu"] = f"{props.name}, {props.total_memory / 2**30:.0f} GiB"
    return info


def load_average() -> float | None:
    """The 1-minute load average (runnable processes): other work sharing the machine slows every timing."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def machine_slug(info: dict) -> str:
    """A folder-name word for the machine: the GPU's name, else `cpu<cores>`."""
    if info.get("gpu"):
        return re.sub(r"[^a-z0-9]+", "-", info["gpu"].split(",")[0].lower()).strip("-")
    return f"cpu{info.get('cpu_cores') or 0}"


def carry_over(results: dict, previous: dict, names: Iterable[str], measured: list[str]) -> list[str]:
    """Copy into `results` the sections of `names` this run does not measure but `previous` (an earlier run's
    results) holds, with their seconds in `results["meta"]["seconds"]`; returns the names carried over."""
    kept = [n for n in names if n not in measured and n in previous]
    for name in kept:
        results[name] = previous[name]
        results["meta"]["seconds"][name] = previous.get("meta", {}).get("seconds", {}).get(name, 0.0)
    return kept
