"""Where a world-model step spends its time: each sub-module of the stack timed on its own.

    times = component_times(stack, batch=8, euler_steps=None, repeats=5)
    # {"encoder": 3.1, "condition": 9.8, "flow": 4.0, "rla_decoder": 7.2, "unet": 6.5, "step": 27.9}

Milliseconds per batched call of `batch` worlds, i.e. per vector-env step of `batch` envs. One env step is
`condition` (the condition network: action GRU + condition blocks, once), `flow` (all Euler steps of the flow
network, with the condition's cross-attention keys/values projected once), `rla_decoder` (latent -> next DINO
tokens) and `unet` (tokens -> RGB); `step` times `predict` + `render` end to end, so the parts can be checked
against the whole. `encoder` (DINOv3 on RGB frames) is not part of an env step (predicted tokens are the next
state); it runs at reset and wherever real frames enter. Each part runs under the same no-grad, autocast and
trusted-inputs contexts as `WorldModelStack.predict`, on the stack's device, with CUDA synchronised around
every timed region.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

from rla_gym.models.checks import trusted_inputs
from rla_gym.models.device import autocast, synchronize
from rla_gym.models.stack import WorldModelStack
from rla_gym.specs.robots import CHUNK_SIZE

COMPONENT_NAMES = ("encoder", "condition", "flow", "rla_decoder", "unet")


def _time_ms(fn: Callable[[], object], device: torch.device, repeats: int, warmup: int) -> float:
    """Mean wall time of `fn()` in milliseconds over `repeats` calls, after `warmup` untimed ones."""
    for _ in range(warmup):
        fn()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    synchronize(device)
    return (time.perf_counter() - start) / repeats * 1000


@torch.no_grad()
def component_times(
    stack: WorldModelStack,
    batch: int = 8,
    euler_steps: int | None = None,
    repeats: int = 5,
    *,
    chunk: int = CHUNK_SIZE,
    warmup: int = 1,
    seed: int = 0,
) -> dict[str, float]:
    """ms per batched call of `batch` worlds for each part of a step (see the module docstring).

    `euler_steps`: None = the stack's; `chunk`: joint-target rows per action (the env's K). Inputs are random
    (seeded, the caller's RNG untouched): the time of a forward pass does not depend on its values."""
    if batch < 1 or repeats < 1 or warmup < 0:
        raise ValueError(f"need batch >= 1, repeats >= 1, warmup >= 0; got {batch}, {repeats}, {warmup}")
    steps = stack.config.euler_steps if euler_steps is None else int(euler_steps)
    if steps < 1:
        raise ValueError(f"euler_steps must be >= 1 (or None for the stack's {stack.config.euler_steps}); got {steps}")
    horizon = stack.config.world_model.max_horizon
    if not 1 <= chunk <= horizon:
        raise ValueError(f"chunk must lie in 1..{horizon} (the world model's max_horizon); got {chunk}")
    device, spec = stack.device, stack.robot
    gen = torch.Generator().manual_seed(seed)
    size = stack.image_size
    frames = torch.randint(0, 256, (batch, size, size, 3), generator=gen, dtype=torch.uint8).to(device)
    tokens = torch.randn(batch, stack.num_tokens, stack.token_dim, generator=gen).to(device)  # (B, L, C)
    rest = torch.tensor(spec.rest_qpos[: spec.action_dim], dtype=torch.float32)
    targets = (rest + 0.1 * torch.randn(batch, chunk, spec.action_dim, generator=gen)).to(device)  # (B, K, A)
    noise = torch.randn(batch, *stack.latent_shape, generator=gen).to(device)  # (B, Nz, Dz)
    qpos = spec.to_full_qpos(targets)  # (B, K, J)
    lengths = torch.full((batch,), chunk, dtype=torch.long, device=device)
    dynamics = stack.dynamics(steps)  # the parts of the one RLA-WM step, timed one by one

    with trusted_inputs(), autocast(device):
        cond = dynamics.condition(tokens, qpos, lengths)
        z = dynamics.latent(cond, noise)
        parts: dict[str, Callable[[], object]] = {
            "encoder": lambda: stack.encoder.encode_uint8(frames),
            "condition": lambda: dynamics.condition(tokens, qpos, lengths),
            "flow": lambda: dynamics.latent(cond, noise),
            "rla_decoder": lambda: dynamics.decode(tokens, z),
            "unet": lambda: stack.image_decoder(tokens),
        }
        times = {name: _time_ms(fn, device, repeats, warmup) for name, fn in parts.items()}
    times["step"] = _time_ms(
        lambda: stack.render(stack.predict(tokens, targets, noise, steps)), device, repeats, warmup
    )
    return times
