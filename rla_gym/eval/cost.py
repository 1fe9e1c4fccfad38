"""What a model costs: parameters, FLOPs (torch's FlopCounterMode, 2 FLOPs per multiply-add, attention matmuls
included) per component and per world-model step, and wall-clock ms per call on this machine."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from rla_gym.models.dynamics import Dynamics
from rla_gym.models.stack import WorldModelStack
from rla_gym.specs.robots import CHUNK_SIZE


def flops(fn: Callable[[], object]) -> float:
    """FLOPs of one call of `fn` (no gradients)."""
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        fn()
    return float(counter.get_total_flops())


def component_flops(stack: WorldModelStack, device: torch.device, k: int = CHUNK_SIZE) -> dict[str, float]:
    """FLOPs for one env (batch 1) per component."""
    cfg = stack.config
    size, spec = stack.image_size, stack.robot
    images = torch.rand(1, 3, size, size, device=device)
    tokens = torch.randn(1, stack.num_tokens, stack.token_dim, device=device)
    qpos = torch.randn(1, k, spec.qpos_dim, device=device)
    lengths = torch.full((1,), k, device=device)
    wm = stack.world_model
    cond = wm.forward_cond(tokens, qpos, lengths, cfg.robot_key)
    latent = torch.randn(1, *stack.latent_shape, device=device)
    t = torch.ones(1, device=device)
    kvs = wm.prepare_cond(cond)
    return {
        "dino_encode": flops(lambda: stack.encoder(images)),
        "condition": flops(lambda: wm.forward_cond(tokens, qpos, lengths, cfg.robot_key)),
        "flow_condition_projection": flops(lambda: wm.prepare_cond(cond)),
        "flow_per_euler_step": flops(lambda: wm.forward_flow(kvs, latent, t)),
        "flow_per_euler_step_uncached": flops(lambda: wm.forward_flow(cond, latent, t)),
        "rla_decoder": flops(lambda: stack.rla.decoder(tokens, tokens=latent * 10)),
        "rla_encoder": flops(lambda: stack.rla.encoder(tokens)),
        "unet": flops(lambda: stack.image_decoder(tokens)),
    }


def parameters(stack: WorldModelStack) -> dict[str, float]:
    """Parameters per component of the stack."""
    return {name: sum(p.numel() for p in m.parameters()) for name, m in stack.components().items()}


def time_step(stack: WorldModelStack, batch: int, repeats: int) -> dict[str, float]:
    """ms per call of encode, predict (one chunk step) and render at `batch`, after a warm-up predict."""
    frames = torch.randint(0, 255, (batch, stack.image_size, stack.image_size, 3), dtype=torch.uint8)
    tokens = stack.encode(frames)
    targets = torch.zeros(batch, CHUNK_SIZE, stack.robot.action_dim)
    stack.predict(tokens, targets)  # warm-up
    out: dict[str, float] = {}
    for name, fn in {
        "encode": lambda: stack.encode(frames),
        "predict": lambda: stack.predict(tokens, targets),
        "render": lambda: stack.render(tokens),
    }.items():
        start = time.perf_counter()
        for _ in range(repeats):
            fn()
        out[name] = (time.perf_counter() - start) / repeats * 1e3
    return out


def flops_per_step(dynamics: Dynamics, s: torch.Tensor, chunk: torch.Tensor) -> float:
    """FLOPs of one step of `dynamics` for one env: tokens `s` (B, L, C), `chunk` (B, K, A), first row only."""
    return flops(lambda: dynamics(s[:1], chunk[:1], generator=torch.Generator()))


def ms_per_step(dynamics: Dynamics, s: torch.Tensor, chunk: torch.Tensor, batch: int = 8, repeats: int = 3) -> float:
    """ms per step of `dynamics` on the first `batch` rows, after one warm-up step."""
    s, chunk, gen = s[:batch], chunk[:batch], torch.Generator()
    dynamics(s, chunk, generator=gen)
    start = time.perf_counter()
    for _ in range(repeats):
        dynamics(s, chunk, generator=gen)
    return (time.perf_counter() - start) / repeats * 1000
