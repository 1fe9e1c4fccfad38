"""Settings of the world-model env, with the paper's WMRL values as defaults (reference 7.1, paper A.2)."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from rla_gym.envs.reward import REWARD_MODES
from rla_gym.specs.robots import CHUNK_SIZE

OBS_MODES = ("rgb", "dict")
UNCERTAINTY_MODES = ("draws", "regression")  # envs/uncertainty.py
PAPER_SUCCESS_THRESHOLD = 0.032  # goal-token L1 on DINOv3-L tokens (paper A.2)


def check_int(name: str, value: object, minimum: int) -> None:
    """A real integer (not a bool, not 2.0) of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_number(name: str, value: object, allowed: str, ok: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value) or not ok:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


@dataclass
class WorldModelEnvConfig:
    chunk_size: int = CHUNK_SIZE  # K: joint-target rows per action (paper: 8)
    euler_steps: int | None = None  # None: the bundle's (paper 30, CPU preset 4); resolved once by the env
    reward_mode: str | None = None  # None: the task's; "aligned": time-synced demo frame; "goal": the demo's last
    reward_scale: float = 5.0
    # goal-token L1 under which a finished episode counts as success; None: the bundle's calibrated threshold
    # (`success_threshold` in its config, see eval.success_calibration), else the paper's 0.032 (DINOv3-L scale)
    success_threshold: float | None = None
    p_initial_frame: float = 0.5  # reset at frame 0 with this probability, else at a random frame
    max_chunk_steps: int = 6  # episode truncates after this many chunk steps
    obs_mode: str = "rgb"  # "dict" adds the predicted tokens and the commanded qpos
    precision: str | None = None  # None: the device's (bf16 autocast on CUDA, fp32 on CPU); "float32"; "bfloat16"
    dynamics: str = "rla-wm"  # the step: "rla-wm" (the paper's), "regression" (the bundle's baseline), "copy"
    # info["uncertainty"]: token L1 between the step and a second opinion, "draws" (another flow-noise draw) or
    # "regression" (the bundle's baseline); None: off (no extra model step). See envs/uncertainty.py.
    uncertainty: str | None = None
    uncertainty_penalty: float = 0.0  # reward -= this x info["uncertainty"] (needs `uncertainty`)
    # the reward (and info["reward_l1"]) averaged over this many flow-noise draws of the step; the observation and
    # the world's next state stay the first draw's. > 1 lowers the model's sampling noise in the reward signal.
    reward_draws: int = 1

    def __post_init__(self) -> None:
        if self.reward_mode is not None and self.reward_mode not in REWARD_MODES:
            raise ValueError(f"reward_mode {self.reward_mode!r}; valid: {', '.join(REWARD_MODES)} (None: the task's)")
        if self.obs_mode not in OBS_MODES:
            raise ValueError(f"obs_mode {self.obs_mode!r}; valid: {', '.join(OBS_MODES)}")
        if self.precision is not None:
            from rla_gym.models.stack import check_precision  # imported here: this module stays torch-free

            check_precision(self.precision)
        from rla_gym.models.dynamics import DYNAMICS  # imported here: this module stays torch-free

        if self.dynamics not in DYNAMICS:
            raise ValueError(f"dynamics {self.dynamics!r}; valid: {', '.join(DYNAMICS)}")
        check_int("chunk_size", self.chunk_size, 1)
        check_int("max_chunk_steps", self.max_chunk_steps, 1)
        check_int("reward_draws", self.reward_draws, 1)
        if self.euler_steps is not None:
            try:
                check_int("euler_steps", self.euler_steps, 1)
            except ValueError:
                raise ValueError(
                    f"euler_steps must be None (the bundle's) or an integer >= 1, got {self.euler_steps!r}"
                ) from None
        x = self.reward_scale
        _check_number("reward_scale", x, "a finite number > 0", isinstance(x, numbers.Real) and 0 < x < math.inf)
        x = self.success_threshold
        if x is not None:
            _check_number("success_threshold", x, "a number >= 0", isinstance(x, numbers.Real) and x >= 0)
        if self.uncertainty is not None and self.uncertainty not in UNCERTAINTY_MODES:
            raise ValueError(f"uncertainty {self.uncertainty!r}; valid: {', '.join(UNCERTAINTY_MODES)} (None: off)")
        x = self.uncertainty_penalty
        _check_number(
            "uncertainty_penalty", x, "a finite number >= 0", isinstance(x, numbers.Real) and 0 <= x < math.inf
        )
        if x > 0 and self.uncertainty is None:
            raise ValueError(
                "uncertainty_penalty > 0 needs a signal to penalise: set uncertainty='draws' or 'regression'"
            )
        x = self.p_initial_frame
        _check_number("p_initial_frame", x, "a number in [0, 1]", isinstance(x, numbers.Real) and 0 <= x <= 1)
