"""PPO over chunks: GAE with no bootstrap past a demo's end, a bootstrap on truncation; one update on a fixed
batch raises the clipped surrogate; the collector drives the world-model vector env; two torchrun ranks (gloo)
take one update and end with identical weights."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from agents_support import A, K, one_thread, random_frames, tiny_bc
from gymnasium import spaces

from rla_gym.agents.lora import LoRAActorCritic
from rla_gym.agents.ppo import (
    PPOConfig,
    Rollout,
    RolloutCollector,
    clipped_surrogate,
    compute_gae,
    make_optimizers,
    ppo_update,
)

__all__ = ["one_thread"]  # the autouse fixture, imported


def test_gae_stops_at_episode_ends():
    gamma, lam = 0.9, 0.95
    rewards = torch.tensor([[1.0], [2.0], [3.0]])
    values = torch.tensor([[0.5], [0.25], [0.125]])
    ends = torch.tensor([[False], [True], [False]])
    last = torch.tensor([4.0])
    adv, ret = compute_gae(rewards, values, ends, last, gamma, lam)
    d2 = 3.0 + gamma * 4.0 - 0.125
    d1 = 2.0 - 0.25  # the episode ended here: no V of the next (reset) observation
    d0 = 1.0 + gamma * 0.25 - 0.5
    expected = torch.tensor([[d0 + gamma * lam * d1], [d1], [d2]])
    assert torch.allclose(adv, expected) and torch.allclose(ret, expected + values)


class _EndingEnv:
    """Two worlds: world 0's demo runs out at step 1 (terminated), world 1 hits the chunk limit (truncated)."""

    num_envs = 2

    def __init__(self, size: int = 40) -> None:
        self.single_action_space = spaces.Box(-10, 10, (K, A), np.float32)
        self.size, self.t, self.last_action = size, 0, None

    def reset(self, seed=None):
        self.t = 0
        return random_frames(2, seed=100, size=self.size), {}

    def step(self, actions):
        self.last_action = actions
        self.t += 1
        end = self.t == 2
        final = random_frames(2, seed=200 + self.t, size=self.size)
        done = torch.tensor([end, end])
        info = {"success": torch.zeros(2, dtype=torch.bool), "final_obs": final, "_final_obs": done}
        info |= {"final_info": {"success": torch.tensor([end, False])}, "_final_info": done}  # Gymnasium same-step
        obs = random_frames(2, seed=300 + self.t, size=self.size)
        return obs, torch.ones(2), torch.tensor([end, False]), torch.tensor([False, end]), info


def test_collector_bootstraps_truncation_but_not_termination():
    agent = LoRAActorCritic(tiny_bc())
    env = _EndingEnv()
    rollout = RolloutCollector(env, agent, num_steps=3, gamma=0.9, seed=0).collect()
    assert rollout.ends[:, 0].tolist() == [False, True, False] and rollout.ends[:, 1].tolist() == [False, True, False]
    final_value = agent.value(random_frames(2, seed=202))
    assert rollout.rewards[1, 0] == 1.0, "terminated: no bootstrap"
    assert torch.isclose(rollout.rewards[1, 1], 1.0 + 0.9 * final_value[1]), "truncated: + gamma V(final obs)"
    assert rollout.episode_returns == [2.0, 2.0] and rollout.episode_success == [True, False]
    assert torch.allclose(env.last_action, agent.to_joint_targets(rollout.actions[-1])), "env gets joint targets"


def _fixed_rollout(agent: LoRAActorCritic, t: int = 4, n: int = 8) -> Rollout:
    frames = random_frames(t * n, seed=5).view(t, n, 40, 40, 3)
    actions, logprobs, values = agent.get_action_and_value(frames.flatten(0, 1))
    gen = torch.Generator().manual_seed(3)
    rewards = torch.randn(t, n, generator=gen)
    ends = torch.zeros(t, n, dtype=torch.bool)
    ends[-1] = True
    return Rollout(
        frames, actions.view(t, n, K, A), logprobs.view(t, n), rewards, ends, values.view(t, n), torch.zeros(n)
    )


