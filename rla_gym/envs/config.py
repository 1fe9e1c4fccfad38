"""Settings of the world-model env, with the paper's WMRL values as defaults (reference 7.1, paper A.2)."""

from __future__ import annotations

from dataclasses import dataclass

from rla_gym.envs.reward import REWARD_MODES

OBS_MODES = ("rgb", "dict")


@dataclass
class WorldModelEnvConfig:
    chunk_size: int = 8  # K: joint-target rows per action (paper: 8)
    euler_steps: int | None = None  # None: the bundle's (paper 30, CPU preset 4)
    reward_mode: str = "aligned"  # "aligned": time-synced demo frame; "goal": the demo's last frame
    reward_scale: float = 5.0
    success_threshold: float = 0.032  # goal-token L1 under which a finished episode counts as success
    p_initial_frame: float = 0.5  # reset at frame 0 with this probability, else at a random frame
    max_chunk_steps: int = 6  # episode truncates after this many chunk steps
    obs_mode: str = "rgb"  # "dict" adds the predicted tokens and the commanded qpos

    def __post_init__(self) -> None:
        if self.reward_mode not in REWARD_MODES:
            raise ValueError(f"reward_mode {self.reward_mode!r}; valid: {', '.join(REWARD_MODES)}")
        if self.obs_mode not in OBS_MODES:
            raise ValueError(f"obs_mode {self.obs_mode!r}; valid: {', '.join(OBS_MODES)}")
        if self.chunk_size < 1 or self.max_chunk_steps < 1:
            raise ValueError("chunk_size and max_chunk_steps must be >= 1")
        if not 0.0 <= self.p_initial_frame <= 1.0:
            raise ValueError(f"p_initial_frame must be in [0, 1], got {self.p_initial_frame}")
