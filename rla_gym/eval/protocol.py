"""The policy protocol (issue 17): choose an RL checkpoint on one set of seeds, report it on another.

Checkpoints are chosen two ways, both reported: on ManiSkill's selection seeds (the paper's Fig. 6 practice) and by
the world model alone, with no simulator (the paper's "evaluated inside the world model for free"): the checkpoint
whose deterministic policy succeeds most often in the same fixed world-model episodes, ties broken by return, then
by the earlier checkpoint. The chosen policies and BC are then scored on the report seeds (`specs.seeds.REPORT_SEEDS`),
which chose nothing, and each RL policy is compared with BC seed by seed: an exact McNemar test on the same scenes,
Wilson intervals beside it, and "no evidence" where the p-value says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rla_gym.eval.paired import PairedResult, mcnemar_exact, paired_signed_rank
from rla_gym.eval.records import eval_from_dict
from rla_gym.sim.evaluate import EvalResult
from rla_gym.specs.seeds import REPORT_SEEDS


def report_seeds(episodes: int) -> tuple[int, ...]:
    """The first `episodes` report seeds: scenes that neither trained nor selected any policy."""
    if not 1 <= episodes <= len(REPORT_SEEDS):
        raise ValueError(f"report episodes must be in [1, {len(REPORT_SEEDS)}]; got {episodes}")
    return tuple(REPORT_SEEDS[:episodes])


def select_by_world_model(rows: list[dict]) -> int | None:
    """The iteration of the checkpoint the world model prefers: highest `wm_success`, then `wm_return`, then the
    earliest. `rows`: one dict per evaluated checkpoint with `iteration`, `wm_success`, `wm_return` (rows without a
    world-model score are skipped); None when no row has one."""
    scored = [r for r in rows if np.isfinite(r.get("wm_success", np.nan))]
    if not scored:
        return None
    best = max(scored, key=lambda r: (r["wm_success"], r["wm_return"], -r["iteration"]))
    return int(best["iteration"])


def per_seed_success(result: EvalResult, seeds: tuple[int, ...]) -> np.ndarray:
    """Success on `seeds`, in that order; refuses an evaluation that did not run exactly those seeds."""
    by_seed = {e.seed: e.success for e in result.episodes}
    if sorted(by_seed) != sorted(seeds):
        raise ValueError(f"the evaluation ran seeds {sorted(by_seed)[:3]}...; the comparison needs the same seeds")
    return np.array([by_seed[s] for s in seeds], dtype=bool)


@dataclass(frozen=True)
class Comparison:
    """One RL policy against BC on the same report seeds."""

    name: str
    iteration: int
    result: EvalResult
    paired: PairedResult  # McNemar: A = this RL policy, B = BC


def compare_with_bc(
    bc: EvalResult, candidates: dict[str, tuple[int, EvalResult]], seeds: tuple[int, ...]
) -> list[Comparison]:
    """Each candidate (name -> (iteration, its evaluation on `seeds`)) against BC on the same seeds."""
    base = per_seed_success(bc, seeds)
    return [
        Comparison(name, it, result, mcnemar_exact(per_seed_success(result, seeds), base))
        for name, (it, result) in candidates.items()
    ]


def report_table(bc: EvalResult, comparisons: list[Comparison], seeds: tuple[int, ...]) -> str:
    """The report-seed table: success with its 95 % Wilson interval per policy, and the paired test against BC."""
    rows = [("BC", bc, "")]
    rows += [(f"{c.name} (iteration {c.iteration})", c.result, c.paired.verdict(a="RL", b="BC")) for c in comparisons]
    width = max(len(name) for name, _, _ in rows)
    lines = [
        f"report seeds {seeds[0]}-{seeds[-1]} ({len(seeds)} scenes that chose nothing):",
        f"{'policy':<{width}}  success  95 % CI        episodes  against BC, same seeds",
    ]
    for name, res, verdict in rows:
        lo, hi = res.ci95
        lines.append(
            f"{name:<{width}}  {100 * res.success_rate:5.1f} %  {100 * lo:5.1f}-{100 * hi:5.1f} %  "
            f"{len(res.episodes):>8}  {verdict}"
        )
    return "\n".join(lines)


def rule_wins(reports: list[dict], rule: str, seeds: tuple[int, ...]) -> np.ndarray | None:
    """(runs, seeds) bool: per run, the success of the checkpoint chosen by `rule` on `seeds`; None when a run has
    no such checkpoint."""
    picks = [next((c for c in r["rl"] if c["name"] == rule), None) for r in reports]
    if any(c is None for c in picks):
        return None
    return np.stack([per_seed_success(eval_from_dict(c["eval"]), seeds) for c in picks])


def summarize_runs(reports: list[dict]) -> str:
    """Several RL seeds' `report.json` (one main-job run each, the same BC and report seeds) as one table: per
    selection rule, success per run and its mean, and a pooled paired test against BC: per report seed, the mean
    success over the runs against BC's (Wilcoxon signed-rank over the seeds where they differ)."""
    if not reports:
        raise ValueError("no report.json to summarize")
    bc = eval_from_dict(reports[0]["bc"])
    seeds = tuple(e.seed for e in bc.episodes)
    base = per_seed_success(bc, seeds)
    for r in reports[1:]:
        if not np.array_equal(per_seed_success(eval_from_dict(r["bc"]), seeds), base):
            raise ValueError("the runs' BC evaluations differ: summarize runs of the same BC on the same report seeds")
    names = [c["name"] for c in reports[0]["rl"]]
    rl_seeds = ", ".join(str(r.get("rl_seed", "?")) for r in reports)
    lines = [
        f"{len(reports)} RL runs (RL seeds {rl_seeds}); report seeds {seeds[0]}-{seeds[-1]} ({len(seeds)} scenes)",
        f"BC: {100 * bc.success_rate:.1f} % ({bc.successes}/{len(seeds)})",
    ]
    for name in names:
        wins = rule_wins(reports, name, seeds)  # (runs, seeds)
        if wins is None:
            lines.append(f"{name}: not in every run")
            continue
        rates = ", ".join(f"{100 * w.mean():.1f}" for w in wins)
        pooled = paired_signed_rank(wins.mean(0), base.astype(float))
        lines.append(
            f"{name}: {100 * wins.mean():.1f} % over the runs (per run: {rates} %); against BC, pooled over the "
            f"runs per report seed: " + pooled.verdict(a="RL", b="BC")
        )
    return "\n".join(lines)


