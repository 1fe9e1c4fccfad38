"""Shared helpers for the play tests (`tests/test_play_*.py`): a stand-in simulator and sessions on the tiny bundle.

`FakeSim` behaves like `ManiSkillWorld` where the tests look: its frame is a function of the scene seed and of the
last joint targets it executed, so a different chunk gives a different frame, and it keeps what it was told."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rla_gym.play.simulator import SimFrame
from rla_gym.specs import UR10E

SIZE = 32  # the stand-in camera's pixels


class FakeSim:
    label = "FakeSim"

    def __init__(self) -> None:
        self.resets: list[tuple[int, int]] = []  # (seed, rows replayed)
        self.chunks: list[np.ndarray] = []
        self.closed = False
        self._seed, self._targets = 0, np.asarray(UR10E.rest_qpos[: UR10E.action_dim], np.float32)

    def _frame(self, reward: float = 0.0) -> SimFrame:
        y, x = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / SIZE
        t = self._targets
        rgb = np.stack([x * (1 + t[0]), y * (1 + t[1]), np.full_like(x, (self._seed % 7) / 7 + t[2] / 10)], -1)
        frame = (np.abs(np.sin(3 * rgb)) * 255).astype(np.uint8)
        qpos = np.asarray(UR10E.rest_qpos, np.float32).copy()
        qpos[: UR10E.action_dim] = t
        return SimFrame(frame, frame, qpos, reward, False)

    def reset(self, seed: int, targets: np.ndarray | None = None) -> SimFrame:
        self._seed = int(seed)
        rows = 0 if targets is None else len(targets)
        if rows:
            self._targets = np.asarray(targets[-1], np.float32)
        self.resets.append((self._seed, rows))
        return self._frame()

    def step(self, chunk: np.ndarray) -> SimFrame:
        self.chunks.append(np.array(chunk))
        self._targets = np.asarray(chunk[-1], np.float32)
        return self._frame(reward=-float(np.abs(self._targets).sum()))

    def close(self) -> None:
        self.closed = True


def make_session(bundle: Path, out: Path, sim: FakeSim | None = None, **env_kwargs):
    """A started session on the tiny ur10e bundle (demo 0, frame 0, seed 0), world-model only when `sim` is None."""
    from rla_gym.envs.vector import RLAWorldModelVectorEnv
    from rla_gym.play.session import PlaySession

    env = RLAWorldModelVectorEnv(
        num_envs=1, robot="ur10e", bundle=bundle, device="cpu", autoreset_mode="Disabled", **env_kwargs
    )
    session = PlaySession(env, sim, None if sim else "no simulator in this test", out=out)
    session.reset()
    return session


@pytest.fixture
def session(random_bundle_dir, tmp_path):
    """A session with the stand-in simulator."""
    made = make_session(random_bundle_dir, tmp_path / "videos", FakeSim())
    yield made
    made.close()


@pytest.fixture
def wm_only(random_bundle_dir, tmp_path):
    """A world-model-only session."""
    made = make_session(random_bundle_dir, tmp_path / "videos")
    yield made
    made.close()
