"""How much a world model step can be trusted, per world: the disagreement of a second prediction with the env's.

A policy trained inside a learned model finds the model's errors and climbs them (the main job's card: success
inside the world model rises while ManiSkill success falls). Where two predictions of the same transition disagree,
the model is unsure, and a reward there is more likely an error to exploit than progress (ensemble disagreement, as
in MOPO/MOReL). Two second opinions, both one extra model step per env step:
- "draws": the same RLA-WM with another flow-noise draw (its own seeded stream): spread of the sampler;
- "regression": the bundle's direct-regression baseline on the same tokens and targets: disagreement of two models.
The signal is the token L1 between the two predictions, in the reward's units; `uncertainty_penalty` times it is
subtracted from the reward when asked.
"""

from __future__ import annotations

import torch

from rla_gym.models.bundle import Bundle
from rla_gym.models.dynamics import Dynamics


class Disagreement:
    """The second opinion beside the env's dynamics (`mode`: one of `envs.config.UNCERTAINTY_MODES`, checked there);
    calling it gives the (N,) token L1 between the step's prediction and that opinion."""

    def __init__(self, mode: str, bundle: Bundle, dynamics: Dynamics, dynamics_name: str, euler_steps: int) -> None:
        if mode == "draws" and dynamics.noise_shape is None:
            raise ValueError(
                f"uncertainty='draws' needs a sampling dynamics (rla-wm); {dynamics_name!r} is deterministic, so two "
                "draws never disagree: use uncertainty='regression' or dynamics='rla-wm'"
            )
        if mode == "regression" and dynamics_name == "regression":
            raise ValueError("uncertainty='regression' compares the env's step with the regression baseline; the env "
                             "already steps the baseline (dynamics='regression'): use dynamics='rla-wm'")  # fmt: skip
        self.mode = mode
        self.baseline = None if mode == "draws" else bundle.dynamics("regression", euler_steps)

    def __call__(
        self, tokens: torch.Tensor, targets: torch.Tensor, pred: torch.Tensor, draws: list[torch.Tensor],
        precision: str | None = None,
    ) -> torch.Tensor:  # fmt: skip
        """(N,) mean |pred - second opinion| over tokens and channels; "draws" takes the env's first extra draw
        (`draws[0]`, also used for reward averaging), "regression" steps the baseline."""
        other = draws[0] if self.baseline is None else self.baseline(tokens, targets, None, precision=precision)
        return (pred.float() - other.float()).abs().mean(dim=(-2, -1))
