"""The simulator side of a play session: one ManiSkill env, stepped row by row with the chunks the world model gets.

`simulator_problem()` says why ManiSkill cannot run here (not installed, no Vulkan device), as the simulator tests
decide it; the session then runs world-model only and the page says so. ManiSkill's CPU backend holds one env per
process, and the server calls it from one worker thread only."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np


def simulator_problem() -> str | None:
    """Why ManiSkill cannot run in this process, or None."""
    if importlib.util.find_spec("mani_skill") is None:
        return "ManiSkill is not installed (pip install 'rla-gym[play]')"
    from rla_gym.sim.make import default_backends
    from rla_gym.sim.vulkan import vulkan_problem

    render = default_backends()[1]
    return vulkan_problem("cuda" if render == "gpu" else "cpu")


@dataclass(frozen=True)
class SimFrame:
    """What the simulator shows after a reset or a chunk."""

    raw: np.ndarray  # (H, W, 3) uint8: the camera frame
    seen: np.ndarray  # (H, W, 3) uint8: the frame the world model encodes (masked where the bundle was trained so)
    qpos: np.ndarray  # (J,) the robot's full joint positions
    reward: float = 0.0  # the task's reward summed over the chunk's steps
    success: bool = False  # the task's own success after the chunk's last step


class ManiSkillWorld:
    """One ManiSkill env of `robot`/`task` at `size` pixels, no time limit (the session ends episodes)."""

    def __init__(self, robot: str, task: str, size: int, masked: bool = False) -> None:
        from rla_gym.eval.sim_fidelity import _Frames, make_env

        self.env = make_env(robot, task, size, masked)
        self._frames = _Frames(self.env, masked)
        self.label = f"ManiSkill {task} ({robot}, {size} px)"

    def _frame(self, obs: dict, reward: float = 0.0, success: bool = False) -> SimFrame:
        raw, seen = self._frames(obs)
        qpos = obs["agent"]["qpos"][0].cpu().numpy().astype(np.float32)
        return SimFrame(raw, seen, qpos, reward, success)

    def reset(self, seed: int, targets: np.ndarray | None = None) -> SimFrame:
        """The scene of `seed`, then `targets` (T, A) executed one row per step (to bring the arm where a demo was)."""
        obs, _ = self.env.reset(seed=int(seed))
        for row in () if targets is None else targets:
            obs, *_ = self.env.step(np.asarray(row, np.float32))
        return self._frame(obs)

    def step(self, chunk: np.ndarray) -> SimFrame:
        """Execute `chunk` (K, A) open loop, one row per env step."""
        total, info = 0.0, {}
        for row in chunk:
            obs, reward, _, _, info = self.env.step(np.asarray(row, np.float32))
            total += float(np.asarray(reward.cpu() if hasattr(reward, "cpu") else reward).reshape(-1)[0])
        success = info.get("success", False)
        success = bool(np.asarray(success.cpu() if hasattr(success, "cpu") else success).reshape(-1)[0])
        return self._frame(obs, total, success)

    def close(self) -> None:
        self.env.close()
