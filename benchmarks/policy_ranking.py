"""Can the world model rank policies? World-model scores of saved policies against their ManiSkill success.

The question a user asks before trusting world-model evaluation. For each policy (the BC policy, the RL checkpoints
`<wmrl out>/checkpoints/iter_XXXXXX/` along training, a random policy):
- inside `RLAWorldModel-v0`: deterministic actions, the env's demo-frame resets from fixed seeds (every policy starts
  from the same frames and gets the same flow noise), one episode per world and seed: mean return and success;
- in ManiSkill: success on fixed evaluation seeds (`rla_gym.sim.evaluate`, the paper's neural preprocessing for the
  policies that were trained on world-model images), with 95 % Wilson intervals;
then Spearman's rank correlation of world-model return (and success) with ManiSkill success across the policies,
with an exact permutation p-value for up to 8 policies (scipy's t approximation above that).

    python -m benchmarks.policy_ranking --bc BC_DIR --wmrl-out out/wmrl --out DIR
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from rla_gym.models.bundle import Bundle
from rla_gym.sim.evaluate import wilson_interval
from rla_gym.specs.robots import CHUNK_SIZE
from rla_gym.specs.seeds import SELECTION_SEEDS

log = logging.getLogger(__name__)

Act = Callable[[torch.Tensor], torch.Tensor]  # frames (B, H, W, 3) uint8 -> joint targets (B, K, A)
EXACT_P_MAX = 8  # policies up to which the p-value enumerates every permutation (8! = 40320)


@dataclass(frozen=True)
class PolicyEntry:
    name: str  # "BC", "RL iter 000025", "random"
    kind: str  # "bc" | "rl" | "random"
    path: str | None = None


@dataclass
class LoadedPolicy:
    entry: PolicyEntry
    act: Act
    chunk: int  # K: rows per decision (the world model's chunk)
    preprocess: bool  # trained on world-model images: sees sim frames through encoder -> UNet in ManiSkill


class RandomPolicy:
    """Uniform joint targets within [low, high] per joint, K rows per decision, seeded: the floor of the ranking."""

    def __init__(self, low: torch.Tensor, high: torch.Tensor, chunk: int, seed: int = 0) -> None:
        self.low, self.high, self.chunk = low.float().cpu(), high.float().cpu(), chunk
        self.gen = torch.Generator().manual_seed(seed)

    def act(self, frames: torch.Tensor) -> torch.Tensor:
        u = torch.rand(frames.shape[0], self.chunk, self.low.shape[0], generator=self.gen)
        return (self.low + u * (self.high - self.low)).to(frames.device)


def find_policies(
    bc: Path | None, wmrl_out: Path | None, max_checkpoints: int = 6
) -> tuple[list[PolicyEntry], list[str]]:
    """The policies to rank and notes on what is missing. RL checkpoints: `<wmrl_out>/checkpoints/iter_*/`, thinned
    evenly to `max_checkpoints` (first and last kept); without them, `best/` and `last/` of `rla-gym wmrl`."""
    entries, notes = [], []
    if bc is not None and (Path(bc) / "bc_policy.json").is_file():
        entries.append(PolicyEntry("BC", "bc", str(bc)))
    else:
        notes.append(f"no BC policy ({bc or 'none given'})")
    found: list[Path] = []
    if wmrl_out is not None:
        from rla_gym.train.wmrl import list_checkpoints

        found = [path for _, path in list_checkpoints(Path(wmrl_out))]  # complete ones only
        if len(found) > max_checkpoints:
            keep = sorted({int(i) for i in np.linspace(0, len(found) - 1, max_checkpoints).round()})
            found = [found[i] for i in keep]
        if not found:
            found = [Path(wmrl_out) / n for n in ("best", "last") if (Path(wmrl_out) / n / "agent.json").is_file()]
    for path in found:
        label = path.name.replace("iter_", "iter ") if path.name.startswith("iter_") else path.name
        entries.append(PolicyEntry(f"RL {label}", "rl", str(path)))
    if not found:
        notes.append(f"no complete RL checkpoint under {wmrl_out or '(no --wmrl-out)'}/checkpoints/iter_*/")
    entries.append(PolicyEntry("random", "random"))
    return entries, notes


def load_policy(
    entry: PolicyEntry, bundle: Bundle, device: torch.device, chunk: int = CHUNK_SIZE, seed: int = 0
) -> LoadedPolicy:
    """BC (`BCPolicy.act`), RL (`LoRAActorCritic.act`, the mean action) or random within the demos' joint range."""
    if entry.kind == "bc":
        from rla_gym.agents.bc import BCPolicy

        bc = BCPolicy.from_pretrained(entry.path, robot=bundle.robot, device=device)
        return LoadedPolicy(entry, bc.act, bc.config.n_action_steps, True)
    if entry.kind == "rl":
        from rla_gym.agents.lora import LoRAActorCritic

        agent = LoRAActorCritic.from_pretrained(entry.path, robot=bundle.robot, device=device)
        return LoadedPolicy(entry, lambda frames: agent.act(frames, deterministic=True), agent.k, True)
    if entry.kind == "random":
        targets = bundle.demos.targets  # (F, A): every demo row
        policy = RandomPolicy(targets.min(0).values, targets.max(0).values, chunk, seed)
        return LoadedPolicy(entry, policy.act, chunk, False)
    raise ValueError(f"unknown policy kind {entry.kind!r}; expected bc, rl or random")


