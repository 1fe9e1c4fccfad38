"""Where each episode starts: a demo frame, drawn as a pure function of (seed, env index, reset count)."""

from __future__ import annotations

import numpy as np

from rla_gym.envs.seeding import RESET_SAMPLE, env_rng


class ResetSampler:
    """Frame 0 with probability `p_initial_frame`, else a uniform frame that leaves room for one chunk
    (reference 7.1 draw order: initial?, episode, frame)."""

    def __init__(self, episode_lengths: np.ndarray, chunk_size: int, p_initial_frame: float):
        self.lengths = np.asarray(episode_lengths, dtype=np.int64)
        self.chunk_size = chunk_size
        self.p_initial_frame = p_initial_frame
        self.valid = np.flatnonzero(self.lengths > chunk_size)
        if self.valid.size == 0:
            longest = int(self.lengths.max()) if self.lengths.size else 0
            raise ValueError(
                f"the demo set has no episode longer than chunk_size={chunk_size} frames "
                f"({self.lengths.size} episodes, longest {longest}); reset needs at least one"
            )

    def draw(self, seed: int, env_index: int, reset_count: int) -> tuple[int, int]:
        rng = env_rng(seed, RESET_SAMPLE, env_index, reset_count)
        initial = rng.random() < self.p_initial_frame
        episode = int(self.valid[rng.integers(0, self.valid.size)])
        max_t = int(self.lengths[episode]) - 1 - self.chunk_size
        frame = 0 if initial or max_t <= 0 else int(rng.integers(0, max_t + 1))
        return episode, frame

    def check(self, episode: int, frame: int) -> None:
        """Validate a pinned (episode, frame) from reset options."""
        if not 0 <= episode < self.lengths.size:
            raise ValueError(f"demo {episode} out of range: the demo set has {self.lengths.size} episodes")
        if not 0 <= frame < self.lengths[episode]:
            raise ValueError(f"frame {frame} out of range: demo {episode} has {int(self.lengths[episode])} frames")
