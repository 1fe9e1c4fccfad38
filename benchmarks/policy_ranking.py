"""Can the world model rank policies? A table and a plot around `rla_gym.eval.ranking` (world-model return and
success per policy, ManiSkill success with Wilson intervals, Spearman's and Kendall's rank correlations with p-values
and bootstrap intervals, the random policy apart); the policies are `rla_gym.eval.policies`' (by default BC, the RL
checkpoints along `rla-gym wmrl` and random; `--policies list.json` names any others, e.g. the issue-17 ranking's
BC variants, noisy BC and the scripted expert: `scripts/rank_policies.sh`).

    python -m benchmarks.policy_ranking --bc BC_DIR --wmrl-out out/wmrl --out DIR
    python -m benchmarks.policy_ranking --policies policies.json --sim-seeds 4000000 4000099 --wm-seeds 8 \\
        --wm-envs 16 --out DIR
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rla_gym.eval import figures
from rla_gym.eval.policies import PolicyEntry, find_policies
from rla_gym.eval.ranking import rank_policies
from rla_gym.specs.seeds import SELECTION_SEEDS


# ---------------------------------------------------------------------------------------------- outputs
def _pct(rate: dict) -> tuple[str, str]:
    lo, hi = rate["ci95"]
    return (
        f"{100 * rate['success_rate']:.0f} % ({rate['successes']}/{rate['episodes']})",
        f"{100 * lo:.0f}-{100 * hi:.0f} %",
    )


def _p(p: float) -> str:
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def describe(corr: dict) -> str:
    if corr["rho"] is None:
        return f"not defined ({corr['note']})"
    text = f"rho = {corr['rho']:+.2f}, p = {_p(corr['p_value'])} ({corr['method']}, {corr['n']} policies)"
    tau = corr.get("kendall") or {}
    if tau.get("tau") is not None:
        text += f"; Kendall tau = {tau['tau']:+.2f}, p = {_p(tau['p_value'])}"
    boot = corr.get("bootstrap") or {}
    if boot.get("rho_ci95"):
        (a, b), (c, d) = boot["rho_ci95"], boot["tau_ci95"]
        text += f"; bootstrap 95 % CI rho [{a:+.2f}, {b:+.2f}], tau [{c:+.2f}, {d:+.2f}] ({boot['draws']} draws)"
    return text


def table(results: dict) -> str:
    lines = [
        "| policy | ManiSkill success | 95 % CI | world-model return | world-model success | 95 % CI |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    rows = sorted(results["policies"], key=lambda r: r["kind"] == "random")  # random last, apart
    for r in rows:
        sim, sim_ci = _pct(r["sim"])
        wm, wm_ci = _pct(r["wm"])
        name = f"{r['name']} (apart)" if r["kind"] == "random" and "with_random" in results else r["name"]
        lines.append(f"| {name} | {sim} | {sim_ci} | {r['wm']['mean_return']:.3f} | {wm} | {wm_ci} |")
    s = results["spearman"]
    seeds = results["sim_seeds"]
    lines += [
        "",
        f"ManiSkill: seeds {seeds[0]}-{seeds[-1]}, at most {results['sim_max_steps']} env steps; world model: "
        f"{results['wm_num_envs']} worlds x seeds {results['wm_seeds']}, one episode each, deterministic actions.",
        "",
        f"Rank correlation with ManiSkill success{' (the random policy apart)' if 'with_random' in results else ''}: "
        f"world-model return {describe(s['wm_return'])}; world-model success {describe(s['wm_success'])}.",
    ]
    if "with_random" in results:
        w = results["with_random"]
        lines += ["", f"With the random policy: world-model return {describe(w['wm_return'])}."]
    return "\n".join(lines) + "\n"


def plot(results: dict, path: Path) -> Path:
    """World-model return and success (x) against ManiSkill success (y, Wilson 95 % bars), one point per policy."""
    plt = figures.pyplot()

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
            "Spearman " + (f"rho {corr['rho']:+.2f}, p {_p(corr['p_value'])}" if corr["rho"] is not None else "n/a")
        )
    return figures.save(fig, path)


def read_policy_list(path: Path) -> list[PolicyEntry]:
    """A JSON list of `{"name", "kind", "path"?, "noise"?}`; relative paths are relative to the file."""
    items = json.loads(Path(path).read_text())
    if not isinstance(items, list) or not items:
        raise SystemExit(f"{path}: expected a non-empty JSON list of policies")
    entries = []
    for item in items:
        try:
            entry = PolicyEntry.from_dict(item)
        except (TypeError, ValueError) as err:
            raise SystemExit(f"{path}: {err}") from None
        if entry.path is not None and not Path(entry.path).is_absolute():
            entry = PolicyEntry(entry.name, entry.kind, str(Path(path).parent / entry.path), entry.noise)
        if entry.path is not None and not Path(entry.path).exists():
            raise SystemExit(f"{path}: policy {entry.name!r}: {entry.path} does not exist")
        entries.append(entry)
    return entries


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", default=None, help="bundle folder (default: the embedded default)")
    parser.add_argument("--bc", type=Path, default=None, help="BC policy folder (default: the one beside the bundle)")
    parser.add_argument("--wmrl-out", type=Path, default=Path("out/wmrl"), help="rla-gym wmrl --out (checkpoints/)")
    quick = SELECTION_SEEDS[:20]
    parser.add_argument("--sim-seeds", type=int, nargs=2, default=(quick[0], quick[-1]), metavar=("FIRST", "LAST"))
    parser.add_argument("--wm-seeds", type=int, default=2, help="reset seeds 0..N-1 in the world model")
    parser.add_argument("--wm-envs", type=int, default=8)
    parser.add_argument(
        "--policies",
        type=Path,
        default=None,
        help="a JSON list of policies ({name, kind, path, noise}; kinds: bc, rl, bc-checkpoint, random, expert); "
        "default: BC, the RL checkpoints of --wmrl-out and random",
    )
    parser.add_argument("--bootstrap", type=int, default=2000, help="bootstrap draws for the correlations' intervals")
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
    if args.policies is not None:
        entries, notes = read_policy_list(args.policies), []
    else:
        entries, notes = find_policies(bc, args.wmrl_out)
    first, last = args.sim_seeds
    results = rank_policies(
        bundle,
        entries,
        list(range(first, last + 1)),
        list(range(args.wm_seeds)),
        args.wm_envs,
        progress=True,
        bootstrap_draws=args.bootstrap,
    )
    results["notes"] = notes
    args.out.mkdir(parents=True, exist_ok=True)
    results["figures"] = [plot(results, args.out / "policy_ranking.png").name]
    (args.out / "policy_ranking.json").write_text(json.dumps(results, indent=2))
    print(table(results))
    return results


if __name__ == "__main__":
    main()
