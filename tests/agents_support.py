"""Shared helpers for the agent tests (`tests/test_agents_*.py`): tiny BC policies and frames."""

from __future__ import annotations

import pytest
import torch

from rla_gym.agents.bc import BCPolicy
from rla_gym.agents.normalization import ActionNormalizer
from rla_gym.agents.resnet import policy_config

A, K = 5, 8  # ur10e joint targets per row; rows executed per chunk


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks run fastest on one thread, and on a busy machine more threads are much slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_bc(seed: int = 0) -> BCPolicy:
    """A tiny ur10e BC policy with a fixed, non-symmetric action range."""
    torch.manual_seed(seed)
    norm = ActionNormalizer(torch.tensor([-1.0, -2.0, 0.0, -3.0, -1.0]), torch.tensor([1.0, 0.0, 2.0, 3.0, 0.5]))
    return BCPolicy("ur10e", policy_config("tiny", A), norm)


def random_frames(n: int = 3, seed: int = 0, size: int = 40) -> torch.Tensor:
    return torch.randint(0, 256, (n, size, size, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))
