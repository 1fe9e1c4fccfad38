"""ManiSkill throughput: rendered frames per second for the five tasks, 1 env and N envs, on this machine.

The ground truth the world-model env is compared against: front-camera frames at the recorded resolution, smooth
joint-target wiggles around the rest pose; N envs run as an `AsyncVectorEnv` of N processes. Measured by
`rla_gym.eval.speed.measure_sim_fps` (env creation and warm-up not timed); this script tabulates it.

    python -m benchmarks.sim_throughput [--size 128] [--steps 200] [--num-envs 1 8] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from rla_gym.eval.speed import measure_sim_fps


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
