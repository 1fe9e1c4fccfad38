"""A random bundle that ships a regression baseline whose output follows its inputs (the zero-init one is the
identity, which would make every comparison with it vacuous)."""

from __future__ import annotations

from pathlib import Path

import torch

from rla_gym.models.random_bundle import make_random_bundle
from rla_gym.models.regression import RegressionConfig, RegressionWorldModel


def moving_regression(config) -> RegressionWorldModel:
    """A random baseline whose output moves with the tokens and the action (not the zero-init identity)."""
    torch.manual_seed(0)
    model = RegressionWorldModel(RegressionConfig.matching(config))
    torch.nn.init.normal_(model.out_proj.weight, std=0.05)
    for block in model.blocks:
        block.modulation[-1].reset_parameters()  # open the adaLN gates: the action enters
    return model.eval()


def save_regression_bundle(path: Path) -> Path:
    bundle = make_random_bundle("ur10e", "tiny", episodes=4, length=24, seed=0)
    bundle.regression = moving_regression(bundle.config)
    bundle.save_pretrained(path)
    return path
