"""World-model env throughput against ManiSkill, in the same run, and whether the speed target is met.

Per precision and num_envs: RLAWorldModel-v0's chunk steps and simulator-step equivalents (chunk steps x K) per
second, ManiSkill's RGB env of the same robot, task and resolution at the same num_envs (one process per env), the
ratio, and the target (at least 20x ManiSkill at num_envs 8, the bundle's Euler steps). The measurements are
`rla_gym.eval.speed`'s, as in the report's speed section; this script is a command line and a table. Speed does not
depend on what the weights learned: `--random-preset` measures a preset without a trained bundle.

    source scripts/sim_env.sh && python -m benchmarks.throughput        # shipped bundle, num_envs 1 8 32
    python -m benchmarks.throughput --threads 1 --precision default bfloat16 --num-envs 8
    python -m benchmarks.throughput --random-preset paper --num-envs 112 --device cuda --no-sim   # on a GPU

bf16 autocast pays on a CPU only with AVX512-BF16 or AMX, and only at batch 8 and up. On a busy machine pass
`--threads 1`: torch's threads stall when other jobs hold the cores (2 threads once gave 2.7 chunk steps/s, 1 gave 55).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from benchmarks.bundle_choice import add_bundle_args, bundle_from_args
from rla_gym.envs.config import WorldModelEnvConfig
from rla_gym.eval.speed import TARGET_ENVS, TARGET_RATIO, add_maniskill, target, world_model_rows


def target_verdict(rows: list[dict]) -> list[str]:
    """One line per precision: is the world model >= TARGET_RATIO x ManiSkill at TARGET_ENVS envs?"""
    lines = []
    for r in rows:
        if r["num_envs"] != TARGET_ENVS:
            continue
        what = f"{r['precision']} precision, {r['euler_steps']} Euler step(s)"
        verdict = target(r)
        if verdict["met"] is None:
            lines.append(f"target not judged ({what}): ManiSkill not measured ({r.get('maniskill_error', 'skipped')})")
            continue
        met = "met" if verdict["met"] else "NOT met"
        lines.append(
            f"target >= {TARGET_RATIO:.0f}x ManiSkill at num_envs {TARGET_ENVS} ({what}): {met}, {r['ratio']:.1f}x"
        )
    if not lines:
        lines.append(f"target not judged: num_envs {TARGET_ENVS} was not measured")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_bundle_args(parser, task_default="RollBall")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--precision",
        nargs="+",
        default=["default", "bfloat16"],
        choices=["default", "float32", "bfloat16"],
        help="model precisions to time (default: the device's default, fp32 on CPU; and bf16 autocast)",
    )
    parser.add_argument("--steps", type=int, default=20, help="timed chunk steps per configuration")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for the world model (default: all)")
    parser.add_argument("--euler-steps", type=int, default=None, help="default: the bundle's")
    parser.add_argument("--sim-steps", type=int, default=100, help="timed ManiSkill steps per env")
    parser.add_argument(
        "--sim-num-envs", type=int, nargs="+", default=None, help="ManiSkill's num_envs (default: --num-envs)"
    )
    parser.add_argument("--no-sim", action="store_true", help="skip the ManiSkill side")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()

    bundle, device, source = bundle_from_args(args)
    load_before = os.getloadavg()[0]
    # all world-model runs first (rla_gym.eval.speed): ManiSkill's processes must not share the cores meanwhile
    precisions = tuple(None if p == "default" else p for p in args.precision)
    measured = world_model_rows(
        bundle, args.num_envs, args.steps, str(device), args.euler_steps, precisions=precisions, threads=args.threads
    )
    for row in measured:
        flat = {"num_envs": row["num_envs"], **row["wm"]}
        print(f"world model, {flat['precision']}, num_envs {row['num_envs']}: {json.dumps(flat)}", flush=True)
    if not args.no_sim:
        add_maniskill(
            measured, args.robot, args.task, args.sim_steps, sim_num_envs=args.sim_num_envs, skipped="--sim-num-envs"
        )
        for n in dict.fromkeys(args.num_envs):
            row = next(r for r in measured if r["num_envs"] == n)
            if args.sim_num_envs is None or n in args.sim_num_envs:
                print(f"ManiSkill, num_envs {n}: {row.get('maniskill_steps_per_s', row.get('maniskill_error'))}")
    rows = [
        {"num_envs": r["num_envs"], **r["wm"], **{k: v for k, v in r.items() if k not in ("num_envs", "wm")}}
        for r in measured
    ]

    first = rows[0]
    machine = f"{os.cpu_count()} CPUs, load average {load_before:.1f} at the start"
    print(
        f"\n## RLAWorldModel-v0 ({source}, {first['image_size']} px, {first['euler_steps']} Euler step(s), "
        f"K = {WorldModelEnvConfig.chunk_size}, "
        f"{first['threads']} torch thread(s)) vs ManiSkill {args.task} ({args.robot}), on {first['device']} "
        f"({machine})\n"
    )
    if load_before > (os.cpu_count() or 1):
        print("The machine was busy: both sides run slower than idle, and torch with several threads can stall.\n")
    print(
        "| num_envs | precision | WM chunk steps/s | WM sim-step equiv./s | ManiSkill steps/s | ratio (WM / ManiSkill) "
        "| peak mem (MB) |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|")
    for r in rows:
        sim = r.get("maniskill_steps_per_s")
        ratio = f"{r['ratio']:.1f}x" if "ratio" in r else r.get("maniskill_error", "not run")[:60]
        sim_s = f"{sim:.1f}" if sim else "-"
        print(
            f"| {r['num_envs']} | {r['precision']} | {r['chunk_steps_per_s']:.1f} | {r['sim_step_equivalents_per_s']:.0f} "
            f"| {sim_s} | {ratio} | {r['peak_mem_mb']:.0f} |"
        )
    print()
    for line in target_verdict(rows):
        print(line)
    if args.json:
        Path(args.json).write_text(json.dumps({"bundle": source, "machine": machine, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
