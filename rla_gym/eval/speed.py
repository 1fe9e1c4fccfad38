"""Speed, measured once: the world-model env against ManiSkill in the same run, and the speed target.

    rows = world_model_rows(bundle, (1, 8, 32), steps=20, device="cpu")      # [{"num_envs": n, "wm": {...}}, ...]
    add_maniskill(rows, bundle.robot, "RollBall", steps=100)                 # + "maniskill_steps_per_s", "ratio"
    target(next(r for r in rows if r["num_envs"] == TARGET_ENVS))             # >= 20x ManiSkill at num_envs 8?

The world model's rate is chunk steps per second of `gym.make_vec("RLAWorldModel-v0", num_envs, bundle=...)`
and, times K, simulator-step equivalents per second. ManiSkill's is rendered frames per second of its RGB env of
the same robot, task and resolution (`measure_sim_fps`: one process per env, the CPU backend holds one env per
process). A ratio exists only where both sides were measured in this run; a ManiSkill failure is recorded in the
row, never replaced by a number. Every world-model run comes first: ManiSkill's worker processes must not share
the cores while the world model is timed. `benchmarks/speed.py` (the report's section), `benchmarks/throughput.py`
and `benchmarks/sim_throughput.py` are presets, tables and plots around these functions; `run_speed` is the
report's whole speed section (rows, the time split of a step, fewer Euler steps, the target).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import resource
import statistics
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch

from rla_gym.models.bundle import Bundle
from rla_gym.models.device import synchronize

log = logging.getLogger(__name__)

TARGET_RATIO, TARGET_ENVS = 20.0, 8  # the target: >= 20x ManiSkill at num_envs 8, bundle's Euler steps
SIM_WARMUP_STEPS = 5  # untimed ManiSkill steps after env creation
# ManiSkill as a user runs it: plain resets (make_sim_env rebuilds the scene at every reset, ~0.2 s, so that our
# evaluations do not depend on episode order; the speed baseline is not charged for that choice)
SIM_RECONFIGURATION = 0

MeasureSim = Callable[[str, str, int, int, int], float]  # (robot, task, num_envs, steps, size) -> steps/s


# ---------------------------------------------------------------------------------------------- world model
def peak_memory_mb(device: torch.device) -> float:
    """CUDA: the peak allocated on `device`; CPU: this process's peak resident set so far (it only grows)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


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

    import rla_gym  # noqa: F401  (registers the env)

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


def world_model_rows(
    bundle,
    num_envs: tuple[int, ...] | list[int],
    steps: int,
    device: str,
    euler_steps: int | None = None,
    *,
    precisions: tuple[str | None, ...] = (None,),
    threads: int | None = None,
) -> list[dict]:
    """One row `{"num_envs": n, "wm": measure_world_model(...)}` per precision and num_envs, in that order."""
    rows = []
    for precision in precisions:
        for n in num_envs:
            wm = measure_world_model(bundle, n, steps, device, euler_steps, precision=precision, threads=threads)
            log.info("world model, %d envs: %.0f sim-step equivalents/s", n, wm["sim_step_equivalents_per_s"])
            rows.append({"num_envs": n, "wm": wm})
    return rows


# ---------------------------------------------------------------------------------------------- ManiSkill
def _wiggle(spec, step: int, phase: np.ndarray) -> np.ndarray:
    """Rest-pose joint targets plus a slow sinusoid per joint (gripper open): (action_dim,) float32."""
    action = np.array(spec.rest_qpos[: spec.action_dim], dtype=np.float64)
    arm = spec.arm_dof
    action[:arm] += 0.15 * np.sin(0.2 * step + phase[:arm])  # the gripper keeps its rest value (open)
    return np.clip(action, spec.action_low, spec.action_high).astype(np.float32)


def _single_thread() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
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

    return RGBOnly(make_sim_env(robot, task, size=size, reconfiguration_freq=SIM_RECONFIGURATION))


def measure_sim_fps(robot: str, task: str, num_envs: int = 1, steps: int = 200, size: int = 128) -> float:
    """Rendered frames per second (env steps x num_envs / s) of `task` with `robot` at `size` px. Smooth joint-target
    wiggles around the rest pose; one env runs in this process, N as a gymnasium `AsyncVectorEnv` of N processes
    returning only their RGB frame. Env creation and a few warm-up steps are not timed."""
    from rla_gym.specs.robots import get_robot

    spec = get_robot(robot)
    phase = np.random.default_rng(0).uniform(0, 2 * np.pi, (max(num_envs, 1), spec.action_dim))
    if num_envs == 1:
        threads = torch.get_num_threads()  # restored below: a caller may time torch work next
        _single_thread()
        from rla_gym.sim.make import make_sim_env

        env = make_sim_env(robot, task, size=size, seed=0, reconfiguration_freq=SIM_RECONFIGURATION)
        try:
            for i in range(SIM_WARMUP_STEPS):
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

        for i in range(SIM_WARMUP_STEPS):
            envs.step(batch(i))
        start = time.perf_counter()
        for i in range(steps):
            envs.step(batch(i))
        return steps * num_envs / (time.perf_counter() - start)
    finally:
        envs.close()


