"""The demos a world is rewarded against: their frames and DINO tokens on one device, the time-synced and goal
frames of a (demo, frame) position, the video-aligned reward and the success test.

The env keeps each world's (demo, frame) position and asks this object everything else; a planner asks it the same
questions, e.g. to score candidate token predictions from `bundle.dynamics(...)`:

    ref = DemoReference.from_bundle(bundle, chunk_size=8, reward_mode="aligned", device="cpu")
    reward, reward_l1, goal_l1 = ref.reward(pred, demo, frame)  # pred: (N, L, C) after one chunk from `frame`
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from rla_gym.data.demo_set import DemoSet
from rla_gym.envs.config import PAPER_SUCCESS_THRESHOLD, check_int
from rla_gym.envs.reward import REWARD_MODES, token_l1, video_aligned_reward
from rla_gym.models.bundle import Bundle, BundleError
from rla_gym.models.device import resolve_device
from rla_gym.models.stack import WorldModelStack

Index = torch.Tensor | np.ndarray | Sequence[int] | int  # one per world, (N,), or one for all worlds


def calibrated_threshold(bundle: Bundle) -> float:
    """The bundle's calibrated success threshold (`success_threshold` in its config, see
    `eval.success_calibration`), else the paper's."""
    return float(bundle.metadata.get("success_threshold", PAPER_SUCCESS_THRESHOLD))


