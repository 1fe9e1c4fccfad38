"""ManiSkill throughput: rendered frames per second for the five tasks, 1 env and N envs, on this machine.

The ground truth the world-model env is compared against. Frames are the front camera at the
recorded resolution; actions are smooth joint-target wiggles around the rest pose, so the robot
moves and touches nothing in particular. One env runs in this process; N envs run as a gymnasium
`AsyncVectorEnv` of N processes (the CPU simulator holds one env per process), each returning only
its RGB frame. Env creation and a few warm-up steps are not timed.

    python -m benchmarks.sim_throughput [--size 128] [--steps 200] [--num-envs 1 8] [--json out.json]

Another benchmark imports `measure_sim_fps(robot, task, num_envs, steps, size)`.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

WARMUP_STEPS = 5


def _wiggle(spec, step: int, phase: np.ndarray) -> np.ndarray:
    """Rest-pose joint targets plus a slow sinusoid per joint (gripper open): (action_dim,) float32."""
    action = np.array(spec.rest_qpos[: spec.action_dim], dtype=np.float64)
    arm = spec.arm_dof
    action[:arm] += 0.15 * np.sin(0.2 * step + phase[:arm])
    if spec.name == "panda":
        action[7] = 0.04
    return np.clip(action, spec.action_low, spec.action_high).astype(np.float32)


def _single_thread() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


def _make_rgb_env(robot: str, task: str, size: int):
    """A sim env whose observation is just the front camera's frame (for the vector env's shared memory)."""
    _single_thread()
    import gymnasium as gym

    from rla_gym.sim.make import make_sim_env, rgb_frames
    from rla_gym.specs.robots import get_robot

    class RGBOnly(gym.Wrapper):
        def __init__(self, env):
            super().__init__(env)
            spec = get_robot(robot)
            self.observation_space = gym.spaces.Box(0, 255, (size, size, 3), np.uint8)
            self.action_space = gym.spaces.Box(
                np.array(spec.action_low, np.float32), np.array(spec.action_high, np.float32)
            )

        def reset(self, **kwargs):
            obs, info = self.env.reset(**kwargs)
            return rgb_frames(obs)[0], {}

        def step(self, action):
            obs, reward, terminated, truncated, info = self.env.step(action)
            return rgb_frames(obs)[0], float(reward.item()), bool(terminated.item()), bool(truncated.item()), {}

    return RGBOnly(make_sim_env(robot, task, size=size))


def measure_sim_fps(robot: str, task: str, num_envs: int = 1, steps: int = 200, size: int = 128) -> float:
    """Rendered frames per second (env steps x num_envs / s) of `task` with `robot` at `size` px."""
    from rla_gym.specs.robots import get_robot

    spec = get_robot(robot)
    phase = np.random.default_rng(0).uniform(0, 2 * np.pi, (max(num_envs, 1), spec.action_dim))
    if num_envs == 1:
        import torch

        threads = torch.get_num_threads()  # restored below: a caller may time torch work next
        _single_thread()
        from rla_gym.sim.make import make_sim_env

        env = make_sim_env(robot, task, size=size, seed=0)
        try:
            for i in range(WARMUP_STEPS):
                env.step(_wiggle(spec, i, phase[0]))
            start = time.perf_counter()
            for i in range(steps):
                *_, terminated, truncated, _ = env.step(_wiggle(spec, i, phase[0]))
                if bool(terminated) or bool(truncated):  # as the vector env's autoreset does
                    env.reset()
            return steps / (time.perf_counter() - start)
        finally:
            env.close()
            torch.set_num_threads(threads)
    from gymnasium.vector import AsyncVectorEnv

    factory = functools.partial(_make_rgb_env, robot, task, size)
    envs = AsyncVectorEnv([factory] * num_envs, context="spawn", autoreset_mode="SameStep")
    try:
        envs.reset(seed=0)

        def batch(i: int) -> np.ndarray:
            return np.stack([_wiggle(spec, i, phase[k]) for k in range(num_envs)])

        for i in range(WARMUP_STEPS):
            envs.step(batch(i))
        start = time.perf_counter()
        for i in range(steps):
            envs.step(batch(i))
        return steps * num_envs / (time.perf_counter() - start)
    finally:
        envs.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=128, help="front camera pixels (the recorded resolution)")
    parser.add_argument("--steps", type=int, default=200, help="timed steps per measurement")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--tasks", nargs="+", default=None, help="default: all five")
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here as JSON")
    args = parser.parse_args()

    from rla_gym.specs.tasks import TASKS

    tasks = args.tasks or list(TASKS)
    rows = []
    for name in tasks:
        task = TASKS[name]
        for n in args.num_envs:
            fps = measure_sim_fps(task.robot, name, n, args.steps, args.size)
            rows.append({"task": name, "robot": task.robot, "num_envs": n, "fps": round(fps, 2)})
            print(f"{name:13s} {task.robot:14s} envs={n}: {fps:7.1f} frames/s", flush=True)
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs"
    print(f"\nManiSkill frames/s at {args.size} px ({machine}, {args.steps} timed steps)\n")
    print("| task | robot | " + " | ".join(f"{n} env{'s' if n > 1 else ''}" for n in args.num_envs) + " |")
    print("|---|---|" + "---:|" * len(args.num_envs))
    for name in tasks:
        fps = {r["num_envs"]: r["fps"] for r in rows if r["task"] == name}
        print(f"| {name} | {TASKS[name].robot} | " + " | ".join(f"{fps[n]:.1f}" for n in args.num_envs) + " |")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {"size": args.size, "steps": args.steps, "machine": machine, "results": rows}
        args.json.write_text(json.dumps(payload, indent=2))
        print(f"\nwrote {args.json}")


if __name__ == "__main__":
    main()
