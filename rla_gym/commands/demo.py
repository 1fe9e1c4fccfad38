"""Run the main job on the embedded default: world-model env throughput, a demo-replay video, a short SB3 PPO run.

The bundle is `--bundle`, else the robot's trained bundle in `models/` (ur10e: `ur10e-RollBall-cpu`). A robot with
no bundle there runs on a random-weight CPU-preset bundle made on the spot, and says so: the pipeline is real, its
pictures and rewards are not meaningful."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from rla_gym.args import bundle_source, device, non_negative_int, out_dir, positive_int
from rla_gym.specs.robots import ROBOTS

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--robot", default="ur10e", choices=sorted(ROBOTS))
    parser.add_argument(
        "--bundle", type=bundle_source, default=None, help="bundle folder or hub id (default: the embedded default)"
    )
    parser.add_argument("--num-envs", type=positive_int, default=8)
    parser.add_argument("--ppo-steps", type=positive_int, default=1024, help="SB3 PPO timesteps (chunk steps)")
    parser.add_argument("--out", type=out_dir, default="out/demo", help="folder for the video and the PPO model")
    parser.add_argument("--device", type=device, default="auto", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--seed", type=non_negative_int, default=0)


def run(args: argparse.Namespace) -> int:
    import gymnasium as gym
    import torch
    from stable_baselines3 import PPO

    import rla_gym  # noqa: F401
    from rla_gym.envs.sb3 import SB3VecEnv
    from rla_gym.envs.video import record_rollout
    from rla_gym.models.zoo import default_bundle_path

    out = Path(args.out)
    bundle = args.bundle or default_bundle_path(args.robot, None)
    if bundle is None:
        from rla_gym.models.random_bundle import make_random_bundle

        print(
            f"NOTE: no trained default bundle for {args.robot} in models/. Running the whole pipeline on a RANDOM-weight "
            "CPU-preset bundle with synthetic demos: observations and rewards are not meaningful."
        )
        bundle = make_random_bundle(args.robot, "cpu", episodes=8, length=32, seed=args.seed)
    env = gym.make_vec(
        "RLAWorldModel-v0",
        num_envs=args.num_envs,
        vectorization_mode="vector_entry_point",
        robot=args.robot,
        bundle=bundle,
        device=args.device,
    )
    print(f"env: {args.num_envs} worlds on {env.device}, {env.stack.image_size}px, {env.euler_steps} Euler steps")
    env.reset(seed=args.seed)
    start, n = time.perf_counter(), 20
    for _ in range(n):
        env.step(env.action_space.sample())
    rate = n * args.num_envs / (time.perf_counter() - start)
    print(f"random actions: {rate:.1f} chunk steps/s ({rate * env.cfg.chunk_size:.0f} simulator-step equivalents/s)")

    video = record_rollout(env, out / "rollout_demo_replay.mp4", policy=lambda obs: env.demo_actions(), seed=args.seed)
    print(f"video (prediction | demo frame, replaying the demo's own joint targets): {video}")

    torch.manual_seed(args.seed)
    model = PPO("CnnPolicy", SB3VecEnv(env), n_steps=32, batch_size=64, n_epochs=2, seed=args.seed, verbose=0)
    start = time.perf_counter()
    model.learn(args.ppo_steps, progress_bar=False)
    print(f"SB3 PPO: {args.ppo_steps} chunk steps in {time.perf_counter() - start:.1f}s")
    model.save(out / "ppo_world_model")
    print(f"saved {out / 'ppo_world_model.zip'}")
    env.close()
    return 0