def policy_chunk(entries: list[PolicyEntry], default: int = CHUNK_SIZE) -> int:
    """K of the first saved policy (BC and RL agents share the BC network's `n_action_steps`), else `default`."""
    from rla_gym.agents.bc import read_policy_meta

    for entry in entries:
        if entry.path is not None:
            return int(read_policy_meta(Path(entry.path))["network"]["n_action_steps"])
    return default


# ---------------------------------------------------------------------------------------------- measurements
def _rate(successes: int, episodes: int) -> dict:
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
    policy: LoadedPolicy,
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
    try:
        for seed in seeds:
            obs, _ = env.reset(seed=int(seed))
            total = torch.zeros(num_envs)
            success = torch.zeros(num_envs, dtype=torch.bool)
            done = torch.zeros(num_envs, dtype=torch.bool)
            while not bool(done.all()):
                obs, reward, terminated, truncated, info = env.step(policy.act(obs))
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
        **_rate(sum(successes), len(successes)),
    }


def sim_scores(
    bundle: Bundle,
    policy: LoadedPolicy,
    seeds: list[int],
    env=None,
    size: int = 128,
    max_steps: int | None = None,
    device: torch.device | str = "cpu",
) -> dict:
    """ManiSkill success on `seeds` (`rla_gym.sim.evaluate`), with the neural preprocessing where the policy needs it."""
    from rla_gym.agents.bc import SimPolicy
    from rla_gym.sim.evaluate import evaluate, stack_preprocess

    result = evaluate(
        SimPolicy(policy.act, bundle.robot, torch.device(device)),
        bundle.robot,
        bundle.task,
        seeds=seeds,
        neural_preprocess=stack_preprocess(bundle.stack) if policy.preprocess else None,
        size=size,
        max_steps=max_steps,
        env=env,
    )
    return {"mean_return": result.mean_return, **_rate(result.successes, len(result.episodes))}


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
) -> dict:
    """Every policy scored in the world model and in ManiSkill (one sim env for all), and the rank correlations."""
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
            if entry.kind == "random":  # its draws start afresh: the same random chunks in both worlds
                policy = load_policy(entry, bundle, device, chunk=chunk)
            sim = sim_scores(bundle, policy, sim_seeds, env=env, size=sim_size, max_steps=limit, device=device)
            rows.append({**asdict(entry), "chunk": policy.chunk, "wm": wm, "sim": sim})
            log.info("%s: ManiSkill %.2f, world model return %.3f", entry.name, sim["success_rate"], wm["mean_return"])
    finally:
        env.close()
    sim_success = [r["sim"]["success_rate"] for r in rows]
    return {
        "policies": rows,
        "spearman": {
            "wm_return": spearman([r["wm"]["mean_return"] for r in rows], sim_success),
            "wm_success": spearman([r["wm"]["success_rate"] for r in rows], sim_success),
        },
        "sim_seeds": [int(s) for s in sim_seeds],
        "sim_max_steps": limit,
        "wm_seeds": [int(s) for s in wm_seeds],
        "wm_num_envs": wm_num_envs,
    }