def add_maniskill(
    rows: list[dict],
    robot: str,
    task: str,
    steps: int,
    *,
    sim_num_envs: tuple[int, ...] | list[int] | None = None,
    skipped: str = "ManiSkill not asked for at this size",
    measure_sim: MeasureSim | None = None,
) -> list[dict]:
    """ManiSkill at each num_envs of `rows` (once per num_envs; only those in `sim_num_envs` when given), at the world
    model's image size: each row gains `maniskill_steps_per_s` and `ratio`, or `maniskill_error` (the failure, or
    "not measured at N envs (`skipped`)"). `measure_sim` defaults to `measure_sim_fps`. Returns `rows`."""
    measure_sim = measure_sim or measure_sim_fps
    size = rows[0]["wm"]["image_size"]
    for n in dict.fromkeys(r["num_envs"] for r in rows):
        same = [r for r in rows if r["num_envs"] == n]
        if sim_num_envs is not None and n not in sim_num_envs:
            for row in same:
                row["maniskill_error"] = f"not measured at {n} envs ({skipped})"
            continue
        try:
            sim = float(measure_sim(robot, task, n, steps, size))
        except Exception as err:  # the gap is reported, not hidden
            error = f"{type(err).__name__}: {err}"
            log.warning("ManiSkill at %d envs: %s", n, error)
            for row in same:
                row["maniskill_error"] = error
            continue
        for row in same:
            row["maniskill_steps_per_s"] = sim
            row["ratio"] = row["wm"]["sim_step_equivalents_per_s"] / sim
    return rows


def target(row: dict | None) -> dict:
    """The speed target judged on the row measured at TARGET_ENVS envs (None: not run): `{"ratio", "met"}`, or
    `{"met": None, "why"}` where a side is missing."""
    if row is None:
        return {"met": None, "why": f"num_envs {TARGET_ENVS} not run"}
    if "ratio" not in row:
        return {"met": None, "why": row.get("maniskill_error", "ManiSkill not measured")}
    return {"ratio": row["ratio"], "met": bool(row["ratio"] >= TARGET_RATIO)}


# ---------------------------------------------------------------------------------------------- the report's section
def run_speed(
    bundle: Bundle,
    task: str,
    num_envs: tuple[int, ...],
    sim_num_envs: tuple[int, ...],
    *,
    wm_steps: int,
    sim_steps: int,
    device: str = "cpu",
    euler: tuple[int, ...] = (30, 10, 4, 1),
    sweep_envs: int = 8,
    profile_repeats: int = 5,
    measure_sim=None,
) -> dict:
    """All measurements of the section (see the module docstring). `measure_sim(robot, task, num_envs, steps, size)`
    defaults to `rla_gym.eval.speed.measure_sim_fps`; a failure there is recorded, never replaced."""
    from rla_gym.envs.config import WorldModelEnvConfig
    from rla_gym.models.profile import component_times

    # every world-model measurement first: ManiSkill's worker processes must not share the cores while they run
    rows = world_model_rows(bundle, num_envs, wm_steps, device)
    stack = bundle.stack.to(rows[0]["wm"]["device"]).eval()
    profile = {
        "batch": sweep_envs,
        "euler_steps": stack.config.euler_steps,
        "ms": component_times(stack, sweep_envs, None, profile_repeats),
    }
    sweep = {}
    for n in euler:
        wm = measure_world_model(bundle, sweep_envs, wm_steps, device, n)
        ms = component_times(stack, sweep_envs, n, profile_repeats)
        sweep[int(n)] = {
            "chunk_steps_per_s": wm["chunk_steps_per_s"],
            "sim_step_equivalents_per_s": wm["sim_step_equivalents_per_s"],
            "flow_ms": ms["flow"],
            "step_ms": ms["step"],
        }
    skipped = f"this preset measures ManiSkill at {list(sim_num_envs)}"
    add_maniskill(
        rows, bundle.robot, task, sim_steps, sim_num_envs=sim_num_envs, skipped=skipped, measure_sim=measure_sim
    )
    out = {
        "robot": bundle.robot,
        "task": task,
        "image_size": rows[0]["wm"]["image_size"],
        "device": rows[0]["wm"]["device"],
        "euler_steps": rows[0]["wm"]["euler_steps"],
        "chunk_size": WorldModelEnvConfig.chunk_size,  # what measure_world_model's env steps
        "wm_steps": wm_steps,
        "sim_steps": sim_steps,
        "rows": rows,
        "profile": profile,
        "euler_sweep": sweep,
        "sweep_envs": sweep_envs,
    }
    out["target"] = target_check(out, bundle)
    return out


def target_check(speed: dict, bundle: Bundle) -> dict:
    """The issue's target, judged only on what was measured: ratio at num_envs 8 with the bundle's Euler steps."""
    row = next((r for r in speed["rows"] if r["num_envs"] == TARGET_ENVS), None)
    preset = bundle.metadata.get("preset", bundle.stack.config.preset)
    return {"ratio_needed": TARGET_RATIO, "num_envs": TARGET_ENVS, "preset": preset, **target(row)}