class DemoReference:
    """A bundle's demo set, resized to the stack's image size and encoded a demo at a time, on `device`.

    Positions are (demo, frame): an episode of the demo set and a frame within it, one per world (long tensors or
    ints, broadcast against each other). After one action chunk of `chunk_size` rows a world's time-synced frame is
    `frame + chunk_size`, held at the demo's last frame (its goal); the demo runs out when that reaches the last frame.

    Tensors (F = frames of all demos, E = demos, L x C = tokens): `frames` (F, S, S, 3) uint8 at the stack's size S,
    `tokens` (F, L, C) float32 (every demo encoded; `frame_tokens` encodes only the demos asked for), `targets`
    (F, A) joint targets, `qpos` (F, J), `starts` and `lengths` (E,) long.

    Reward (paper 4.3): `-reward_scale * mean|next_tokens - reference|`, the reference being the time-synced demo
    frame (`reward_mode="aligned"`) or the demo's last frame (`"goal"`). A finished episode succeeds when its
    tokens' L1 to the goal frame is at most `success_threshold`.
    """

    def __init__(
        self,
        demos: DemoSet | None,
        stack: WorldModelStack,
        *,
        chunk_size: int,
        reward_mode: str = "aligned",
        reward_scale: float = 5.0,
        success_threshold: float = PAPER_SUCCESS_THRESHOLD,
        device: str | torch.device = "cpu",
        source: str | os.PathLike | None = None,  # the bundle folder, named in errors
    ):
        check_int("chunk_size", chunk_size, 1)
        if reward_mode not in REWARD_MODES:
            raise ValueError(f"reward_mode {reward_mode!r}; valid: {', '.join(REWARD_MODES)}")
        if demos is None or demos.num_episodes == 0:
            raise BundleError(f"bundle {source} has an empty demo set: resets need demo frames")
        self.device = resolve_device(device)
        self.chunk_size = chunk_size
        self.reward_mode = reward_mode
        self.reward_scale = reward_scale
        self.success_threshold = success_threshold
        frames, size = demos.frames, stack.image_size
        if frames.shape[1:3] != (size, size):
            x = frames.permute(0, 3, 1, 2).float()
            x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
            frames = x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1)
        self.frames = frames.to(self.device)  # (F, S, S, 3) uint8
        self.qpos = demos.qpos.to(self.device)  # (F, J)
        self.targets = demos.targets.to(self.device)  # (F, A)
        self.starts = demos.episode_starts.to(self.device)  # (E,)
        self.lengths = demos.episode_lengths.to(self.device)  # (E,)
        self.episode_lengths: np.ndarray = demos.episode_lengths.cpu().numpy()  # (E,), for the reset sampler
        self._stack = stack
        self._source = source
        self._tokens: torch.Tensor | None = None  # (F, L, C), filled a demo at a time as worlds reach it
        self._encoded = torch.zeros(self.num_episodes, dtype=torch.bool, device=self.device)
        self.encode_demos(0)  # now, not at the first reset: a broken encoder fails where the env is made

    @torch.no_grad()
    def encode_demos(self, demo: Index) -> None:
        """Encode the demos in `demo` that are not yet, each whole and in fixed blocks of frames.

        Why lazily: every successful demo is ~9k frames at CPU scale, ~30 s of encoding; a world needs only its own
        demo's frames (start, time-synced and goal frames are all in it), so the env pays as worlds first reach a
        demo. Why whole demos in fixed blocks: a frame's tokens then never depend on which worlds asked first."""
        demo = self._long(demo)
        todo = torch.unique(demo[~self._encoded[demo]])
        for e in todo.tolist():
            first, n = int(self.starts[e]), int(self.lengths[e])
            tokens = torch.cat([self._stack.encode(f) for f in self.frames[first : first + n].split(64)])
            if not bool(torch.isfinite(tokens).all()):
                from rla_gym.models.diagnose import weights_problem

                path = None if self._source is None else Path(self._source)
                problem = weights_problem("encoder", self._stack.encoder, path)
                raise BundleError(
                    f"encoding the bundle's demo {e} gave NaN or inf tokens: "
                    + (problem or f"the encoder's weights are finite (bundle {self._source}); is the file damaged?")
                )
            if self._tokens is None:
                self._tokens = torch.empty((self.frames.shape[0], *tokens.shape[1:]), dtype=tokens.dtype)
                self._tokens = self._tokens.to(self.device)
            self._tokens[first : first + n] = tokens
        if todo.numel():
            self._encoded[todo] = True

    @property
    def encoded(self) -> torch.Tensor:
        """Which demos are encoded so far, (E,) bool (a copy)."""
        return self._encoded.clone()

    @property
    def tokens(self) -> torch.Tensor:
        """Tokens of every demo frame, (F, L, C): encodes the demos not yet encoded (all of them, for analysis; the
        env asks `frame_tokens`, `synced_tokens` and `goal_tokens`, which encode only the demos they touch)."""
        self.encode_demos(torch.arange(self.num_episodes, device=self.device))
        return self._tokens

    @classmethod
    def from_bundle(
        cls,
        bundle: Bundle,
        *,
        chunk_size: int,
        reward_mode: str = "aligned",
        reward_scale: float = 5.0,
        success_threshold: float | None = None,  # None: the bundle's calibrated threshold, else the paper's
        device: str | torch.device = "cpu",
    ) -> DemoReference:
        """The reference of `bundle`'s demo set, encoded by its stack moved to `device`."""
        if success_threshold is None:
            success_threshold = calibrated_threshold(bundle)
        stack = bundle.stack.to(resolve_device(device)).eval()
        return cls(
            bundle.demos,
            stack,
            chunk_size=chunk_size,
            reward_mode=reward_mode,
            reward_scale=reward_scale,
            success_threshold=float(success_threshold),
            device=device,
            source=bundle.path,
        )

    @property
    def num_episodes(self) -> int:
        return int(self.lengths.numel())

    def _long(self, x: Index) -> torch.Tensor:
        return torch.atleast_1d(torch.as_tensor(x, dtype=torch.long, device=self.device))  # an int: (1,)

    # ------------------------------------------------------------------ positions
    def index(self, demo: Index, frame: Index) -> torch.Tensor:
        """Row of (demo, frame) in `frames`, `tokens`, `targets`, `qpos`: (N,) long."""
        return self.starts[self._long(demo)] + self._long(frame)

    def last_frame(self, demo: Index) -> torch.Tensor:
        """The demo's last (goal) frame, within the demo: (N,) long."""
        return self.lengths[self._long(demo)] - 1

    def advance(self, demo: Index, frame: Index) -> torch.Tensor:
        """The time-synced frame one chunk after `frame`, held at the last frame: (N,) long."""
        return torch.minimum(self._long(frame) + self.chunk_size, self.last_frame(demo))

    def runs_out(self, demo: Index, frame: Index) -> torch.Tensor:
        """Whether the demo ends within the chunk that starts at `frame` (the episode terminates): (N,) bool."""
        return self._long(frame) + self.chunk_size >= self.last_frame(demo)

    def chunk_targets(self, demo: Index, frame: Index) -> torch.Tensor:
        """The demo's next chunk of recorded joint targets from `frame`, the last row repeated past its end:
        (N, K, A) float32."""
        demo, frame = self._long(demo), self._long(frame)
        rows = frame[:, None] + torch.arange(self.chunk_size, device=self.device)[None]
        rows = torch.minimum(rows, self.last_frame(demo)[:, None])
        return self.targets[self.starts[demo][:, None] + rows]

    # ------------------------------------------------------------------ reference tokens
    def frame_tokens(self, demo: Index, frame: Index) -> torch.Tensor:
        """Tokens of (demo, frame): (N, L, C)."""
        self.encode_demos(demo)
        return self._tokens[self.index(demo, frame)]

    def synced_tokens(self, demo: Index, frame: Index) -> torch.Tensor:
        """Tokens of the time-synced frame one chunk after `frame`: (N, L, C)."""
        return self.frame_tokens(demo, self.advance(demo, frame))

    def goal_tokens(self, demo: Index) -> torch.Tensor:
        """Tokens of the demo's last frame: (N, L, C)."""
        return self.frame_tokens(demo, self.last_frame(demo))

    def reward(
        self, next_tokens: torch.Tensor, demo: Index, frame: Index
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Score tokens predicted one chunk after `frame` (N, L, C) -> (reward, reward_l1, goal_l1), each (N,).

        `frame` is where the worlds were before the chunk (the env's `info["frame"]` before the step). `reward_l1`
        is the raw L1 to the reward's reference frame; `goal_l1` the L1 to the demo's last frame (the same tensor
        in goal mode). A plan of several chunks scores chunk j + 1 at `frame = advance(demo, frame)` of chunk j."""
        goal = self.goal_tokens(demo)
        if self.reward_mode == "goal":
            reward, err = video_aligned_reward(next_tokens, goal, self.reward_scale)
            return reward, err, err
        reward, err = video_aligned_reward(next_tokens, self.synced_tokens(demo, frame), self.reward_scale)
        return reward, err, token_l1(next_tokens, goal)

    def success(self, goal_l1: torch.Tensor, done: torch.Tensor) -> torch.Tensor:
        """A finished episode (`done`, (N,) bool) whose goal L1 (N,) is within the threshold: (N,) bool."""
        return done & (goal_l1 <= self.success_threshold)
