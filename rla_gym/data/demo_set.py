"""The reference demos a bundle carries: every env reset starts from one of their frames, and the
video-aligned reward compares predictions with their DINO tokens.

A demo set built from recorded episodes keeps their H.264 stream (`video`): the bundle stores that instead of the
frames (`rla_gym.data.demo_video`: every successful demo in a few MB) and decodes it when loaded."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class DemoSet:
    """Episodes concatenated along the frame axis.

    frames: (F, H, W, 3) uint8; targets: (F, A) absolute joint targets commanded from each frame;
    qpos: (F, J) full qpos; episode_starts / episode_lengths: (E,) int64; video: (B,) uint8, the Annex-B H.264
    stream the frames were decoded from (at `video_size` (H, W), resized to the frames' size), or None."""

    frames: torch.Tensor
    targets: torch.Tensor
    qpos: torch.Tensor
    episode_starts: torch.Tensor
    episode_lengths: torch.Tensor
    video: torch.Tensor | None = None
    video_size: tuple[int, int] | None = None

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
        if (self.video is None) != (self.video_size is None):
            raise ValueError("a demo video needs its frame size (video_size), and only a video has one")

    @property
    def num_episodes(self) -> int:
        return int(self.episode_lengths.numel())

    @property
    def action_dim(self) -> int:
        return int(self.targets.shape[1])

    def tensors(self) -> dict[str, torch.Tensor]:
        """What a bundle stores: the video and its frame size in place of the frames when there is one."""
        pixels = (
            {"frames": self.frames}
            if self.video is None
            else {"video": self.video, "video_size": torch.tensor(self.video_size, dtype=torch.long)}
        )
        return {
            **pixels,
            "targets": self.targets.float(),
            "qpos": self.qpos.float(),
            "episode_starts": self.episode_starts.long(),
            "episode_lengths": self.episode_lengths.long(),
        }

    @classmethod
    def from_tensors(cls, tensors: dict[str, torch.Tensor], image_size: int | None = None) -> DemoSet:
        """The inverse of `tensors()`; a stored video is decoded and resized to `image_size` (None: its own)."""
        rest = {k: tensors[k] for k in ("targets", "qpos", "episode_starts", "episode_lengths")}
        if "video" not in tensors:
            return cls(frames=tensors["frames"], **rest)
        from rla_gym.data.demo_video import demo_frames

        h, w = (int(v) for v in tensors["video_size"].tolist())
        frames = demo_frames(tensors["video"].numpy().tobytes(), h, w, int(rest["episode_lengths"].sum()), image_size)
        return cls(frames=torch.from_numpy(frames), **rest, video=tensors["video"], video_size=(h, w))

    @classmethod
    def from_episodes(
        cls,
        frames: list[torch.Tensor],
        targets: list[torch.Tensor],
        qpos: list[torch.Tensor],
        video: bytes | None = None,
        video_size: tuple[int, int] | None = None,
    ) -> DemoSet:
        """Episodes joined; `video` (the episodes' joined H.264 stream at `video_size`) is what a bundle stores."""
        lengths = torch.tensor([f.shape[0] for f in frames], dtype=torch.long)
        starts = torch.cumsum(lengths, 0) - lengths
        stream = None if video is None else torch.frombuffer(bytearray(video), dtype=torch.uint8)
        return cls(
            torch.cat(frames), torch.cat(targets).float(), torch.cat(qpos).float(), starts, lengths, stream, video_size
        )
