"""The LoRA actor-critic: only adapters and heads learn; the residual respects its bounds; merged and unmerged
adapters act the same; adapters round-trip through peft's own format."""

from __future__ import annotations

import pytest
import torch
from agents_support import A, K, one_thread, random_frames, tiny_bc

from rla_gym.agents.bc import BCPolicy
from rla_gym.agents.lora import LoRAActorCritic, LoRAAgentConfig, ResidualHead

__all__ = ["one_thread"]  # the autouse fixture, imported


def _perturb_adapters(agent: LoRAActorCritic, seed: int = 1) -> None:
    """lora_B starts at zero (adapters are a no-op); give it weights so the adapters change the actions."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in agent.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)


def test_only_lora_residual_and_value_parameters_get_gradients():
    agent = LoRAActorCritic(tiny_bc())
    frames, actions = random_frames(), torch.randn(3, K, A) * 0.1
    logprob, entropy, value = agent(frames, actions)
    (-(logprob.mean()) - 0.01 * entropy.mean() + ((value - 1.0) ** 2).mean()).backward()
    trained = {n for n, p in agent.named_parameters() if p.grad is not None}
    frozen = {n for n, p in agent.named_parameters() if p.grad is None}
    assert trained and all("lora_" in n or n.startswith(("residual.", "value_head.")) for n in trained), sorted(trained)
    assert all(not p.requires_grad for n, p in agent.named_parameters() if n in frozen)
    assert not any("lora_" in n or n.startswith(("residual.", "value_head.")) for n in frozen), sorted(frozen)
    assert any(n.endswith("decoder.0.base_layer.weight") for n in frozen) and any(
        "convolution.base_layer" in n for n in frozen
    )
    lora = [n for n in trained if "lora_" in n]
    assert any("convolution.lora_" in n for n in lora) and any("decoder." in n for n in lora), "convs and linears both"
    assert {id(p) for p in agent.policy_parameters()} | {id(p) for p in agent.value_parameters()} == {
        id(p) for p in agent.parameters() if p.requires_grad
    }
    # the value head reads detached features: the value loss alone moves no adapter
    agent.zero_grad(set_to_none=True)
    agent(frames, actions)[2].sum().backward()
    assert all(p.grad is None for n, p in agent.named_parameters() if not n.startswith("value_head."))


def test_residual_stays_within_its_bounds_for_extreme_inputs():
    config = LoRAAgentConfig()
    head = ResidualHead(32, K * A, config)
    with torch.no_grad():
        for p in head.parameters():
            p.normal_(0.0, 10.0)
    features = torch.cat([torch.randn(64, 32) * 1e6, -torch.randn(64, 32).abs() * 1e6, torch.zeros(1, 32)])
    mean, std = head(features)
    assert torch.isfinite(mean).all() and torch.isfinite(std).all()
    assert mean.abs().max() <= config.mean_scale and std.max() <= config.std_scale and std.min() >= config.min_std
    assert std.max() == config.std_scale and mean.abs().max() > 0.99 * config.mean_scale, "inputs really were extreme"
    # end to end: the policy mean stays within 0.1 of the BC chunk, for black, white and noise frames
    agent = LoRAActorCritic(tiny_bc())
    with torch.no_grad():
        for p in agent.residual.parameters():
            p.normal_(0.0, 10.0)
    frames = torch.cat(
        [
            torch.zeros(1, 40, 40, 3, dtype=torch.uint8),
            torch.full((1, 40, 40, 3), 255, dtype=torch.uint8),
            random_frames(2),
        ]
    )
    dist, _ = agent.dist_and_value(frames)
    base = agent.bc.net(frames)[:, :K].flatten(1)
    assert (dist.mean - base).abs().max() <= config.mean_scale + 1e-6 and dist.stddev.max() <= config.std_scale


def test_residual_starts_at_zero_so_the_agent_starts_as_the_bc_policy():
    bc = tiny_bc()
    frames = random_frames()
    expected = bc.act(frames)
    agent = LoRAActorCritic(bc)
    assert torch.allclose(agent.act(frames), expected, atol=1e-6)
    dist, _ = agent.dist_and_value(frames)
    assert torch.allclose(dist.stddev, torch.full_like(dist.stddev, 0.1 * torch.log(torch.tensor(2.0))))


def test_merged_and_unmerged_adapters_give_the_same_actions():
    agent = LoRAActorCritic(tiny_bc())
    frames = random_frames()
    plain = agent.act(frames)
    _perturb_adapters(agent)
    unmerged = agent.act(frames)
    assert (unmerged - plain).abs().max() > 1e-3, "the perturbed adapters must change the actions"
    agent.merge_adapters()
    assert agent.merged
    assert torch.allclose(agent.act(frames), unmerged, atol=1e-5)
    agent.unmerge_adapters()
    assert torch.allclose(agent.act(frames), unmerged, atol=1e-5)


def test_adapters_save_in_peft_format_and_reload(tmp_path):
    from peft import PeftModel

    agent = LoRAActorCritic(tiny_bc())
    _perturb_adapters(agent)
    with torch.no_grad():
        agent.residual.head.bias.fill_(0.3)
    frames = random_frames()
    out = agent.save_pretrained(tmp_path / "agent")
    assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
    again = LoRAActorCritic.from_pretrained(out, robot="ur10e")
    assert torch.allclose(again.act(frames), agent.act(frames), atol=1e-6)
    # peft itself loads the adapters onto the plain BC network: the same tuned chunk
    peft_net = PeftModel.from_pretrained(BCPolicy.from_pretrained(out).net, str(out))
    with torch.no_grad():
        assert torch.allclose(peft_net(frames), agent.bc.net(frames), atol=1e-5)
    with pytest.raises(ValueError, match="is for robot 'ur10e'; expected 'xarm6_robotiq'"):
        LoRAActorCritic.from_pretrained(out, robot="xarm6_robotiq")
    agent.merge_adapters()
    with pytest.raises(RuntimeError, match="unmerge_adapters"):
        agent.save_pretrained(tmp_path / "merged")
