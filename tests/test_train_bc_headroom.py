"""BC headroom variants: BC on the first fraction of the successful demos, nested, and refused elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rla_gym.train.build import TaskOptions
from rla_gym.train.data import TrainingData


def _data(n: int) -> TrainingData:
    return TrainingData(
        keys=[f"traj_{i}" for i in range(n)],
        frames=None,
        tokens=[torch.full((3, 2, 4), float(i), dtype=torch.float16) for i in range(n)],
        targets=[np.full((3, 6), i, np.float32) for i in range(n)],
        interaction=[np.zeros(3, bool) for _ in range(n)],
        success=[i % 3 != 2 for i in range(n)],  # every third failed
        masked=False,
    )


def test_fractions_of_the_successes_are_nested_and_keep_episodes_whole():
    successes = _data(30).successes()
    assert len(successes) == 20 and all(successes.success)
    tenth, quarter, half = (successes.first(f) for f in (0.1, 0.25, 0.5))
    assert (len(tenth), len(quarter), len(half)) == (2, 5, 10)
    assert tenth.keys == quarter.keys[:2] and quarter.keys == half.keys[:5], "nested: 10 % is part of 25 %"
    for i, key in enumerate(half.keys):  # tokens and targets travel with their episode
        idx = int(key.removeprefix("traj_"))
        assert float(half.tokens[i][0, 0, 0]) == idx and half.targets[i][0, 0] == idx
    assert len(successes.first(0.001)) == 1, "at least one demonstration"
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 1\]"):
        successes.first(0.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model": "bc", "bc_fraction": 1.5}, r"--bc-fraction: expected a number in \(0, 1\]"),
        ({"model": "bc", "bc_fraction": 0.0}, r"--bc-fraction: expected a number in \(0, 1\]"),
        ({"model": "unet", "bc_fraction": 0.5}, "applies to bc, not unet"),
    ],
)
def test_a_bad_fraction_is_refused(kwargs, message, tmp_path):
    with pytest.raises(ValueError, match=message):
        TaskOptions(init="x", data=tmp_path, **kwargs)
