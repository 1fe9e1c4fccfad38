"""Saved policies for the evaluation and benchmark tests: a tiny BC folder and a `rla-gym wmrl` output with two
complete RL checkpoints that act differently, and one cut short."""

from __future__ import annotations

import pytest
import torch
from agents_support import tiny_bc


@pytest.fixture(scope="module")
def policies(tmp_path_factory):
    """A BC folder and a wmrl output with two complete RL checkpoints (iter_000001, iter_000002)."""
    from rla_gym.agents.lora import LoRAActorCritic, LoRAAgentConfig
    from rla_gym.eval.checkpoints import TRAINER_STATE, checkpoint_dir

    root = tmp_path_factory.mktemp("policies")
    tiny_bc(0).save_pretrained(root / "bc")
    config = LoRAAgentConfig(residual_hidden=(16,), value_hidden=(16,))
    for it in (1, 2):
        agent = LoRAActorCritic(tiny_bc(0), config)  # tiny_bc seeds torch itself
        torch.manual_seed(it)
        torch.nn.init.normal_(agent.residual.head.weight, std=0.5)  # each checkpoint acts differently
        path = agent.save_pretrained(checkpoint_dir(root / "wmrl", it))
        torch.save({"iteration": it}, path / TRAINER_STATE)
    (root / "wmrl" / "checkpoints" / "iter_000003").mkdir()  # cut short: no trainer state, not listed
    return root
