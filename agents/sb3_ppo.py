"""Recipe: Stable-Baselines3 PPO inside the world model, then scored in real ManiSkill.

    python agents/sb3_ppo.py --num-envs 8 --timesteps 20000          # the embedded default bundle

Trains SB3's `CnnPolicy` on `RLAWorldModel-v0` (no simulator step), writes a rollout video of the world model,
then evaluates the policy in ManiSkill with the same function as `rla-gym wmrl` (`rla_gym.sim.evaluate`): each
sim frame goes through the bundle's encoder and UNet first, so the policy sees the kind of image it trained on.

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
from rla_gym.data.video import resize_frames
from rla_gym.envs.sb3 import SB3VecEnv
from rla_gym.envs.video import record_rollout
from rla_gym.sim.evaluate import evaluate, stack_preprocess
from rla_gym.specs.seeds import SELECTION_SEEDS


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
    task: str = "RollBall"
    eval_first_seed: int = SELECTION_SEEDS.start  # ManiSkill seeds eval_first_seed .. + eval_episodes - 1 (42-91)
    eval_episodes: int = 10  # 0: skip the ManiSkill evaluation
    eval_max_steps: int = 0  # 0: the task's episode length


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
        task=args.task,
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
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model")
    policy = lambda obs: model.predict(obs.cpu().numpy(), deterministic=True)[0]  # noqa: E731
    print("video:", record_rollout(env, out / "rollout.mp4", policy=policy, steps=12))
    if args.eval_episodes > 0:
        # the same evaluation as rla-gym wmrl: one (K, A) chunk of joint targets per (preprocessed) sim frame,
        # resized to the world model's image size that the CNN was trained on
        size = env.stack.image_size
        result = evaluate(
            lambda rgb, qpos: model.predict(resize_frames(rgb[None], size)[0], deterministic=True)[0],
            args.robot,
            args.task,
            seeds=range(args.eval_first_seed, args.eval_first_seed + args.eval_episodes),
            neural_preprocess=stack_preprocess(env.stack),
            max_steps=args.eval_max_steps or None,
            progress=True,
        )
        print("ManiSkill:", result.summary())


if __name__ == "__main__":
    main()
