"""The speed section's tables and plots, around `rla_gym.eval.speed.run_speed`: per num_envs the world-model env's
simulator-step equivalents per second against ManiSkill's RGB env measured in the same run, peak memory, the time
split of one step, and env speed at fewer Euler steps, joined in `euler_table` with the prediction error that the
fidelity section's sweep (`benchmarks.sim_fidelity`) measured.
"""

from __future__ import annotations

from pathlib import Path

from rla_gym.eval import figures


# ---------------------------------------------------------------------------------------------- outputs
def euler_words(n: int) -> str:
    return f"{n} Euler step{'' if int(n) == 1 else 's'}"


def table(speed: dict) -> str:
    lines = [
        f"RLAWorldModel-v0 ({speed['image_size']} px, {euler_words(speed['euler_steps'])}, K = {speed['chunk_size']}, "
        f"on {speed['device']}) against ManiSkill {speed['task']} ({speed['robot']}, RGB at {speed['image_size']} px, one "
        f"process per env); {speed['wm_steps']} timed chunk steps and {speed['sim_steps']} timed ManiSkill steps each.",
        "",
        "| num_envs | WM chunk steps/s | WM sim-step equiv./s | ManiSkill steps/s | ratio | WM process peak memory (MB) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for r in speed["rows"]:
        wm = r["wm"]
        sim = f"{r['maniskill_steps_per_s']:.1f}" if "maniskill_steps_per_s" in r else "not measured"
        ratio = f"{r['ratio']:.1f}x" if "ratio" in r else "-"
        lines.append(
            f"| {r['num_envs']} | {wm['chunk_steps_per_s']:.1f} | {wm['sim_step_equivalents_per_s']:.0f} | {sim} | "
            f"{ratio} | {wm['peak_mem_mb']:.0f} |"
        )
    gaps = [f"{r['num_envs']} envs: {r['maniskill_error']}" for r in speed["rows"] if "maniskill_error" in r]
    if gaps:
        lines += ["", "ManiSkill not measured at " + "; ".join(gaps) + "."]
    if speed["device"].startswith("cpu"):
        lines += ["", "Peak memory on CPU is the benchmark process's peak resident set so far (it only grows)."]
    p = speed["profile"]
    total = p["ms"]["step"]
    lines += [
        "",
        f"Time split of one step of {p['batch']} worlds at {euler_words(p['euler_steps'])} (each part timed on its own):",
        "",
        "| part | ms per step | share of the step |",
        "|---|---:|---:|",
    ]
    names = {
        "condition": "condition network (once per step)",
        "flow": f"flow network, {euler_words(p['euler_steps'])}",
        "rla_decoder": "RLA decoder",
        "unet": "UNet render",
    }
    for key, label in names.items():
        lines.append(f"| {label} | {p['ms'][key]:.1f} | {100 * p['ms'][key] / total:.0f} % |")
    lines.append(f"| whole step (predict + render, timed end to end) | {total:.1f} | 100 % |")
    lines.append(f"| encoder (DINO on RGB; at reset only, not per step) | {p['ms']['encoder']:.1f} | - |")
    return "\n".join(lines) + "\n"


def euler_table(speed: dict, sweep_errors: dict | None, error_source: str | None = None) -> str:
    """Speed (this section) and prediction error (the fidelity section's sweep) per Euler step count."""
    errors = {int(k): v for k, v in (sweep_errors or {}).items()}
    horizon = next(iter(errors.values()))["horizon"] if errors else None
    head = f"token L1 t+{horizon} | SSIM t+{horizon}" if horizon else "token L1 | SSIM"
    lines = [
        f"Fewer Euler steps: env speed at {speed['sweep_envs']} envs and open-loop error against ManiSkill"
        + (f" ({error_source})" if error_source else " (not measured: the fidelity section did not run)")
        + ":",
        "",
        f"| Euler steps | WM chunk steps/s | WM sim-step equiv./s | flow ms per step | {head} |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for n, s in speed["euler_sweep"].items():
        e = errors.get(int(n))
        err = f"{e['token_l1']:.4f} | {e['ssim']:.3f}" if e else "not measured | not measured"
        lines.append(
            f"| {n} | {s['chunk_steps_per_s']:.1f} | {s['sim_step_equivalents_per_s']:.0f} | {s['flow_ms']:.1f} | {err} |"
        )
    return "\n".join(lines) + "\n"


def plot_throughput(speed: dict, path: Path) -> Path:
    """Grouped bars per num_envs: world-model sim-step equivalents/s and ManiSkill steps/s (log scale), ratios."""
    import numpy as np

    plt = figures.pyplot()

    rows = speed["rows"]
    x = np.arange(len(rows))
    wm = [r["wm"]["sim_step_equivalents_per_s"] for r in rows]
    sim = [r.get("maniskill_steps_per_s", np.nan) for r in rows]
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    ax.bar(x - 0.2, wm, 0.4, label="world model (sim-step equivalents/s)")
    ax.bar(x + 0.2, sim, 0.4, label="ManiSkill (steps/s)")
    for i, r in enumerate(rows):
        if "ratio" in r:
            ax.annotate(f"{r['ratio']:.1f}x", (x[i], max(wm[i], sim[i])), ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [str(r["num_envs"]) for r in rows])
    ax.set(
        xlabel="num_envs", ylabel="steps per second", yscale="log", title=f"{speed['task']} at {speed['image_size']} px"
    )
    ax.legend(fontsize=8)
    return figures.save(fig, path)


def plot_components(speed: dict, path: Path) -> Path:
    """Horizontal bars: ms per step of each part (and the encoder, outside the step)."""
    plt = figures.pyplot()

    ms = speed["profile"]["ms"]
    names = ["condition", "flow", "rla_decoder", "unet", "step", "encoder"]
    fig, ax = plt.subplots(figsize=(6.5, 3.0))
    ax.barh(names[::-1], [ms[n] for n in names[::-1]], color=["C7", "C3", "C0", "C0", "C0", "C0"])
    p = speed["profile"]
    ax.set(xlabel=f"ms per step of {p['batch']} worlds ({euler_words(p['euler_steps'])})", title="time split")
    return figures.save(fig, path)


def plot_euler(speed: dict, sweep_errors: dict | None, path: Path) -> Path:
    """Chunk steps/s against Euler steps, and the open-loop token L1 beside it where the fidelity section ran."""
    plt = figures.pyplot()

    steps = sorted(int(n) for n in speed["euler_sweep"])
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    axes[0].plot(steps, [speed["euler_sweep"][n]["chunk_steps_per_s"] for n in steps], marker="o")
    axes[0].set(xscale="log", xlabel="Euler steps", ylabel="chunk steps/s", title=f"{speed['sweep_envs']} envs")
    errors = {int(k): v for k, v in (sweep_errors or {}).items()}
    if errors:
        have = [n for n in steps if n in errors]
        axes[1].plot(have, [errors[n]["token_l1"] for n in have], marker="o")
        axes[1].set(xscale="log", xlabel="Euler steps", ylabel="token L1 vs ManiSkill", title="open-loop error")
    else:
        axes[1].text(0.5, 0.5, "error not measured", ha="center", va="center", transform=axes[1].transAxes)
        axes[1].set_axis_off()
    return figures.save(fig, path)