# ---------------------------------------------------------------------------------------------- outputs
def _pct(rate: dict) -> tuple[str, str]:
    lo, hi = rate["ci95"]
    return (
        f"{100 * rate['success_rate']:.0f} % ({rate['successes']}/{rate['episodes']})",
        f"{100 * lo:.0f}-{100 * hi:.0f} %",
    )


def describe(corr: dict) -> str:
    if corr["rho"] is None:
        return f"not defined ({corr['note']})"
    return f"rho = {corr['rho']:+.2f}, p = {corr['p_value']:.3f} ({corr['method']}, {corr['n']} policies)"


def table(results: dict) -> str:
    lines = [
        "| policy | ManiSkill success | 95 % CI | world-model return | world-model success | 95 % CI |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results["policies"]:
        sim, sim_ci = _pct(r["sim"])
        wm, wm_ci = _pct(r["wm"])
        lines.append(f"| {r['name']} | {sim} | {sim_ci} | {r['wm']['mean_return']:.3f} | {wm} | {wm_ci} |")
    s = results["spearman"]
    seeds = results["sim_seeds"]
    lines += [
        "",
        f"ManiSkill: seeds {seeds[0]}-{seeds[-1]}, at most {results['sim_max_steps']} env steps; world model: "
        f"{results['wm_num_envs']} worlds x seeds {results['wm_seeds']}, one episode each, deterministic actions.",
        "",
        f"Spearman rank correlation with ManiSkill success: world-model return {describe(s['wm_return'])}; "
        f"world-model success {describe(s['wm_success'])}.",
    ]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> Path:
    """World-model return and success (x) against ManiSkill success (y, Wilson 95 % bars), one point per policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key, label in ((axes[0], "mean_return", "world-model mean return"), (axes[1], None, "world-model success")):
        for r in results["policies"]:
            x = r["wm"][key] if key else r["wm"]["success_rate"]
            y = r["sim"]["success_rate"]
            lo, hi = r["sim"]["ci95"]
            ax.errorbar([x], [y], yerr=[[y - lo], [hi - y]], marker="o", capsize=3)
            ax.annotate(r["name"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
        ax.set(xlabel=label, ylabel="ManiSkill success", ylim=(-0.05, 1.05))
    s = results["spearman"]
    for ax, corr in zip(axes, (s["wm_return"], s["wm_success"])):
        ax.set_title(
            "Spearman " + (f"rho {corr['rho']:+.2f}, p {corr['p_value']:.3f}" if corr["rho"] is not None else "n/a")
        )
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", default=None, help="bundle folder (default: the embedded default)")
    parser.add_argument("--bc", type=Path, default=None, help="BC policy folder (default: the one beside the bundle)")
    parser.add_argument("--wmrl-out", type=Path, default=Path("out/wmrl"), help="rla-gym wmrl --out (checkpoints/)")
    quick = SELECTION_SEEDS[:20]
    parser.add_argument("--sim-seeds", type=int, nargs=2, default=(quick[0], quick[-1]), metavar=("FIRST", "LAST"))
    parser.add_argument("--wm-seeds", type=int, default=2, help="reset seeds 0..N-1 in the world model")
    parser.add_argument("--wm-envs", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("out/policy_ranking"))
    args = parser.parse_args(argv)

    from rla_gym.models.bundle import load_bundle, resolve_bundle_path
    from rla_gym.models.zoo import default_bundle_path
    from rla_gym.train.wmrl import default_bc_path

    path = resolve_bundle_path(args.bundle or default_bundle_path("ur10e", "RollBall"))
    bundle = load_bundle(path)
    bc = args.bc
    if bc is None:
        try:
            bc = default_bc_path(path)
        except FileNotFoundError:
            bc = None
    entries, notes = find_policies(bc, args.wmrl_out)
    first, last = args.sim_seeds
    results = rank_policies(
        bundle, entries, list(range(first, last + 1)), list(range(args.wm_seeds)), args.wm_envs, progress=True
    )
    results["notes"] = notes
    args.out.mkdir(parents=True, exist_ok=True)
    results["figures"] = [plot(results, args.out / "policy_ranking.png").name]
    (args.out / "policy_ranking.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    return results


if __name__ == "__main__":
    main()
