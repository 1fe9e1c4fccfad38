"""Recipe: Stable-Baselines3 PPO inside the world model, then (optionally) a look at its rollouts.

    python agents/sb3_ppo.py --bundle DIR --num-envs 8 --timesteps 20000

Copy and edit: hyper-parameters sit in one dataclass, defaults from the paper where it gives them
(gamma 0.9, GAE lambda 0.95, lr 1e-4, clip 0.2, target KL 0.1)."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import VecMonitor

import rla_gym  # noqa: F401  (registers RLAWorldModel-v0)
from rla_gym.envs.sb3 import SB3VecEnv
from rla_gym.envs.video import record_rollout


@dataclass
class Args:
    bundle: str | None = None  # None: the embedded default in models/
    robot: str = "ur10e"
    num_envs: int = 8
    timesteps: int = 20_000  # chunk steps
    n_steps: int = 4  # chunk decisions per env per rollout (paper: 4)
    batch_size: int = 32
    n_epochs: int = 4
    gamma: float = 0.9
    gae_lambda: float = 0.95
    learning_rate: float = 1e-4
    clip_range: float = 0.2
    target_kl: float = 0.1
    seed: int = 1
    device: str = "auto"
    out: str = "runs/sb3_ppo"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name, value in vars(Args()).items():
        parser.add_argument(
            f"--{name.replace('_', '-')}", type=type(value) if value is not None else str, default=value
        )
    args = Args(**vars(parser.parse_args()))

    env = gym.make_vec(
        "RLAWorldModel-v0",
        num_envs=args.num_envs,
        vectorization_mode="vector_entry_point",
        robot=args.robot,
        bundle=args.bundle,
        device=args.device,
    )
    venv = VecMonitor(SB3VecEnv(env), info_keywords=("is_success",))
    model = PPO(
        "CnnPolicy",
        venv,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        n_epochs=args.n_epochs,
        gamma=args.gamma,
        gae_lambda=args.gae_lambda,
        learning_rate=args.learning_rate,
        clip_range=args.clip_range,
        target_kl=args.target_kl,
        seed=args.seed,
        verbose=1,
        device=args.device,
    )
    model.learn(args.timesteps, progress_bar=True)
    out = Path(args.out)
    model.save(out / "model")
    policy = lambda obs: model.predict(obs.cpu().numpy(), deterministic=True)[0]  # noqa: E731
    print("video:", record_rollout(env, out / "rollout.mp4", policy=policy, steps=12))


if __name__ == "__main__":
    main()
