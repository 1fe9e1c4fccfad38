"""Random-weight bundles with a synthetic demo set: a fixture for tests and a way to try the API
before any trained bundle is at hand. Marked `random` in the manifest and warned about when loaded."""

from __future__ import annotations

import torch

from rla_gym.data.synthetic import synthetic_demos
from rla_gym.models.bundle import Bundle
from rla_gym.models.configs import preset_config
from rla_gym.models.stack import WorldModelStack
from rla_gym.specs.robots import get_robot


def make_random_bundle(
    robot: str = "ur10e",
    preset: str = "tiny",
    episodes: int = 4,
    length: int = 24,
    seed: int = 0,
    task: str | None = None,
) -> Bundle:
    """Random weights (seeded) for the chosen preset plus a synthetic demo set at the encoder's size."""
    config = preset_config(preset, robot)
    config.encoder.hub_id = None  # random weights: the bundle must carry the encoder too
    torch.manual_seed(seed)
    stack = WorldModelStack(config).eval()
    demos = synthetic_demos(robot, episodes, length, stack.image_size, seed)
    spec = get_robot(robot)
    return Bundle(stack=stack, demos=demos, random=True, task=task or spec.tasks[0], metadata={"preset": preset})