def test_one_ppo_update_raises_the_clipped_surrogate_objective():
    torch.manual_seed(0)
    agent = LoRAActorCritic(tiny_bc())
    rollout = _fixed_rollout(agent)
    config = PPOConfig(num_envs=8, num_steps=4, minibatch_size=16, update_epochs=4, lr=1e-3, value_lr=1e-3)
    adv, _ = compute_gae(
        rollout.rewards, rollout.values, rollout.ends, rollout.last_value, config.gamma, config.gae_lambda
    )
    before = clipped_surrogate(agent, rollout, adv, config.clip_coef)
    lora_before = [p.detach().clone() for p in agent.policy_parameters()]
    stats = ppo_update(agent, agent, make_optimizers(agent, config), rollout, config, iteration=0)
    after = clipped_surrogate(agent, rollout, adv, config.clip_coef)
    assert abs(before) < 1e-5, "ratio 1 before the update: the objective is the mean normalised advantage, 0"
    assert after > before + 1e-3, f"surrogate {before:.5f} -> {after:.5f}; stats {stats}"
    assert any(not torch.equal(a, b) for a, b in zip(lora_before, agent.policy_parameters()))


def test_collector_runs_on_the_world_model_vector_env(make_vec_env):
    env = make_vec_env(3, max_chunk_steps=2)
    agent = LoRAActorCritic(tiny_bc())
    config = PPOConfig(num_envs=3, num_steps=4, minibatch_size=6, update_epochs=1)
    rollout = RolloutCollector(env, agent, config.num_steps, config.gamma, seed=0).collect()
    size = env.single_observation_space.shape[0]
    assert rollout.obs.shape == (4, 3, size, size, 3) and rollout.obs.dtype == torch.uint8
    assert rollout.actions.shape == (4, 3, K, A) and rollout.rewards.shape == rollout.ends.shape == (4, 3)
    assert rollout.ends[1].all(), "max_chunk_steps 2: every episode has ended by the second chunk"
    assert len(rollout.episode_returns) == int(rollout.ends.sum())
    stats = ppo_update(agent, agent, make_optimizers(agent, config), rollout, config, iteration=0)
    assert np.isfinite(stats["pg_loss"]) and np.isfinite(stats["v_loss"])


_DDP_SCRIPT = """
import sys, torch, gymnasium as gym
import rla_gym
sys.path.insert(0, sys.argv[3])
from agents_support import tiny_bc
from rla_gym.agents.lora import LoRAActorCritic
from rla_gym.agents.ppo import PPOConfig, RolloutCollector, init_distributed, make_optimizers, ppo_update, wrap_ddp

torch.set_num_threads(1)
rank, world = init_distributed(torch.device("cpu"))
config = PPOConfig(num_envs=4, num_steps=2, minibatch_size=4, update_epochs=2, lr=1e-3, value_lr=1e-3)
local = config.local_num_envs(world)
env = gym.make_vec("RLAWorldModel-v0", num_envs=local, vectorization_mode="vector_entry_point",
                   bundle=sys.argv[1], global_env_offset=rank * local, max_chunk_steps=2)
agent = LoRAActorCritic(tiny_bc(seed=rank))  # different init per rank: DDP broadcasts rank 0's
model = wrap_ddp(agent)
before = {k: v.detach().clone() for k, v in agent.state_dict().items()}
rollout = RolloutCollector(env, agent, config.num_steps, config.gamma, seed=config.seed).collect()
ppo_update(model, agent, make_optimizers(agent, config), rollout, config, iteration=0)
torch.save({"before": before, "after": agent.state_dict(), "obs": rollout.obs}, f"{sys.argv[2]}/rank{rank}.pt")
"""


@pytest.mark.slow
def test_two_torchrun_ranks_take_one_update_and_hold_identical_weights(random_bundle_dir, tmp_path):
    script = tmp_path / "ddp_ppo.py"
    script.write_text(textwrap.dedent(_DDP_SCRIPT))
    torchrun = Path(sys.executable).with_name("torchrun")
    tests = str(Path(__file__).parent)
    cmd = [str(torchrun), "--nproc_per_node", "2", "--master_port", "29531", str(script)]
    cmd += [str(random_bundle_dir), str(tmp_path), tests]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert not torch.equal(r0["obs"], r1["obs"]), "each rank steps its own worlds"
    changed = [k for k in r0["after"] if not torch.equal(r0["after"][k], r0["before"][k])]
    assert any("lora_" in k for k in changed) and any(k.startswith("residual.") for k in changed)
    for key in r0["after"]:
        assert torch.equal(r0["after"][key], r1["after"][key]), f"{key} differs between ranks"


def test_an_agent_for_another_action_size_is_refused_by_the_collector():
    env = _EndingEnv()
    env.single_action_space = spaces.Box(-1, 1, (K, 8), np.float32)  # a panda's chunks
    with pytest.raises(ValueError, match=r"the env takes chunks of shape \(8, 8\); the agent acts with \(8, 5\)"):
        RolloutCollector(env, LoRAActorCritic(tiny_bc()), num_steps=2, gamma=0.9, seed=0)