def compare_run_sets(runs: list[dict], versus: list[dict], name: str = "these runs", other: str = "the others") -> str:
    """Two sets of RL runs, paired by RL seed (e.g. with and without a guard; the same BC and report seeds): per
    selection rule, each pair seed by seed (exact McNemar) and all pairs pooled per report seed (Wilcoxon
    signed-rank on the mean success over the pairs)."""
    if not runs or len(runs) != len(versus):
        raise ValueError(f"--versus needs one run per run, paired in order; got {len(runs)} and {len(versus)}")
    seeds = tuple(e.seed for e in eval_from_dict(runs[0]["bc"]).episodes)
    for a, b in zip(runs, versus):
        if a.get("rl_seed") != b.get("rl_seed"):
            raise ValueError(f"pairs must share their RL seed; got {a.get('rl_seed')} and {b.get('rl_seed')}")
    lines = [f"{name} against {other}, paired by RL seed ({', '.join(str(r.get('rl_seed')) for r in runs)})"]
    for rule in [c["name"] for c in runs[0]["rl"]]:
        wins = [rule_wins(group, rule, seeds) for group in (runs, versus)]
        if any(w is None for w in wins):
            lines.append(f"{rule}: not in every run")
            continue
        per_pair = "; ".join(
            f"seed {r.get('rl_seed')}: {100 * a.mean():.1f} vs {100 * b.mean():.1f} % "
            f"({mcnemar_exact(a, b).verdict(a=name, b=other)})"
            for r, a, b in zip(runs, wins[0], wins[1])
        )
        pooled = paired_signed_rank(wins[0].mean(0), wins[1].mean(0))
        lines.append(
            f"{rule}: {100 * wins[0].mean():.1f} vs {100 * wins[1].mean():.1f} %; pooled per report seed: "
            f"{pooled.verdict(a=name, b=other)}; {per_pair}"
        )
    return "\n".join(lines)


def model_gap(name: str, rows: list[dict]) -> str:
    """One run's checkpoints (`sim_eval.csv` rows): ManiSkill success beside success inside the world model, and the
    gap between them (world model - ManiSkill, points). A policy that exploits the model widens it as RL goes on: the
    measure of a reward-hacking guard (`--uncertainty-penalty`)."""
    rows = [r for r in rows if np.isfinite(r.get("wm_success", np.nan))]
    if not rows:
        return f"{name}: no checkpoint scored inside the world model"
    parts = [
        f"it. {int(r['iteration'])}: {100 * r['success']:.0f} / {100 * r['wm_success']:.0f} "
        f"({100 * (r['wm_success'] - r['success']):+.0f})"
        for r in rows
    ]
    gaps = [r["wm_success"] - r["success"] for r in rows]
    return (
        f"{name}: ManiSkill / world-model success % (gap) "
        + ", ".join(parts)
        + f"; mean gap {100 * np.mean(gaps):+.1f}"
    )
