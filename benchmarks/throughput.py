"""World-model env throughput against ManiSkill, in the same run, and whether the speed target is met.

For each precision and num_envs: RLAWorldModel-v0's chunk steps per second and its simulator-step equivalents
(chunk steps x K) per second; then ManiSkill's RGB env of the same robot, task and resolution at the same num_envs
(`benchmarks.sim_throughput.measure_sim_fps`: one process per env, ManiSkill's CPU backend holds one env per
process), the ratio, and the target: at least 20x ManiSkill at num_envs 8 with the bundle's own Euler steps.
The default bundle is the shipped one (`models/ur10e-RollBall-cpu`: CPU preset, 64 px, 1 Euler step); speed does
not depend on what the weights learned, so `--random-preset` measures a preset without a trained bundle.

    source scripts/sim_env.sh && python -m benchmarks.throughput        # shipped bundle, num_envs 1 8 32
    python -m benchmarks.throughput --threads 1 --precision default bfloat16 --num-envs 8
    python -m benchmarks.throughput --random-preset paper --num-envs 112 --device cuda --no-sim   # on a GPU

`--precision bfloat16` runs the models under bf16 autocast (`WorldModelEnvConfig.precision`); on a CPU it pays only
where the CPU has AVX512-BF16 or AMX, and only at batch 8 and up. On a busy machine pass `--threads 1`: torch's
OpenMP threads stall when other jobs hold the cores (2 threads once gave 2.7 chunk steps/s where 1 thread gave 55).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from rla_gym.models.device import synchronize

TARGET_RATIO, TARGET_ENVS = 20.0, 8  # the target: >= 20x ManiSkill at num_envs 8, bundle's Euler steps


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def measure_world_model(
    bundle,
    num_envs: int,
    steps: int,
    device: str,
    euler_steps: int | None,
    *,
    precision: str | None = None,
    threads: int | None = None,
) -> dict[str, float]:
    """Chunk steps per second of `gym.make_vec("RLAWorldModel-v0", num_envs, bundle=bundle)` over `steps` timed
    steps (after one warm-up step), random actions inside the joint limits. `euler_steps` None: the bundle's;
    `precision` None: the device's default; `threads`: torch threads while timing (None: as set)."""
    import gymnasium as gym

    import rla_gym  # noqa: F401

    with torch_threads(threads):
        env = gym.make_vec(
            "RLAWorldModel-v0",
            num_envs=num_envs,
            vectorization_mode="vector_entry_point",
            robot=bundle.robot,
            bundle=bundle,
            device=device,
            euler_steps=euler_steps,
            precision=precision,
        )
        try:
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
            step_s = []
            for i in range(steps):
                synchronize(env.device)
                start = time.perf_counter()
                env.step(actions[i % 4])
                synchronize(env.device)
                step_s.append(time.perf_counter() - start)
            rate = steps * num_envs / sum(step_s)
            return {
                "chunk_steps_per_s": rate,
                "sim_step_equivalents_per_s": rate * env.cfg.chunk_size,
                "step_ms": 1e3 * sum(step_s) / steps,  # one step of all num_envs worlds
                "step_ms_median": 1e3 * statistics.median(step_s),
                "peak_mem_mb": peak_memory_mb(env.device),
                "device": str(env.device),
                "image_size": env.stack.image_size,
                "euler_steps": env.euler_steps,
                "precision": precision or "default",
                "threads": torch.get_num_threads(),
            }
        finally:
            env.close()


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """torch's intra-op threads set to `threads` inside (None: left as they are), restored after."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def target_verdict(rows: list[dict]) -> list[str]:
    """One line per precision: is the world model >= TARGET_RATIO x ManiSkill at TARGET_ENVS envs?"""
    lines = []
    for r in rows:
        if r["num_envs"] != TARGET_ENVS:
            continue
        what = f"{r['precision']} precision, {r['euler_steps']} Euler step(s)"
        if "ratio" not in r:
            lines.append(f"target not judged ({what}): ManiSkill not measured ({r.get('maniskill_error', 'skipped')})")
            continue
        met = "met" if r["ratio"] >= TARGET_RATIO else "NOT met"
        lines.append(
            f"target >= {TARGET_RATIO:.0f}x ManiSkill at num_envs {TARGET_ENVS} ({what}): {met}, {r['ratio']:.1f}x"
        )
    if not lines:
        lines.append(f"target not judged: num_envs {TARGET_ENVS} was not measured")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--robot", default="ur10e")
    parser.add_argument("--task", default="RollBall")
    parser.add_argument("--bundle", default=None, help="bundle folder (default: the robot and task's shipped one)")
    parser.add_argument("--random-preset", default=None, choices=["tiny", "cpu", "paper"], help="random weights")
    parser.add_argument("--num-envs", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--precision",
        nargs="+",
        default=["default", "bfloat16"],
        choices=["default", "float32", "bfloat16"],
        help="model precisions to time (default: the device's default, fp32 on CPU; and bf16 autocast)",
    )
    parser.add_argument("--steps", type=int, default=20, help="timed chunk steps per configuration")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch threads for the world model (default: all)")
    parser.add_argument("--euler-steps", type=int, default=None, help="default: the bundle's")
    parser.add_argument("--sim-steps", type=int, default=100, help="timed ManiSkill steps per env")
    parser.add_argument(
        "--sim-num-envs", type=int, nargs="+", default=None, help="ManiSkill's num_envs (default: --num-envs)"
    )
    parser.add_argument("--no-sim", action="store_true", help="skip the ManiSkill side")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()

    from rla_gym.models.device import resolve_device

    device = resolve_device(args.device)
    if args.random_preset:
        from rla_gym.models.random_bundle import make_random_bundle

        bundle = make_random_bundle(args.robot, args.random_preset, episodes=4, length=40, seed=0, task=args.task)
        source = f"random {args.random_preset} preset"
    else:
        from rla_gym.envs.bundles import resolve_bundle

        bundle = resolve_bundle(args.bundle, args.robot, args.task, device)
        source = str(bundle.path)
    load_before = os.getloadavg()[0]
    # all world-model runs first: ManiSkill's worker processes must not share the cores while they are timed
    rows = []
    for precision in args.precision:
        for n in args.num_envs:
            wm = measure_world_model(
                bundle,
                n,
                args.steps,
                str(device),
                args.euler_steps,
                precision=None if precision == "default" else precision,
                threads=args.threads,
            )
            rows.append({"num_envs": n, **wm})
            print(f"world model, {precision}, num_envs {n}: {json.dumps(rows[-1])}", flush=True)
    if not args.no_sim:
        from benchmarks.sim_throughput import measure_sim_fps

        size = rows[0]["image_size"]
        for n in args.num_envs:
            if args.sim_num_envs is not None and n not in args.sim_num_envs:
                for row in rows:
                    if row["num_envs"] == n:
                        row["maniskill_error"] = f"not measured at {n} envs (--sim-num-envs)"
                continue
            try:
                sim, error = measure_sim_fps(args.robot, args.task, n, args.sim_steps, size), None
            except Exception as err:  # report the gap instead of hiding it
                sim, error = None, f"{type(err).__name__}: {err}"
            print(f"ManiSkill, num_envs {n}: {sim if error is None else error}", flush=True)
            for row in rows:
                if row["num_envs"] == n:
                    if error is None:
                        row["maniskill_steps_per_s"] = sim
                        row["ratio"] = row["sim_step_equivalents_per_s"] / sim
                    else:
                        row["maniskill_error"] = error

    first = rows[0]
    machine = f"{os.cpu_count()} CPUs, load average {load_before:.1f} at the start"
    print(
        f"\n## RLAWorldModel-v0 ({source}, {first['image_size']} px, {first['euler_steps']} Euler step(s), K = 8, "
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
