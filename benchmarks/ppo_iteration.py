"""How long one PPO iteration of the LoRA-ResNet agent takes inside the world model: rollout and update, timed apart.

The paper's world-model RL (A.2): 112 envs, 4 chunk decisions each per rollout, 8 epochs over minibatches of 224.
This builds the agent on a BC policy with the given preset's ResNet-18 (random weights unless `--bc` names a
trained one: timing does not depend on what the weights learned) and runs `--iterations` iterations of
`rla_gym.agents.ppo` (the loop `rla-gym wmrl` runs, without its ManiSkill evaluations), after one warm-up iteration.

    python -m benchmarks.ppo_iteration --num-envs 8 --minibatch-size 16                # shipped bundle, this machine
    python -m benchmarks.ppo_iteration --random-preset paper --policy-preset paper --device cuda   # on a GPU
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from benchmarks.bundle_choice import add_bundle_args, bundle_from_args
from rla_gym.eval.speed import peak_memory_mb
from rla_gym.models.device import synchronize


def measure_ppo(
    bundle,
    device: str,
    num_envs: int = 112,
    num_steps: int = 4,
    minibatch_size: int = 224,
    update_epochs: int = 8,
    iterations: int = 2,
    policy_preset: str = "paper",
    bc: str | None = None,
    seed: int = 1,
) -> dict:
    """Seconds per PPO iteration (the mean over `iterations` after a warm-up): rollout (of which the agent's sampling
    and the world model's steps), update, and world-model chunk steps per second of training."""
    import gymnasium as gym

    import rla_gym  # noqa: F401  (registers the env)
    from rla_gym.agents.bc import BCPolicy
    from rla_gym.agents.lora import LoRAActorCritic
    from rla_gym.agents.normalization import ActionNormalizer
    from rla_gym.agents.ppo import PPOConfig, RolloutCollector, make_optimizers, ppo_update
    from rla_gym.agents.resnet import policy_config

    env = gym.make_vec(
        "RLAWorldModel-v0",
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        robot=bundle.robot,
        bundle=bundle,
        device=device,
    )
    try:
        if bc is not None:
            policy = BCPolicy.from_pretrained(bc, robot=bundle.robot, device=env.device)
        else:
            space = env.single_action_space  # (K, A) joint targets: the normaliser spans the joint limits
            normalizer = ActionNormalizer(torch.as_tensor(space.low[0]), torch.as_tensor(space.high[0]))
            torch.manual_seed(seed)
            config = policy_config(policy_preset, space.shape[1], n_action_steps=space.shape[0])
            policy = BCPolicy(bundle.robot, config, normalizer).to(env.device)
        agent = LoRAActorCritic(policy).to(env.device)
        ppo = PPOConfig(
            num_envs=num_envs, num_steps=num_steps, minibatch_size=minibatch_size, update_epochs=update_epochs,
            iterations=iterations + 1, target_kl=None, seed=seed,
        )  # fmt: skip
        optimizers = make_optimizers(agent, ppo)
        collector = RolloutCollector(env, agent, num_steps, ppo.gamma, seed=seed)
        before = [p.detach().clone() for p in agent.parameters() if p.requires_grad]
        rows = []
        for iteration in range(1, iterations + 2):
            collector.timings = {"policy": 0.0, "world_model": 0.0}
            synchronize(env.device)
            start = time.perf_counter()
            rollout = collector.collect()
            synchronize(env.device)
            middle = time.perf_counter()
            ppo_update(agent, agent, optimizers, rollout, ppo, iteration)
            synchronize(env.device)
            end = time.perf_counter()
            rows.append(
                {
                    "rollout_s": middle - start,
                    "policy_s": collector.timings["policy"],
                    "world_model_s": collector.timings["world_model"],
                    "update_s": end - middle,
                }
            )
        timed = rows[1:]  # the first iteration warms up kernels and allocators
        mean = {
            k: sum(r[k] for r in timed) / len(timed) for k in ("rollout_s", "policy_s", "world_model_s", "update_s")
        }
        total = mean["rollout_s"] + mean["update_s"]
        after = [p.detach() for p in agent.parameters() if p.requires_grad]
        change = sum((a - b).abs().sum().item() for a, b in zip(after, before)) / sum(b.numel() for b in before)
        peak = peak_memory_mb(env.device)
        return {
            **mean,
            "iteration_s": total,
            "chunk_steps_per_s": num_envs * num_steps / total,
            "num_envs": num_envs,
            "num_steps": num_steps,
            "minibatch_size": minibatch_size,
            "update_epochs": update_epochs,
            "iterations_timed": len(timed),
            "policy_preset": "trained BC" if bc else policy_preset,
            "euler_steps": env.euler_steps,
            "image_size": env.stack.image_size,
            "device": str(env.device),
            "peak_mem_mb": peak,
            "trainable_mean_abs_change": change,  # > 0: the updates moved the LoRA adapters and heads
        }
    finally:
        env.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_bundle_args(parser)
    parser.add_argument("--policy-preset", default="cpu", choices=["tiny", "cpu", "paper"])
    parser.add_argument("--bc", default=None, help="a trained BC policy folder instead of a random one")
    parser.add_argument("--num-envs", type=int, default=112)
    parser.add_argument("--num-steps", type=int, default=4)
    parser.add_argument("--minibatch-size", type=int, default=224)
    parser.add_argument("--update-epochs", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=2, help="timed iterations, after one warm-up")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()

    bundle, device, source = bundle_from_args(args)
    r = measure_ppo(
        bundle, str(device), args.num_envs, args.num_steps, args.minibatch_size, args.update_epochs, args.iterations,
        args.policy_preset, args.bc,
    )  # fmt: skip
    print(json.dumps(r), flush=True)
    print(
        f"\n## One PPO iteration in RLAWorldModel-v0 ({source}, {r['image_size']} px, {r['euler_steps']} Euler "
        f"step(s); {r['policy_preset']} policy; {r['num_envs']} envs x {r['num_steps']} decisions, {r['update_epochs']} "
        f"epochs of minibatch {r['minibatch_size']}; on {r['device']})\n"
    )
    print(
        "| rollout (s) | of it: policy | of it: world model | update (s) | iteration (s) | chunk steps/s trained "
        "| peak mem (MB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {r['rollout_s']:.2f} | {r['policy_s']:.2f} | {r['world_model_s']:.2f} | {r['update_s']:.2f} "
        f"| {r['iteration_s']:.2f} | {r['chunk_steps_per_s']:.1f} | {r['peak_mem_mb']:.0f} |"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"bundle": source, **r}, indent=2))


if __name__ == "__main__":
    main()
