"""Random-weight bundles with a synthetic demo set: a fixture for tests and a way to try the API
before any trained bundle is at hand. Marked `random` in the manifest and warned about when loaded."""

from __future__ import annotations

import torch
from torch import nn

from rla_gym.data.synthetic import synthetic_demos
from rla_gym.models.bundle import Bundle
from rla_gym.models.configs import preset_config
from rla_gym.models.stack import WorldModelStack
from rla_gym.specs.robots import get_robot


def _randomize_zero_init_outputs(stack: WorldModelStack) -> None:
    """Give the layers that training starts at zero small random weights.

    Zero output layers are right for training (each block starts as identity, the decoders start
    flat) but leave an untrained stack constant: every predicted token 0, every render black, the
    action entering nowhere (adaLN gates of 0). A random bundle stands in for a trained one in tests
    and demos, so its predictions must move with the tokens, the action and the noise."""
    wm = stack.world_model
    layers: list[nn.Linear | nn.Conv2d] = [block.modulation[-1] for block in (*wm.cond_blocks, *wm.flow_blocks)]
    layers += [wm.flow_out_proj, stack.rla.decoder.out_layer, stack.image_decoder.out_conv[-1]]
    for layer in layers:
        layer.reset_parameters()  # PyTorch's default init: uniform within 1/sqrt(fan_in)
    nn.init.constant_(stack.image_decoder.out_conv[-1].bias, 0.5)  # mid-grey renders, not half clamped to 0


def make_random_bundle(
    robot: str = "ur10e",
    preset: str = "tiny",
    episodes: int = 4,
    length: int = 24,
    seed: int = 0,
    task: str | None = None,
) -> Bundle:
    """Random weights (seeded) for the chosen preset plus a synthetic demo set at the encoder's size: `episodes`
    >= 1 of `length` >= 1 frames (the env resets only from demos longer than one chunk, and says so)."""
    if episodes < 1 or length < 1:
        raise ValueError(f"episodes and length: expected integers >= 1; got episodes={episodes}, length={length}")
    config = preset_config(preset, robot)
    config.encoder.hub_id = None  # random weights: the bundle must carry the encoder too
    with torch.random.fork_rng(devices=[]):  # seeded weights without moving the caller's torch RNG
        torch.manual_seed(seed)
        stack = WorldModelStack(config).eval()
        _randomize_zero_init_outputs(stack)
    demos = synthetic_demos(robot, episodes, length, stack.image_size, seed)
    spec = get_robot(robot)
    return Bundle(stack=stack, demos=demos, random=True, task=task or spec.tasks[0], metadata={"preset": preset})


def adopt_shared_part(bundle: Bundle, shared: Bundle) -> None:
    """Give `bundle` the shared part of `shared` (encoder, UNet, RLA autoencoder and its latent scale), keeping its
    own robot and random dynamics: the init from which a new robot's RLA-WM trains on a zoo's shared stack (the
    paper: one autoencoder for every robot, one dynamics model each). A stack of another size is refused, naming
    both presets."""
    from rla_gym.models.layered import SHARED_COMPONENTS
    from rla_gym.models.state_dicts import load_strict

    ours, theirs = bundle.metadata.get("preset"), shared.config.preset
    if ours != theirs:
        raise ValueError(f"the shared stack is a {theirs!r} stack; this bundle is {ours!r}: use --preset {theirs}")
    a, b = bundle.stack, shared.stack
    for name in SHARED_COMPONENTS:
        load_strict(a.components()[name], b.components()[name].state_dict(), source=f"the shared stack's {name}")
    a.config.encoder = b.config.encoder
    a.config.latent_scale = b.config.latent_scale
