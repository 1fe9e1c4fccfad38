"""World-model env throughput against ManiSkill, in the same run.

For each num_envs: RLAWorldModel-v0 chunk steps per second, the simulator-step equivalents (chunk
steps x K) per second, and peak memory; then ManiSkill's RGB env of the same robot, task and
resolution at the same num_envs (one process per env: ManiSkill's CPU backend holds one env per
process), and the ratio. Random weights: speed does not depend on what the weights learned.

    python -m benchmarks.throughput                       # CPU preset, num_envs 1 8 32
    python -m benchmarks.throughput --preset paper --num-envs 112 --device cuda --no-sim   # on a GPU
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import torch


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure_world_model(bundle, num_envs: int, steps: int, device: str, euler_steps: int | None) -> dict[str, float]:
    import gymnasium as gym

    import rla_gym  # noqa: F401

    env = gym.make_vec(
        "RLAWorldModel-v0",
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        robot=bundle.robot,
        bundle=bundle,
        device=device,
        euler_steps=euler_steps,
    )
    if env.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(env.device)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    actions = [
        torch.as_tensor(
            rng.uniform(env.action_space.low, env.action_space.high), dtype=torch.float32, device=env.device
        )
        for _ in range(4)
    ]
    env.step(actions[0])  # warm-up
    if env.device.type == "cuda":
        torch.cuda.synchronize(env.device)
    start = time.perf_counter()
    for i in range(steps):
        env.step(actions[i % 4])
    if env.device.type == "cuda":
        torch.cuda.synchronize(env.device)
    elapsed = time.perf_counter() - start
    rate = steps * num_envs / elapsed
    out = {
        "chunk_steps_per_s": rate,
        "sim_step_equivalents_per_s": rate * env.cfg.chunk_size,
        "peak_mem_mb": peak_memory_mb(env.device),
        "device": str(env.device),
        "image_size": env.stack.image_size,
        "euler_steps": env.euler_steps,
    }
    env.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--robot", default="ur10e")
    parser.add_argument("--task", default="RollBall")
    parser.add_argument("--preset", default="cpu", choices=["tiny", "cpu", "paper"])
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--steps", type=int, default=20, help="timed chunk steps per configuration")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--euler-steps", type=int, default=None, help="default: the preset's (paper 30, cpu 4)")
    parser.add_argument("--sim-steps", type=int, default=100, help="timed ManiSkill steps per env")
    parser.add_argument("--no-sim", action="store_true", help="skip the ManiSkill side")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()

    from rla_gym.models.random_bundle import make_random_bundle

    bundle = make_random_bundle(args.robot, args.preset, episodes=4, length=40, seed=0, task=args.task)
    # all world-model runs first: ManiSkill's worker processes must not share the cores while they are timed
    rows = [
        {"num_envs": n, **measure_world_model(bundle, n, args.steps, args.device, args.euler_steps)}
        for n in args.num_envs
    ]
    for row in rows:
        print(f"world model, num_envs {row['num_envs']}: {json.dumps(row)}", flush=True)
    if not args.no_sim:
        for row in rows:
            try:
                from benchmarks.sim_throughput import measure_sim_fps

                row["maniskill_steps_per_s"] = measure_sim_fps(
                    args.robot, args.task, row["num_envs"], args.sim_steps, row["image_size"]
                )
            except Exception as err:  # report the gap instead of hiding it
                row["maniskill_error"] = f"{type(err).__name__}: {err}"
            print(
                f"ManiSkill, num_envs {row['num_envs']}: {row.get('maniskill_steps_per_s', row.get('maniskill_error'))}"
            )

    print(
        f"\n## RLAWorldModel-v0 ({args.preset} preset, {rows[0]['image_size']} px, {rows[0]['euler_steps']} Euler "
        f"steps, K=8) vs ManiSkill {args.task} ({args.robot}), on {rows[0]['device']}"
    )
    print(
        "| num_envs | WM chunk steps/s | WM sim-step equiv./s | ManiSkill steps/s | ratio (WM equiv. / ManiSkill) | peak mem (MB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        sim = r.get("maniskill_steps_per_s")
        ratio = f"{r['sim_step_equivalents_per_s'] / sim:.2f}x" if sim else r.get("maniskill_error", "not run")[:60]
        sim_s = f"{sim:.1f}" if sim else "-"
        print(
            f"| {r['num_envs']} | {r['chunk_steps_per_s']:.1f} | {r['sim_step_equivalents_per_s']:.0f} | {sim_s} | "
            f"{ratio} | {r['peak_mem_mb']:.0f} |"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
