"""Prediction quality split by what the arm is told (hold or move): a mean over all starts hides a model that
invents motion where the arm holds still, the starts copy-first wins."""

from __future__ import annotations

import pytest
import torch

from benchmarks.prediction_quality import command_table
from rla_gym.eval.prediction_quality import CHUNK, CHUNKS, HOLD_TOLERANCE, Starts, by_command, holding


def _starts(moves: list[float]) -> Starts:
    """One start per entry: its 30 targets drift linearly by `move` radians (L1 over the joints) from the first."""
    b, a, l, c = len(moves), 6, 4, 3
    ramp = torch.linspace(0, 1, CHUNK * CHUNKS)[None, :, None]
    targets = 0.3 + ramp * torch.tensor(moves)[:, None, None] / a * torch.ones(b, 1, a)
    tokens = torch.zeros(b, CHUNKS + 1, l, c)
    return Starts(torch.zeros(b, CHUNKS + 1, 8, 8, 3, dtype=torch.uint8), tokens, targets, [("e", i) for i in range(b)])


def test_starts_whose_targets_stay_within_the_tolerance_hold():
    starts = _starts([0.0, 0.5 * HOLD_TOLERANCE, 2 * HOLD_TOLERANCE, 1.0])
    assert holding(starts).tolist() == [True, True, False, False]
    back_and_forth = _starts([0.0])
    back_and_forth.targets[0, 12] += 1.0  # a move that returns to the first target is still a move
    assert not holding(back_and_forth).item()


def test_each_group_is_scored_on_its_own_starts():
    starts = _starts([0.0, 0.0, 1.0])
    preds = torch.zeros(3, CHUNKS, 4, 3)
    preds[:2] += 0.2  # invents motion where the arm holds
    preds[2, -1] += 0.6
    groups = by_command(starts, preds)
    assert groups["hold"]["starts"] == 2
    assert groups["hold"]["token_l1"] == [pytest.approx(0.2, abs=1e-6)] * 3
    assert groups["move"]["starts"] == 1 and groups["move"]["token_l1"] == [0.0, 0.0, pytest.approx(0.6, abs=1e-6)]
    assert by_command(_starts([1.0]), preds[2:])["hold"] == {"starts": 0, "token_l1": [None, None, None]}


def test_the_table_prints_both_groups_and_a_dash_for_an_empty_one():
    results = {
        "models": {
            "RLA-WM (1 Euler)": {"by_command": by_command(_starts([1.0]), torch.full((1, CHUNKS, 4, 3), 0.5))},
            "copy first frame": {"by_command": by_command(_starts([1.0]), torch.zeros(1, CHUNKS, 4, 3))},
        }
    }
    text = command_table(results)
    assert "**hold** (0 starts" in text and "**move** (1 starts)" in text
    assert "| RLA-WM (1 Euler) | - | - | - | 0.5000 | 0.5000 | 0.5000 |" in text
    assert command_table({"models": {"copy first frame": {"horizons": []}}}) == ""  # measured before the split
