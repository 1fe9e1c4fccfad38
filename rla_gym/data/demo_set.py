"""The reference demos a bundle carries: every env reset starts from one of their frames, and the
video-aligned reward compares predictions with their DINO tokens."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class DemoSet:
    """Episodes concatenated along the frame axis.

    frames: (F, H, W, 3) uint8; targets: (F, A) absolute joint targets commanded from each frame;
    qpos: (F, J) full qpos; episode_starts / episode_lengths: (E,) int64."""

    frames: torch.Tensor
    targets: torch.Tensor
    qpos: torch.Tensor
    episode_starts: torch.Tensor
    episode_lengths: torch.Tensor

    def __post_init__(self) -> None:
        f = self.frames.shape[0]
        if self.frames.dim() != 4 or self.frames.shape[-1] != 3 or self.frames.dtype != torch.uint8:
            raise ValueError(
                f"demo frames must be (F, H, W, 3) uint8, got {tuple(self.frames.shape)} {self.frames.dtype}"
            )
        for name in ("targets", "qpos"):
            t = getattr(self, name)
            if t.dim() != 2 or t.shape[0] != f:
                raise ValueError(f"demo {name} has shape {tuple(t.shape)}; expected ({f}, *)")
        if self.episode_starts.shape != self.episode_lengths.shape:
            raise ValueError("episode_starts and episode_lengths differ in shape")
        if int(self.episode_lengths.sum()) != f:
            raise ValueError(f"episode lengths sum to {int(self.episode_lengths.sum())}, not the {f} frames held")

    @property
    def num_episodes(self) -> int:
        return int(self.episode_lengths.numel())

    @property
    def action_dim(self) -> int:
        return int(self.targets.shape[1])

    def tensors(self) -> dict[str, torch.Tensor]:
        return {
            "frames": self.frames,
            "targets": self.targets.float(),
            "qpos": self.qpos.float(),
            "episode_starts": self.episode_starts.long(),
            "episode_lengths": self.episode_lengths.long(),
        }

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor]) -> DemoSet:
        return cls(**{k: tensors[k] for k in ("frames", "targets", "qpos", "episode_starts", "episode_lengths")})

    @classmethod
    def from_episodes(
        cls, frames: list[torch.Tensor], targets: list[torch.Tensor], qpos: list[torch.Tensor]
    ) -> DemoSet:
        lengths = torch.tensor([f.shape[0] for f in frames], dtype=torch.long)
        starts = torch.cumsum(lengths, 0) - lengths
        return cls(torch.cat(frames), torch.cat(targets).float(), torch.cat(qpos).float(), starts, lengths)
