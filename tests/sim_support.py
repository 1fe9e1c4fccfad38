"""Shared helpers for the ManiSkill tests (`tests/test_sim_*.py`).

Simulator tests skip only when no Vulkan device works AND `RLA_GYM_REQUIRE_SIM` is not "1"; CI sets
it, so there a missing driver fails them instead. Envs are expensive to create (the first one in a
process takes a few seconds), so tests share one env per (task, control mode) through `SimEnvs`.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REQUIRE_SIM = os.environ.get("RLA_GYM_REQUIRE_SIM") == "1"
TEST_SIZE = 64  # camera pixels in most sim tests: small is fast; one test renders 128
REPO = Path(__file__).resolve().parents[1]


def use_repo_sim_setup() -> None:
    """What `source scripts/sim_env.sh` would set, for a bare `pytest`: the repo's .cache driver and assets.

    Only fills variables that are unset; MS_ASSET_DIR counts only if mani_skill is not imported yet.
    """
    icd = REPO / ".cache" / "vulkan" / "lvp_icd.json"
    if not os.environ.get("VK_ICD_FILENAMES") and icd.is_file():
        os.environ["VK_ICD_FILENAMES"] = str(icd)
    assets = REPO / ".cache" / "maniskill_assets"
    if not os.environ.get("MS_ASSET_DIR") and (assets / "data" / "robots").is_dir():
        os.environ["MS_ASSET_DIR"] = str(assets)
    os.environ.setdefault("MS_SKIP_ASSET_DOWNLOAD_PROMPT", "1")


use_repo_sim_setup()


def sim_problem() -> str | None:
    """Why the simulator cannot run here, or None."""
    if importlib.util.find_spec("mani_skill") is None:
        return "mani_skill is not installed (pip install -e '.[sim]')"
    from rla_gym.sim.make import default_backends
    from rla_gym.sim.vulkan import vulkan_problem

    render = default_backends()[1]
    return vulkan_problem("cuda" if render == "gpu" else "cpu")


def require_sim() -> None:
    """Skip the calling test/fixture when the simulator cannot run, or fail under RLA_GYM_REQUIRE_SIM=1."""
    problem = sim_problem()
    if problem is None:
        return
    if REQUIRE_SIM:
        pytest.fail(f"RLA_GYM_REQUIRE_SIM=1 but the simulator cannot run: {problem}", pytrace=False)
    pytest.skip(problem)


@contextmanager
def single_torch_thread() -> Iterator[None]:
    """One torch thread while simulating: ManiSkill's small per-step tensors only pay for thread hand-offs."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class SimEnvs:
    """Lazily created envs, one per (task, control mode, size, obs mode), closed together."""

    def __init__(self) -> None:
        self._envs: dict[tuple[str, str, int, str], object] = {}

    def get(self, task: str, control_mode: str = "pd_joint_pos", size: int = TEST_SIZE, obs_mode: str = "rgb"):
        from rla_gym.sim import make_sim_env
        from rla_gym.specs import TASKS

        key = (task, control_mode, size, obs_mode)
        if key not in self._envs:
            robot = TASKS[task].robot
            self._envs[key] = make_sim_env(robot, task, size=size, seed=0, control_mode=control_mode, obs_mode=obs_mode)
        return self._envs[key]

    def close(self) -> None:
        for env in self._envs.values():
            env.close()
        self._envs.clear()
