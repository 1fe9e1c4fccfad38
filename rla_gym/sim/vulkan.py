"""Does SAPIEN find a Vulkan device to render with? Asked in a subprocess, once per process.

A missing or too old driver makes SAPIEN raise (or, with some drivers, crash); probing in a child
process keeps the caller alive and gives a one-line reason (for test skips and CLI errors).
"""

from __future__ import annotations

import functools
import subprocess
import sys

_PROBE = "import sapien; sapien.render.RenderSystem(sapien.Device({device!r}))"
HINT = (
    "CPU machines: run `bash scripts/setup_vulkan.sh` once, then `source scripts/sim_env.sh` "
    "(sets VK_ICD_FILENAMES to the software Vulkan driver)"
)


@functools.lru_cache(maxsize=4)
def vulkan_problem(render_device: str = "cpu", timeout_s: float = 60.0) -> str | None:
    """None when SAPIEN can render on `render_device` ("cpu" or "cuda"), else the reason and a hint."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE.format(device=render_device)],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return f"SAPIEN render probe on {render_device!r} did not finish in {timeout_s:.0f} s; {HINT}"
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    reason = lines[-1] if lines else f"exit status {done.returncode}"
    return f"no Vulkan device for SAPIEN on {render_device!r}: {reason}; {HINT}"
