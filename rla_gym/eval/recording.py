"""Recording a ManiSkill evaluation and replaying it in the world model: the main job's side-by-side videos.

    recorder = EpisodeRecorder(policy, preprocess, keep={42})
    evaluate(recorder, robot, task, seeds=..., neural_preprocess=recorder.preprocess, ...)
    wm = world_model_replay(stack, recorder.frames[42][0], recorder.chunks[42], euler_steps, seed=42)
    write_side_by_side(out / "seed42.mp4", recorder.frames[42], wm, fps)

Left: what the simulator did; right: what the world model predicts, open loop from the same first frame, for the
same action chunks. Where the two part, the world model is wrong about what the policy's actions do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from rla_gym.agents.bc import SimPolicy
from rla_gym.models.stack import WorldModelStack
from rla_gym.sim.evaluate import Preprocess


class EpisodeRecorder:
    """Wraps a sim policy and the preprocessing to keep, per evaluation seed, the raw sim frames and the chunks."""

    def __init__(self, policy: SimPolicy, preprocess: Preprocess, keep: set[int]) -> None:
        self.policy, self._preprocess, self.keep = policy, preprocess, keep
        self.seed: int | None = None
        self.frames: dict[int, list[np.ndarray]] = {}  # seed -> the sim's frames, (H, W, 3) uint8, one per chunk
        self.chunks: dict[int, list[np.ndarray]] = {}  # seed -> the policy's action chunks, (K, A)

    def reset(self, env: Any, seed: int) -> None:
        self.seed = seed
        if seed in self.keep:
            self.frames[seed], self.chunks[seed] = [], []

    def preprocess(self, frames: np.ndarray) -> np.ndarray:
        if self.seed in self.frames:
            self.frames[self.seed].append(frames[0].copy())
        return self._preprocess(frames)

    def __call__(self, rgb: np.ndarray, qpos: np.ndarray) -> np.ndarray:
        chunk = self.policy(rgb, qpos)
        if self.seed in self.chunks:
            self.chunks[self.seed].append(chunk.copy())
        return chunk


@torch.no_grad()
def world_model_replay(
    stack: WorldModelStack, first: np.ndarray, chunks: list[np.ndarray], euler_steps: int | None, seed: int
) -> np.ndarray:
    """The world model's frames for the sim's action chunks, open loop from the first sim frame:
    (1 + len(chunks), S, S, 3) uint8 at the stack's size (frame 0 = the first frame through encoder and UNet)."""
    from rla_gym.data.video import resize_frames

    gen = torch.Generator().manual_seed(seed)
    size = stack.image_size
    tokens = stack.encode(torch.from_numpy(resize_frames(first[None], size)))
    frames = [stack.render(tokens)]
    for chunk in chunks:
        noise = torch.randn(1, *stack.latent_shape, generator=gen).to(stack.device)
        targets = torch.as_tensor(chunk, dtype=torch.float32, device=stack.device)[None]
        tokens = stack.predict(tokens, targets, noise, euler_steps)
        frames.append(stack.render(tokens))
    return torch.cat(frames).cpu().numpy()


def write_side_by_side(path: Path, sim: list[np.ndarray], wm: np.ndarray, fps: float) -> Path:
    """sim frames (one per chunk) | world-model frames, both at the world model's size, as one mp4."""
    from rla_gym.data.video import resize_frames, write_video

    path.parent.mkdir(parents=True, exist_ok=True)
    n = min(len(sim), len(wm))
    left = resize_frames(np.stack(sim[:n]), wm.shape[1])
    write_video(path, np.concatenate([left, wm[:n]], axis=2), fps=fps)
    return path
