"""Can the world model rank policies? World-model scores of policies against their ManiSkill success.

For each policy (`rla_gym.eval.policies`):
- inside `RLAWorldModel-v0`: deterministic actions, the env's demo-frame resets from fixed seeds (every policy starts
  from the same frames and gets the same flow noise), one episode per world and seed: mean return and success;
- in ManiSkill: success on fixed evaluation seeds (`rla_gym.sim.evaluate`, the paper's neural preprocessing for the
  policies that were trained on world-model images), with 95 % Wilson intervals;
then Spearman's and Kendall's rank correlations of world-model return (and success) with ManiSkill success across
the policies, with p-values (Spearman: an exact permutation test for up to 8 policies, scipy's t approximation above
that; Kendall: scipy's, exact for small untied samples) and 95 % bootstrap intervals (each policy's episodes
resampled in both worlds: the spread the finite evaluations leave). The random policy is reported apart: it is an
easy floor that any model ranks last, so the headline correlations leave it out (`with_random` has it).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import asdict

import numpy as np
import torch

from rla_gym.eval.policies import Policy, PolicyEntry, load_policy, policy_chunk
from rla_gym.models.bundle import Bundle
from rla_gym.sim.evaluate import wilson_interval

log = logging.getLogger(__name__)

EXACT_P_MAX = 8  # policies up to which the p-value enumerates every permutation (8! = 40320)


def rate(successes: int, episodes: int) -> dict:
    """A success rate with its 95 % Wilson interval."""
    lo, hi = wilson_interval(successes, episodes)
    return {
        "success_rate": successes / max(episodes, 1),
        "successes": successes,
        "episodes": episodes,
        "ci95": [lo, hi],
    }


@torch.no_grad()
def world_model_scores(
    bundle: Bundle,
    policy: Policy,
    seeds: list[int],
    num_envs: int,
    device: str | torch.device = "cpu",
    euler_steps: int | None = None,
) -> dict:
    """One episode per world and seed inside RLAWorldModel-v0 (the env's own resets, reward and success)."""
    import gymnasium as gym

    import rla_gym  # noqa: F401  (registers the env)

    env = gym.make_vec(
        "RLAWorldModel-v0",
        num_envs=num_envs,
        vectorization_mode="vector_entry_point",
        robot=bundle.robot,
        task=bundle.task,
        bundle=bundle,
        device=device,
        chunk_size=policy.chunk,
        euler_steps=euler_steps,
    )
    returns, successes = [], []
    act = policy.act if policy.wm_act is None else (lambda obs: policy.wm_act(env.unwrapped, obs))
    try:
        for seed in seeds:
            obs, _ = env.reset(seed=int(seed))
            total = torch.zeros(num_envs)
            success = torch.zeros(num_envs, dtype=torch.bool)
            done = torch.zeros(num_envs, dtype=torch.bool)
            while not bool(done.all()):
                obs, reward, terminated, truncated, info = env.step(act(obs))
                live = ~done
                total[live] += reward.cpu()[live]
                ended = (terminated | truncated).cpu() & live
                if bool(ended.any()):
                    success[ended] = info["final_info"]["success"].cpu()[ended]
                done |= ended
            returns += total.tolist()
            successes += success.tolist()
    finally:
        env.close()
    return {
        "mean_return": float(np.mean(returns)),
        "returns_std": float(np.std(returns)),
        **rate(sum(successes), len(successes)),
        "returns": [float(r) for r in returns],  # per episode: the bootstrap resamples them
        "success_flags": [bool(x) for x in successes],
    }


def sim_scores(
    bundle: Bundle,
    policy: Policy,
    seeds: list[int],
    env=None,
    size: int = 128,
    max_steps: int | None = None,
    device: torch.device | str = "cpu",
) -> dict:
    """ManiSkill success on `seeds` (`rla_gym.sim.evaluate`), with the neural preprocessing where the policy needs it."""
    from rla_gym.agents.bc import SimPolicy
    from rla_gym.sim.evaluate import evaluate, stack_preprocess

    own = policy.sim_policy is not None  # the scripted expert: it reads the simulator's state
    result = evaluate(
        policy.sim_policy if own else SimPolicy(policy.act, bundle.robot, torch.device(device)),
        bundle.robot,
        bundle.task,
        seeds=seeds,
        neural_preprocess=stack_preprocess(bundle.stack) if policy.preprocess and not own else None,
        size=size,
        max_steps=max_steps,
        env=env,
    )
    return {
        "mean_return": result.mean_return,
        **rate(result.successes, len(result.episodes)),
        "success_flags": [bool(e.success) for e in result.episodes],
    }


def spearman(x: list[float], y: list[float]) -> dict:
    """Spearman's rho of x and y with a two-sided p-value: exact over all permutations for n <= 8, else scipy's.
    rho is None (with the reason) when fewer than 3 values or either side is constant."""
    from scipy.stats import rankdata, spearmanr

    n = len(x)
    out: dict = {"n": n, "rho": None, "p_value": None, "method": None}
    if n != len(y):
        raise ValueError(f"x has {n} values, y {len(y)}")
    if n < 3:
        return {**out, "note": f"{n} policies: a rank correlation needs at least 3"}
    if len(set(x)) == 1 or len(set(y)) == 1:
        side = "simulator" if len(set(y)) == 1 else "world-model"
        return {**out, "note": f"every {side} score is equal: no ranking to compare"}
    rho = float(spearmanr(x, y).statistic)
    if n <= EXACT_P_MAX:
        rx, ry = rankdata(x), rankdata(y)
        perms = np.array(list(itertools.permutations(ry)))  # (n!, n)
        cx = rx - rx.mean()
        cp = perms - perms.mean(1, keepdims=True)
        rhos = (cp @ cx) / (np.linalg.norm(cp, axis=1) * np.linalg.norm(cx))
        p = float(np.mean(np.abs(rhos) >= abs(rho) - 1e-12))
        return {**out, "rho": rho, "p_value": p, "method": f"exact permutation ({len(perms)} orders)"}
    return {**out, "rho": rho, "p_value": float(spearmanr(x, y).pvalue), "method": "t approximation (scipy)"}


def kendall(x: list[float], y: list[float]) -> dict:
    """Kendall's tau-b of x and y with scipy's two-sided p-value (exact for small untied samples); None with the
    reason when fewer than 3 values or either side is constant."""
    from scipy.stats import kendalltau

    n = len(x)
    out: dict = {"n": n, "tau": None, "p_value": None}
    if n < 3:
        return {**out, "note": f"{n} policies: a rank correlation needs at least 3"}
    if len(set(x)) == 1 or len(set(y)) == 1:
        return {**out, "note": "a side is constant: no ranking to compare"}
    result = kendalltau(x, y)
    return {**out, "tau": float(result.statistic), "p_value": float(result.pvalue)}


def bootstrap_correlations(rows: list[dict], key: str, draws: int = 2000, seed: int = 0) -> dict:
    """95 % percentile intervals of Spearman's rho and Kendall's tau between the world-model score `key`
    ("mean_return" or "success_rate") and ManiSkill success, resampling each policy's episodes in both worlds.
    Draws where a side comes out constant have no correlation and are left out (counted in `undefined`)."""
    from scipy.stats import kendalltau, spearmanr

    rng = np.random.default_rng(seed)
    sim = [np.asarray(r["sim"]["success_flags"], float) for r in rows]
    wm = [np.asarray(r["wm"]["returns"] if key == "mean_return" else r["wm"]["success_flags"], float) for r in rows]
    rhos, taus, undefined = [], [], 0
    for _ in range(draws):
        y = np.array([v[rng.integers(0, len(v), len(v))].mean() for v in sim])
        x = np.array([v[rng.integers(0, len(v), len(v))].mean() for v in wm])
        if np.ptp(x) == 0 or np.ptp(y) == 0:
            undefined += 1
            continue
        rhos.append(spearmanr(x, y).statistic)
        taus.append(kendalltau(x, y).statistic)
    if not rhos:
        return {"draws": draws, "undefined": undefined, "rho_ci95": None, "tau_ci95": None}
    return {
        "draws": draws,
        "undefined": undefined,
        "rho_ci95": [float(v) for v in np.percentile(rhos, [2.5, 97.5])],
        "tau_ci95": [float(v) for v in np.percentile(taus, [2.5, 97.5])],
    }


def correlations(rows: list[dict], draws: int = 2000, seed: int = 0) -> dict:
    """Spearman, Kendall and their bootstrap intervals of world-model return and success against ManiSkill
    success, over `rows` (each with per-episode `sim` and `wm` outcomes)."""
    sim_success = [r["sim"]["success_rate"] for r in rows]
    out = {}
    for name, key in (("wm_return", "mean_return"), ("wm_success", "success_rate")):
        x = [r["wm"][key] for r in rows]
        out[name] = {
            **spearman(x, sim_success),
            "kendall": kendall(x, sim_success),
            "bootstrap": bootstrap_correlations(rows, key, draws, seed) if len(rows) >= 3 else None,
        }
    return out


def rank_policies(
    bundle: Bundle,
    entries: list[PolicyEntry],
    sim_seeds: list[int],
    wm_seeds: list[int],
    wm_num_envs: int,
    *,
    device: str | torch.device = "cpu",
    sim_size: int = 128,
    sim_max_steps: int | None = None,
    euler_steps: int | None = None,
    progress: bool = False,
    bootstrap_draws: int = 2000,
) -> dict:
    """Every policy scored in the world model and in ManiSkill (one sim env for all), and the rank correlations
    (`spearman`: without the random policy, with Kendall and bootstrap intervals; `with_random`: all policies)."""
    from tqdm.auto import tqdm

    from rla_gym.sim.make import make_sim_env
    from rla_gym.specs import get_task

    device = torch.device(device)
    task = get_task(bundle.task)
    limit = int(sim_max_steps or task.max_episode_steps)
    env = make_sim_env(bundle.robot, task.name, size=sim_size, max_episode_steps=max(limit, task.max_episode_steps))
    chunk = policy_chunk(entries)
    rows = []
    try:
        for entry in tqdm(entries, desc="rank policies", unit="policy", disable=not progress):
            policy = load_policy(entry, bundle, device, chunk=chunk)
            wm = world_model_scores(bundle, policy, wm_seeds, wm_num_envs, device, euler_steps)
            if entry.kind == "random" or entry.noise > 0:  # draws start afresh: the same random stream in both worlds
                policy = load_policy(entry, bundle, device, chunk=chunk)
            sim = sim_scores(bundle, policy, sim_seeds, env=env, size=sim_size, max_steps=limit, device=device)
            rows.append({**asdict(entry), "chunk": policy.chunk, "wm": wm, "sim": sim})
            log.info("%s: ManiSkill %.2f, world model return %.3f", entry.name, sim["success_rate"], wm["mean_return"])
    finally:
        env.close()
    ranked = [r for r in rows if r["kind"] != "random"]
    return {
        "policies": rows,
        "spearman": correlations(ranked, bootstrap_draws),  # the headline: the random policy apart
        "with_random": correlations(rows, bootstrap_draws),
        "sim_seeds": [int(s) for s in sim_seeds],
        "sim_max_steps": limit,
        "wm_seeds": [int(s) for s in wm_seeds],
        "wm_num_envs": wm_num_envs,
    }
