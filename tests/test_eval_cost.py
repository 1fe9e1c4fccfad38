"""Model cost (rla_gym/eval/cost.py): FLOPs count 2 per multiply-add, grow with the Euler steps of a step, every
component of a stack is counted, and parameters are the components' own."""

from __future__ import annotations

import torch
from agents_support import one_thread

from rla_gym.eval import cost

__all__ = ["one_thread"]  # the autouse fixture, imported


def test_flops_of_a_linear_layer_are_two_per_multiply_add():
    layer = torch.nn.Linear(16, 4, bias=False)
    assert cost.flops(lambda: layer(torch.zeros(3, 16))) == 2 * 3 * 16 * 4


def test_stack_costs_follow_the_euler_steps_and_cover_every_component():
    from rla_gym.models.random_bundle import make_random_bundle

    stack = make_random_bundle("ur10e", "tiny", episodes=2, length=16, seed=0, task="RollBall").stack.eval()
    s = torch.randn(2, stack.num_tokens, stack.token_dim)
    chunk = torch.zeros(2, 8, stack.robot.action_dim)
    one, many = cost.flops_per_step(stack.dynamics(1), s, chunk), cost.flops_per_step(stack.dynamics(4), s, chunk)
    assert 0 < one < many, "four Euler steps cost more than one"
    assert cost.ms_per_step(stack.dynamics(1), s, chunk, batch=2, repeats=1) > 0
    parts = cost.component_flops(stack, torch.device("cpu"))
    assert all(v > 0 for v in parts.values()) and parts["flow_per_euler_step_uncached"] > parts["flow_per_euler_step"]
    params = cost.parameters(stack)
    assert params["image_decoder"] == sum(p.numel() for p in stack.image_decoder.parameters())
