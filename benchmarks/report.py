"""REPORT.md of the side-by-side benchmark: a summary made from the numbers, the machine, each section's tables and
figures, and the raw JSON beside it.

`results` holds `meta` (date, preset, bundle, machine, command, seconds per section) and per section (`speed`,
`fidelity`, `policies`) its measurements, `{"not_measured": reason}` or `{"failed": error}`. Every sentence of the
summary is built from a measured value; a section without numbers is named as not measured.
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks import policy_ranking, prediction_quality, sim_fidelity, speed

SECTIONS = ("speed", "fidelity", "policies")
REPORT, RAW = "REPORT.md", "results.json"
STRIP_CAPTION = (
    "Strip: per action source, a row of ManiSkill frames at t0, t0 + K, ..., then one row per model (RLA-WM, the "
    "regression baseline), UNet renders of its open-loop tokens, starting with the render of the start frame."
)


# ---------------------------------------------------------------------------------------------- the machine
def describe_machine(info: dict) -> str:
    where = info["gpu"] or f"{info['cpu']} ({info['cpu_cores']} cores)"
    mem = f", {info['memory_gb']} GB RAM" if info.get("memory_gb") else ""
    return f"{where}{mem}; {info['os']}, Python {info['python']}, torch {info['torch']}, device {info['device']}"


def describe_load(meta: dict) -> str:
    """The load average before and after the run, against the core count: how busy the machine was."""
    start, end = meta["machine"].get("load_average"), meta.get("load_average_end")
    if start is None:
        return ""
    after = f", {end:.1f} at the end" if end is not None else ""
    return f"1-minute load average {start:.1f} at the start{after}, on {meta['machine']['cpu_cores']} cores"


# ---------------------------------------------------------------------------------------------- summary
def _measured(section: dict | None) -> bool:
    return isinstance(section, dict) and "not_measured" not in section and "failed" not in section


def _gap(name: str, section: dict | None) -> str:
    if section is None:
        return f"{name}: not selected in this run"
    if "failed" in section:
        return f"{name}: failed ({section['failed']})"
    return f"{name}: not measured ({section['not_measured']})"


def _speed_summary(s: dict) -> list[str]:
    out = []
    ratios = [r for r in s["rows"] if "ratio" in r]
    if ratios:
        parts = [
            f"{r['ratio']:.1f}x at num_envs {r['num_envs']} ({r['wm']['sim_step_equivalents_per_s']:,.0f} vs "
            f"{r['maniskill_steps_per_s']:,.0f} steps/s)"
            for r in ratios
        ]
        out.append(
            f"Speed: in simulator-step equivalents per second (chunk steps x K = {s['chunk_size']}), the world model "
            f"({speed.euler_words(s['euler_steps'])}, {s['image_size']} px, {s['device']}) ran "
            + ", ".join(parts)
            + " "
            "against ManiSkill's RGB env at the same resolution, both measured in this run."
        )
    else:
        out.append("Speed: ManiSkill was not measured in this run, so no speed ratio is reported.")
    t = s.get("target", {})
    if t.get("met") is not None:
        verdict = "met" if t["met"] else "not met"
        scope = "" if t.get("preset") == "cpu" else f" (this bundle's preset is {t.get('preset')!r}, not cpu)"
        out.append(
            f"The target of at least {t['ratio_needed']:.0f}x at num_envs {t['num_envs']} with the bundle's Euler "
            f"steps is {verdict}: {t['ratio']:.1f}x{scope}."
        )
    ms = s["profile"]["ms"]
    parts = {k: ms[k] for k in ("condition", "flow", "rla_decoder", "unet")}
    top = max(parts, key=parts.get)
    out.append(
        f"One step of {s['profile']['batch']} worlds took {ms['step']:.1f} ms; its largest part was {top} "
        f"({parts[top]:.1f} ms)."
    )
    return out


def _fidelity_summary(f: dict) -> list[str]:
    out = []
    sim = f.get("sim")
    if _measured(sim):
        for name, src in sim["sources"].items():
            models = src["models"]
            last = {m: v["horizons"][-1] for m, v in models.items()}
            h = next(iter(last.values()))["horizon"]
            parts = ", ".join(f"{m} {v['token_l1']:.4f}" for m, v in last.items())
            wm = next((m for m in last if m.startswith("RLA-WM")), None)
            verdicts = []
            for other in ("regression", "copy first frame"):
                if wm and other in last:
                    rel = "below" if last[wm]["token_l1"] < last[other]["token_l1"] else "not below"
                    verdicts.append(f"RLA-WM's token L1 is {rel} {other}'s")
            out.append(
                f"Fidelity against ManiSkill, {name} ({src['windows']} windows), token L1 at t+{h}: {parts}"
                + (f"; {'; '.join(verdicts)}" if verdicts else "")
                + "."
            )
            if src.get("check"):
                c = src["check"]
                out.append(
                    f"The ManiSkill replays of the held-out demos differ from the recorded videos by "
                    f"{c['pixel_mae']:.1f} grey levels on average and agree on success in "
                    f"{100 * c['success_agreement']:.0f} % of {c['episodes']} episodes."
                )
    rec = f.get("recorded")
    if _measured(rec):
        last = {m: v["horizons"][-1]["token_l1"] for m, v in rec["models"].items()}
        out.append(
            f"Against the recorded held-out frames ({rec['starts']} starts), token L1 at t+30: "
            + ", ".join(f"{m} {v:.4f}" for m, v in last.items())
            + "."
        )
    return out


def _policies_summary(p: dict) -> list[str]:
    rows = p["policies"]
    seeds = len(p["sim_seeds"])
    parts = [
        f"{r['name']} {100 * r['sim']['success_rate']:.0f} % (95 % CI {100 * r['sim']['ci95'][0]:.0f}-"
        f"{100 * r['sim']['ci95'][1]:.0f} %)"
        for r in rows
    ]
    out = [f"Policies in ManiSkill ({seeds} seeds each): " + ", ".join(parts) + "."]
    corr = p["spearman"]["wm_return"]
    if corr["rho"] is None:
        out.append(f"The rank correlation of world-model return with ManiSkill success is not defined: {corr['note']}.")
    else:
        level = "significant" if corr["p_value"] < 0.05 else "not significant"
        out.append(
            f"Across {corr['n']} policies, Spearman's rho between world-model return and ManiSkill success is "
            f"{corr['rho']:+.2f} (p = {corr['p_value']:.3f}, {level} at the 5 % level)."
        )
        if corr["p_value"] >= 0.05:
            out.append("With these policies and seeds, this run does not show that world-model return ranks them.")
    return out


def summary(results: dict) -> str:
    """The prose at the top of the report: one paragraph for the run, one per measured section, one naming what
    was not measured; every sentence from a number in `results`."""
    meta = results["meta"]
    load = describe_load(meta)
    paragraphs = [
        f"Measured on {meta['date']} on {describe_machine(meta['machine'])}, preset `{meta['preset']}`, bundle "
        f"`{meta['bundle']}` ({meta['robot']} {meta['task']}"
        + (", random weights: speed only" if meta.get("random_bundle") else "")
        + ")."
        + (f" {load[0].upper()}{load[1:]}." if load else "")
    ]
    gaps = []
    sentences = {"speed": _speed_summary, "fidelity": _fidelity_summary, "policies": _policies_summary}
    for name in SECTIONS:
        section = results.get(name)
        if _measured(section):
            paragraphs.append(" ".join(sentences[name](section)))
        else:
            gaps.append(_gap(name, section))
    if gaps:
        paragraphs.append("Not measured here: " + "; ".join(gaps) + ".")
    return "\n\n".join(paragraphs)


# ---------------------------------------------------------------------------------------------- the report
def _figures(names: list[str]) -> list[str]:
    return [f"![{Path(n).stem}]({n})" for n in names]


def _speed_md(s: dict, fidelity: dict | None) -> list[str]:
    sim = fidelity.get("sim") if _measured(fidelity) else None
    sweep = sim.get("euler_sweep") if _measured(sim) else None
    source = f"{sim['euler_source']}, windows of {sim['chunks']} chunks" if sweep else None
    return [
        speed.table(s),
        *_figures(s.get("figures", [])[:2]),
        "",
        speed.euler_table(s, sweep, source),
        *_figures(s.get("figures", [])[2:]),
    ]


def _fidelity_md(f: dict) -> list[str]:
    lines = ["### Against ManiSkill: same start frame, same action chunks", ""]
    sim = f.get("sim")
    if _measured(sim):
        lines += [sim_fidelity.table(sim), *_figures(sim.get("figures", [])), "", STRIP_CAPTION]
    else:
        lines.append(_gap("this part", sim))
    lines += ["", "### Against the recorded held-out frames (`benchmarks.prediction_quality`)", ""]
    rec = f.get("recorded")
    if _measured(rec):
        lines += [prediction_quality.table(rec), "", *_figures(rec.get("figures", []))]
    else:
        lines.append(_gap("this part", rec))
    return lines


def render(results: dict) -> str:
    """The whole REPORT.md."""
    meta = results["meta"]
    out = [
        f"# rla-gym side-by-side benchmark: {meta['date']}, {meta['machine_slug']}",
        "",
        summary(results),
        "",
        "## Run",
        "",
        f"- machine: {describe_machine(meta['machine'])}" + (f"; {describe_load(meta)}" if describe_load(meta) else ""),
        f"- preset `{meta['preset']}`, bundle `{meta['bundle']}`, {meta['robot']} {meta['task']}",
        f"- command: `{meta.get('command', '')}`",
        "- seconds per section: "
        + (", ".join(f"{k} {v:.0f}" for k, v in meta.get("seconds", {}).items()) or "none recorded"),
        f"- raw numbers: [{RAW}]({RAW})",
        "",
    ]
    titles = {
        "speed": "## 1. Speed: world model vs ManiSkill",
        "fidelity": "## 2. Fidelity: open-loop rollouts against the simulator",
        "policies": "## 3. Policies: success in ManiSkill, and does the world model rank them?",
    }
    for name in SECTIONS:
        section = results.get(name)
        out += [titles[name], ""]
        if not _measured(section):
            out += [_gap("This section", section) + ".", ""]
            continue
        if name == "speed":
            out += _speed_md(section, results.get("fidelity"))
        elif name == "fidelity":
            out += _fidelity_md(section)
        else:
            out += [policy_ranking.table(section), *_figures(section.get("figures", []))]
            out += [f"- {note}" for note in section.get("notes", [])]
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def write_report(results: dict, out: Path) -> Path:
    """REPORT.md and results.json into `out` (figures are already there); returns the report's path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / RAW).write_text(json.dumps(results, indent=2, default=str) + "\n")
    path = out / REPORT
    path.write_text(render(results))
    return path
