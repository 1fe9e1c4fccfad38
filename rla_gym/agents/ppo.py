"""PPO over action chunks inside the world model (paper 4.3 / A.2, reference 7.2), CleanRL-style.

One transition is one chunk: (frame_t, a_{t:t+K}, frame_{t+K}), so GAE runs over chunk decisions. An episode that
ends because its reference demo ran out is terminated (no bootstrap: nothing is left to be rewarded against); one
cut by the chunk-step limit is truncated and bootstrapped with gamma V(final obs), added to its last reward.

Distributed: under `torchrun --nproc_per_node N` each rank steps its own `num_envs / N` worlds with
`global_env_offset = rank x num_envs / N` (so N ranks simulate the same worlds as one rank with all the envs),
the agent is wrapped in DistributedDataParallel (gloo on CPU, NCCL on GPUs) which averages gradients, each
rank takes `minibatch_size / N` of its own rollout per minibatch, and the KL early stop uses the mean over ranks,
so every rank takes the same optimizer steps and holds the same weights.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from rla_gym.agents.lora import LoRAActorCritic
from rla_gym.envs.config import WorldModelEnvConfig
from rla_gym.envs.seeding import fold_in_seed
from rla_gym.models.device import synchronize

log = logging.getLogger(__name__)

PPO_SHUFFLE = 3  # reference 7.1 stream id of the minibatch permutation


@dataclass
class PPOConfig:
    """The paper's WMRL values (A.2; reference 7.2 for the ones the paper leaves out)."""

    num_envs: int = 112  # over all ranks
    num_steps: int = 4  # chunk decisions per env per rollout
    iterations: int = 300  # rollout + update rounds
    gamma: float = 0.9
    gae_lambda: float = 0.95
    lr: float = 1e-4  # AdamW on LoRA + residual head
    value_lr: float = 1e-4  # separate AdamW on the value head
    update_epochs: int = 8
    minibatch_size: int = 224  # over all ranks
    clip_coef: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5  # clipped separately for policy and value parameters
    target_kl: float | None = 0.1  # stop the update before a minibatch whose approx KL exceeds it
    norm_adv: bool = True  # per minibatch
    reward_scale: float = WorldModelEnvConfig.reward_scale  # 5: applied by the env
    seed: int = 1

    def __post_init__(self) -> None:
        for name in ("num_envs", "num_steps", "iterations", "update_epochs", "minibatch_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (0 <= self.gamma <= 1 and 0 <= self.gae_lambda <= 1):
            raise ValueError(f"gamma and gae_lambda must be in [0, 1]; got {self.gamma}, {self.gae_lambda}")
        if self.minibatch_size > self.num_envs * self.num_steps:
            raise ValueError(
                f"minibatch_size {self.minibatch_size} exceeds the rollout batch num_envs x num_steps = "
                f"{self.num_envs * self.num_steps}"
            )

    def local_num_envs(self, world_size: int) -> int:
        if self.num_envs % world_size:
            raise ValueError(f"num_envs {self.num_envs} is not divisible by the {world_size} ranks")
        return self.num_envs // world_size

    def local_minibatch(self, world_size: int) -> int:
        if self.minibatch_size % world_size:
            raise ValueError(f"minibatch_size {self.minibatch_size} is not divisible by the {world_size} ranks")
        return self.minibatch_size // world_size


@dataclass
class Rollout:
    """T chunk decisions of N envs. obs (T, N, H, W, 3) uint8; actions (T, N, K, A) normalised; the rest (T, N),
    `last_value` (N,) = V(obs after the last step). `rewards` already hold the truncation bootstrap."""

    obs: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    rewards: torch.Tensor
    ends: torch.Tensor  # bool: the episode ended at this step (terminated or truncated)
    values: torch.Tensor
    last_value: torch.Tensor
    episode_returns: list[float] = field(default_factory=list)  # env rewards summed over each finished episode
    episode_success: list[bool] = field(default_factory=list)

    @property
    def num_transitions(self) -> int:
        return int(self.rewards.numel())


def compute_gae(
    rewards: torch.Tensor, values: torch.Tensor, ends: torch.Tensor, last_value: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """GAE over (T, N): delta_t = r_t + gamma (1 - end_t) V_{t+1} - V_t; A_t = delta_t + gamma lam (1 - end_t) A_{t+1}.
    Returns (advantages, returns = advantages + values)."""
    t_len = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(last_value)
    for t in reversed(range(t_len)):
        nonterminal = 1.0 - ends[t].float()
        next_value = last_value if t == t_len - 1 else values[t + 1]
        delta = rewards[t] + gamma * next_value * nonterminal - values[t]
        last = delta + gamma * lam * nonterminal * last
        adv[t] = last
    return adv, adv + values


class RolloutCollector:
    """Steps a `RLAWorldModel-v0` vector env with the agent's sampled chunks and records a `Rollout`.

    The env (`gym.make_vec(..., vectorization_mode="vector_entry_point")`) returns torch uint8 obs (N, H, W, 3)
    on its device and takes (N, K, A) absolute joint targets; the agent's normalised actions are unnormalised
    on the way."""

    def __init__(self, envs: Any, agent: LoRAActorCritic, num_steps: int, gamma: float, seed: int) -> None:
        self.envs, self.agent, self.num_steps, self.gamma = envs, agent, num_steps, gamma
        k = envs.single_action_space.shape[0]
        if (k, envs.single_action_space.shape[1]) != (agent.k, agent.a):
            raise ValueError(
                f"the env takes chunks of shape {envs.single_action_space.shape}; the agent acts with ({agent.k}, {agent.a})"
            )
        obs, _ = envs.reset(seed=seed)
        self.obs = obs
        self._returns = torch.zeros(envs.num_envs)
        self.timings = {"policy": 0.0, "world_model": 0.0}  # seconds of sampling chunks and of env steps

    @torch.no_grad()
    def collect(self) -> Rollout:
        device = self.agent.device
        obs_l, act_l, logp_l, rew_l, end_l, val_l = [], [], [], [], [], []
        returns, successes = [], []
        for _ in range(self.num_steps):
            obs = self.obs.to(device)
            start = time.perf_counter()
            actions, logprob, value = self.agent.get_action_and_value(obs)
            targets = self.agent.to_joint_targets(actions)
            synchronize(device)
            middle = time.perf_counter()
            next_obs, reward, terminated, truncated, info = self.envs.step(targets)
            synchronize(device)
            self.timings["policy"] += middle - start
            self.timings["world_model"] += time.perf_counter() - middle
            reward = reward.to(device).float()
            terminated, truncated = terminated.to(device).bool(), truncated.to(device).bool()
            self._returns += reward.cpu()
            bootstrap = truncated & ~terminated
            if bool(bootstrap.any()):
                final = info["final_obs"][bootstrap.to(info["final_obs"].device)].to(device)
                reward = reward.clone()
                reward[bootstrap] += self.gamma * self.agent.value(final)
            ended = terminated | truncated
            success = _episode_success(info)
            for i in torch.nonzero(ended).flatten().tolist():
                returns.append(float(self._returns[i]))
                successes.append(bool(success[i]))
                self._returns[i] = 0.0
            obs_l.append(obs)
            act_l.append(actions)
            logp_l.append(logprob)
            rew_l.append(reward)
            end_l.append(ended)
            val_l.append(value)
            self.obs = next_obs
        last_value = self.agent.value(self.obs.to(device))
        stack = torch.stack
        return Rollout(
            stack(obs_l),
            stack(act_l),
            stack(logp_l),
            stack(rew_l),
            stack(end_l),
            stack(val_l),
            last_value,
            returns,
            successes,
        )


def _episode_success(info: dict[str, Any]) -> Any:
    """Per-world success of the episodes that just ended: Gymnasium's same-step autoreset puts the finished
    episode's info under `final_info` (the top level then describes the new episode)."""
    final = info.get("final_info")
    if isinstance(final, dict) and "success" in final:
        return final["success"]
    return info["success"]


def distributed_info() -> tuple[int, int]:
    """(rank, world size); (0, 1) when not distributed."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed(device: torch.device) -> tuple[int, int]:
    """Join the process group that `torchrun` describes (gloo on CPU, NCCL on CUDA); (0, 1) when run plainly."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return distributed_info()


def wrap_ddp(agent: LoRAActorCritic) -> nn.Module:
    """DDP over the agent when distributed (it also broadcasts rank 0's weights); the agent itself otherwise."""
    if distributed_info()[1] == 1:
        return agent
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [agent.device.index] if agent.device.type == "cuda" else None
    return DistributedDataParallel(agent, device_ids=device_ids)


def make_optimizers(agent: LoRAActorCritic, config: PPOConfig) -> tuple[torch.optim.Optimizer, torch.optim.Optimizer]:
    """(policy AdamW on LoRA + residual head, value AdamW on the value head), as the authors train them."""
    return (
        torch.optim.AdamW(agent.policy_parameters(), lr=config.lr),
        torch.optim.AdamW(agent.value_parameters(), lr=config.value_lr),
    )


def _mean_over_ranks(x: torch.Tensor) -> torch.Tensor:
    _, world = distributed_info()
    if world > 1:
        x = x.detach().clone()
        dist.all_reduce(x)
        x /= world
    return x


def clipped_surrogate(
    model: nn.Module, rollout: Rollout, advantages: torch.Tensor, clip_coef: float, normalize: bool = True
) -> float:
    """The clipped surrogate objective mean(min(r A, clip(r, 1 +- eps) A)) of `model` on a whole rollout."""
    obs, actions = rollout.obs.flatten(0, 1), rollout.actions.flatten(0, 1)
    adv = advantages.flatten()
    if normalize:
        adv = (adv - adv.mean()) / (adv.std() + 1e-8)
    with torch.no_grad():
        logprob, _, _ = model(obs, actions)
        ratio = (logprob - rollout.logprobs.flatten()).exp()
        return float(torch.min(ratio * adv, ratio.clamp(1 - clip_coef, 1 + clip_coef) * adv).mean())


def ppo_update(
    model: nn.Module,
    agent: LoRAActorCritic,
    optimizers: tuple[torch.optim.Optimizer, torch.optim.Optimizer],
    rollout: Rollout,
    config: PPOConfig,
    iteration: int,
) -> dict[str, float]:
    """`update_epochs` passes of clipped-surrogate PPO over the rollout. `model` is the agent or its DDP wrapper.

    The minibatch order is a pure function of (seed, iteration, epoch, rank): reproducible, different per rank."""
    rank, world = distributed_info()
    policy_opt, value_opt = optimizers
    advantages, returns = compute_gae(
        rollout.rewards, rollout.values, rollout.ends, rollout.last_value, config.gamma, config.gae_lambda
    )
    obs, actions = rollout.obs.flatten(0, 1), rollout.actions.flatten(0, 1)
    b_logprobs, b_adv, b_returns = rollout.logprobs.flatten(), advantages.flatten(), returns.flatten()
    n = b_logprobs.numel()
    mb = config.local_minibatch(world)
    if mb > n:
        raise ValueError(f"minibatch of {mb} per rank exceeds the {n} transitions each rank collected")
    stats: dict[str, list[float]] = {"pg_loss": [], "v_loss": [], "entropy": [], "approx_kl": [], "clipfrac": []}
    stopped = False
    for epoch in range(config.update_epochs):
        gen = torch.Generator().manual_seed(fold_in_seed(config.seed, PPO_SHUFFLE, iteration, epoch, rank))
        perm = torch.randperm(n, generator=gen)
        for start in range(0, n - mb + 1, mb):
            idx = perm[start : start + mb].to(b_logprobs.device)
            logprob, entropy, value = model(obs[idx], actions[idx])
            logratio = logprob - b_logprobs[idx]
            ratio = logratio.exp()
            with torch.no_grad():
                approx_kl = _mean_over_ranks(((ratio - 1) - logratio).mean())
                clipfrac = ((ratio - 1).abs() > config.clip_coef).float().mean()
            if config.target_kl is not None and float(approx_kl) > config.target_kl:
                stopped = True
                break
            adv = b_adv[idx]
            if config.norm_adv and adv.numel() > 1:
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pg_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - config.clip_coef, 1 + config.clip_coef)).mean()
            v_loss = 0.5 * ((value - b_returns[idx]) ** 2).mean()
            loss = pg_loss - config.ent_coef * entropy.mean() + config.vf_coef * v_loss
            policy_opt.zero_grad(set_to_none=True)
            value_opt.zero_grad(set_to_none=True)
            loss.backward()  # DDP averages the gradients over ranks here
            nn.utils.clip_grad_norm_(agent.policy_parameters(), config.max_grad_norm)
            nn.utils.clip_grad_norm_(agent.value_parameters(), config.max_grad_norm)
            policy_opt.step()
            value_opt.step()
            for key, value_ in (
                ("pg_loss", pg_loss),
                ("v_loss", v_loss),
                ("entropy", entropy.mean()),
                ("approx_kl", approx_kl),
                ("clipfrac", clipfrac),
            ):
                stats[key].append(float(value_.detach()))
        if stopped:
            break
    out = {k: float(np.mean(v)) if v else float("nan") for k, v in stats.items()}
    out["early_stop"] = float(stopped)
    out["explained_variance"] = _explained_variance(rollout.values.flatten(), b_returns)
    return out


def _explained_variance(values: torch.Tensor, returns: torch.Tensor) -> float:
    var = float(returns.var()) if returns.numel() > 1 else 0.0
    return float("nan") if var == 0 else 1.0 - float((returns - values).var()) / var
