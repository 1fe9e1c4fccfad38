"""The model card of each task folder of a zoo, from the measurements `scripts/build_zoo.sh` writes (issue 20).

    python -m benchmarks.zoo_card --zoo ~/rla-work/zoo --results ~/rla-work [--write]

Per task `<robot>-<task>-cpu` it reads `RESULTS/zoo-pq/<robot>-<task>/prediction_quality.json` (held-out open loop
against copy-first and the regression baseline), `RESULTS/zoo-objfid/<robot>-<task>/table.md` (objects and outcome,
issue 12) and `RESULTS/zoo-wmrl/<robot>-<task>/report.json` (BC and world-model RL on the report seeds). A missing
measurement is printed as "not measured yet", never left out. `--write` puts each card into its task folder (its
manifest updated), and the card of the BC policy beside it (`<task folder>-bc/`, from the BC run
`RESULTS/zoo-runs/bc-<robot>-<task>`) where both exist; without it the cards are printed. `--extra FOLDER=FILE`
appends a file to a task's card (the images it links go into the folder too). Last, one table of every task: the zoo
at a glance.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.prediction_quality import command_table, paired_lines, sources_line, with_ceiling

HEADER = """---
library_name: rla-gym
license: mit
pipeline_tag: robotics
tags:
  - world-model
  - reinforcement-learning
  - robotics
  - maniskill
  - dinov3
  - flow-matching
  - gymnasium
---
"""
NOT_MEASURED = "not measured yet (`scripts/build_zoo.sh` measures it)"
FIGURE_CAPTIONS = {  # by the first word of the prediction benchmark's figure names
    "error": "error against horizon, held-out starts",
    "strip": "real | RLA-WM | regression at t+0/10/20/30, two held-out starts",
}

POLICY_CURVE = "wmrl_learning_curve.png"  # `rla-gym wmrl`'s learning_curve.png, by the name it gets beside the card
POLICY_CURVE_CAPTION = (
    "world-model RL along the run: return in the world model; success in ManiSkill (selection seeds) and in it"
)


@dataclass(frozen=True)
class TaskResults:
    """What was measured for one task folder; None where nothing was."""

    folder: Path
    meta: dict[str, Any]  # the task folder's config.json
    robot: str
    task: str
    prediction: dict[str, Any] | None
    objects: str | None  # the object-fidelity table, markdown
    policies: dict[str, Any] | None  # a wmrl report.json
    figures: dict[str, Path]  # the prediction benchmark's figures (error against horizon, the strip), by file name
    numbers: dict[str, Path]  # the benchmarks' JSON, stored beside the card (a test or a reader checks the card's
    # tables against them), by the file name it gets there
    policy_figures: dict[str, Path] = field(default_factory=dict)  # the RL run's learning curve, by file name


def task_folders(zoo: Path) -> list[Path]:
    """The task folders of a layered zoo (config names its parts), sorted."""
    out = []
    for cfg in sorted(zoo.glob("*/config.json")):
        meta = json.loads(cfg.read_text())
        if meta.get("format") == "rla-gym-bundle" and "parts" in meta:
            out.append(cfg.parent)
    return out


def read_results(folder: Path, results: Path) -> TaskResults:
    meta = json.loads((folder / "config.json").read_text())
    robot, task = meta["robot"], meta["task"]
    name = f"{robot}-{task}"

    def load(path: Path) -> Any:
        return (
            (json.loads(path.read_text()) if path.suffix == ".json" else path.read_text()) if path.is_file() else None
        )

    pq, objfid = results / "zoo-pq" / name, results / "zoo-objfid" / name
    numbers = {  # what each benchmark wrote, by the name it gets beside the card
        "prediction_quality.json": pq / "prediction_quality.json",
        "object_fidelity.json": objfid / "results.json",
        "wmrl_report.json": results / "zoo-wmrl" / name / "report.json",
    }
    prediction = load(numbers["prediction_quality.json"])
    figures = {f: pq / f for f in (prediction or {}).get("figures", []) if (pq / f).is_file()}
    curve = results / "zoo-wmrl" / name / "learning_curve.png"
    return TaskResults(
        folder,
        meta,
        robot,
        task,
        prediction,
        load(objfid / "table.md"),
        load(numbers["wmrl_report.json"]),
        figures,
        {f: path for f, path in numbers.items() if path.is_file()},
        {POLICY_CURVE: curve} if curve.is_file() else {},
    )


def _at(model: dict[str, Any], horizon: int) -> dict[str, float]:
    return next(h for h in model["horizons"] if h["horizon"] == horizon)


def _wm_name(prediction: dict[str, Any]) -> str:
    return next(n for n in prediction["models"] if n.startswith("RLA-WM"))


def beats_copy(prediction: dict[str, Any]) -> tuple[bool, bool]:
    """At t+30, does RLA-WM beat copy-first (mean token L1 lower, mean SSIM higher)?"""
    wm, copy = _at(prediction["models"][_wm_name(prediction)], 30), _at(prediction["models"]["copy first frame"], 30)
    return wm["token_l1"] < copy["token_l1"], wm["ssim"] > copy["ssim"]


def prediction_table(prediction: dict[str, Any]) -> str:
    lines = [
        "| model | token L1 t+10 | t+20 | t+30 | SSIM t+10 | t+20 | t+30 | PSNR t+30 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, model in with_ceiling(prediction).items():
        h = [_at(model, t) for t in (10, 20, 30)]
        lines.append(
            f"| {name} | " + " | ".join(f"{x['token_l1']:.4f}" for x in h) + " | "
            + " | ".join(f"{x['ssim']:.3f}" for x in h) + f" | {h[2]['psnr']:.1f} |"
        )  # fmt: skip
    l1, ssim = beats_copy(prediction)
    verdict = "beats" if l1 and ssim else "does not beat"
    lines += [
        "",
        f"RLA-WM {verdict} copy-first at t+30 (token L1 {'lower' if l1 else 'not lower'}, SSIM "
        f"{'higher' if ssim else 'not higher'}); means over {prediction['starts']} starts. The UNet rebuilds the "
        f"held-out frames at SSIM {prediction['reconstruction']['ssim']:.3f}.",
        *(["", *paired] if (paired := paired_lines(prediction)) else []),
        *(["", sources] if (sources := sources_line(prediction)) else []),
    ]
    split = command_table(prediction)
    return "\n".join(lines + ["", split] if split else lines)


def policy_table(report: dict[str, Any]) -> str:
    """BC and the RL checkpoints a `rla-gym wmrl` run chose, on its report seeds, each against BC seed by seed (the
    run's own table, rebuilt from its report.json)."""
    from rla_gym.eval.protocol import compare_with_bc, report_table
    from rla_gym.eval.records import eval_from_dict

    bc = eval_from_dict(report["bc"])
    seeds = tuple(e.seed for e in bc.episodes)
    picks = {c["name"]: (int(c["iteration"]), eval_from_dict(c["eval"])) for c in report["rl"]}
    return "```\n" + report_table(bc, compare_with_bc(bc, picks, seeds), seeds) + "\n```"


def card(r: TaskResults) -> str:
    parts = r.meta.get("parts", {})
    threshold = r.meta.get("success_threshold")
    sections = [
        HEADER,
        f"# {r.folder.name}: {r.robot} {r.task} in the rla-gym zoo (CPU scale)\n",
        "**A CPU stand-in for the paper's DINOv3-L stack**, not the released weights. This task folder holds the "
        f"demos (resets and reward references) and the success threshold; the weights live in the parts it names: "
        f"the robot's dynamics `{parts.get('dynamics', '?')}` (RLA-WM; its regression baseline beside it) and the "
        "shared encoder, UNet and RLA autoencoder that every robot and task of the zoo uses. "
        f'`gym.make("RLAWorldModel-v0", robot="{r.robot}", task="{r.task}")` loads it with no `bundle=`.',
        "Success threshold (goal-token L1, `rla-gym calibrate` on the demos): "
        + (f"{threshold:.4f}." if isinstance(threshold, (int, float)) else "not calibrated."),
        "## Held-out prediction\n\nOpen loop over 3 chunks of 10 recorded joint targets from held-out episodes "
        "(training seeds never overlap them), `benchmarks/prediction_quality.py`:\n",
        prediction_table(r.prediction) if r.prediction else NOT_MEASURED,
        "\n\n".join(f"![{FIGURE_CAPTIONS.get(f.split('_')[0], f)}]({f})" for f in r.figures),
        "## Does it see the task?\n\nTask objects in the renders, their positions probed from the predicted tokens, "
        "and whether the predicted end tells the real outcome from a counterfactual one (issue 12), "
        "`benchmarks/object_fidelity.py`:\n",
        r.objects.strip() if r.objects else NOT_MEASURED,
        "## Policies in ManiSkill\n\nBC, then world-model RL from it (`rla-gym wmrl`: checkpoints chosen on the "
        "selection seeds and by the world model alone), all on report seeds that chose nothing, each against BC "
        "seed by seed:\n",
        policy_table(r.policies) if r.policies else NOT_MEASURED,
        "\n\n".join(f"![{POLICY_CURVE_CAPTION}]({f})" for f in r.policy_figures),
        "The numbers behind these tables are stored beside this card: "
        + (", ".join(f"`{f}`" for f in r.numbers) if r.numbers else "none yet")
        + ". Rebuild: `scripts/build_zoo.sh`; this card: `python -m benchmarks.zoo_card --write`.",
    ]
    return "\n\n".join(s.strip("\n") for s in sections if s.strip()) + "\n"


def linked_images(markdown: str, beside: Path) -> dict[str, Path]:
    """The images a markdown file links by plain file name (`![..](name.png)`), found beside it; one missing is an
    error (a card must not link a figure its folder lacks)."""
    import re

    names = re.findall(r"!\[[^\]]*\]\(([^)/\s]+)\)", markdown)
    missing = [n for n in names if not (beside / n).is_file()]
    if missing:
        raise FileNotFoundError(f"links {', '.join(missing)}, not found in {beside}")
    return {n: beside / n for n in names}


BC_HEADER = HEADER.replace("  - world-model\n", "  - behavior-cloning\n")


def bc_card(folder: Path, run: Path) -> str:
    """The card of `<task folder>-bc/`: the BC policy `rla-gym wmrl` starts from, trained by `build_zoo.sh` (its run
    folder `run`: the training config and the held-out chunk MSE along the run)."""
    import csv

    meta = json.loads((folder / "config.json").read_text())
    network = json.loads((run / "final" / "bc_policy.json").read_text())["network"]
    train = json.loads((run / "train_config.json").read_text())
    evals = list(csv.DictReader((run / "eval.csv").open())) if (run / "eval.csv").is_file() else []
    mse = (
        f"Held-out chunk MSE (normalised joint targets, the task's successful held-out episodes, seeds 2 000 000+): "
        f"{float(evals[0]['mse']):.4f} at step {evals[0]['step']}, {float(evals[-1]['mse']):.4f} at step "
        f"{evals[-1]['step']}."
        if evals
        else "Held-out chunk MSE: not measured (no held-out episodes in the run)."
    )
    sections = [
        BC_HEADER,
        f"# {folder.name}-bc: the BC policy beside {folder.name}\n",
        f"The behaviour-cloning ResNet-18 chunk policy for {meta['robot']} {meta['task']} that `rla-gym wmrl` starts "
        f"world-model RL from when no `--bc` is given (found as `<bundle>-bc/` beside `{folder.name}/`). Trained here, "
        "on CPU, on the task's successful scripted training episodes (ManiSkill seeds 1 000 000+: no selection or "
        "report seed among them). Its success in ManiSkill, and RL from it, are in the task folder's card "
        '("Policies in ManiSkill").',
        "| | |\n|---|---|\n"
        f"| input | {network['image_size']} px RGB: the frame through the zoo's encoder and UNet |\n"
        f"| output | {network['horizon']} rows of {network['action_dim']} normalised joint targets; the first "
        f"{network['n_action_steps']} are executed |\n"
        f"| training | {train['steps']} steps, batch {train['batch_size']}, AdamW lr {train['lr']:g}, weight decay "
        f"{train['weight_decay']:g}, {train['warmup_steps']} warm-up steps then cosine |\n"
        "| storage | fp16 network weights (the action range fp32) |",
        mse,
        "Rebuild: `scripts/build_zoo.sh` (stage 7), then `scripts/install_zoo.sh`.",
    ]
    return "\n\n".join(x.strip("\n") for x in sections) + "\n"


def zoo_table(results: list[TaskResults]) -> str:
    """One row per task: t+30 token L1 and SSIM of RLA-WM, regression and copy-first, and the policies' success."""
    lines = [
        "| robot | task | token L1 t+30: RLA-WM / regression / copy | SSIM t+30: RLA-WM / copy | beats copy | BC | RL (world model's pick) |",
        "|---|---|---|---|---|---:|---:|",
    ]  # fmt: skip
    for r in results:
        cells = ["not measured yet"] * 3
        if r.prediction:
            m = r.prediction["models"]
            wm, copy = _at(m[_wm_name(r.prediction)], 30), _at(m["copy first frame"], 30)
            reg = f"{_at(m['regression'], 30)['token_l1']:.4f}" if "regression" in m else "-"
            cells = [
                f"{wm['token_l1']:.4f} / {reg} / {copy['token_l1']:.4f}",
                f"{wm['ssim']:.3f} / {copy['ssim']:.3f}",
                "yes" if all(beats_copy(r.prediction)) else "no",
            ]
        bc = rl = "-"
        if r.policies:
            from rla_gym.eval.records import eval_from_dict

            bc = f"{100 * eval_from_dict(r.policies['bc']).success_rate:.1f} %"
            wm_pick = next((c for c in r.policies["rl"] if "world model" in c["name"]), None)
            rl = f"{100 * eval_from_dict(wm_pick['eval']).success_rate:.1f} %" if wm_pick else "-"
        lines.append(f"| {r.robot} | {r.task} | " + " | ".join(cells) + f" | {bc} | {rl} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from rla_gym.args import existing_dir

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", type=existing_dir, required=True, help="a layered zoo (build_zoo.sh's $ZOO)")
    parser.add_argument("--results", type=existing_dir, required=True, help="build_zoo.sh's $WORK")
    parser.add_argument("--write", action="store_true", help="write each card into its task folder")
    parser.add_argument(
        "--extra",
        action="append",
        default=[],
        metavar="FOLDER=FILE",
        help="markdown appended to that task folder's card (e.g. results measured before the zoo); repeatable",
    )
    args = parser.parse_args(argv)
    extra: dict[str, tuple[str, dict[str, Path]]] = {}  # task folder -> (markdown, the images it links)
    for item in args.extra:
        name, sep, file = item.partition("=")
        if not sep or not Path(file).is_file():
            parser.error(f"--extra: expected TASK_FOLDER=FILE with FILE a markdown file; got {item!r}")
        text = Path(file).read_text()
        try:
            extra[name] = (text, linked_images(text, Path(file).parent))
        except FileNotFoundError as err:
            parser.error(f"--extra: {file} {err}")
    folders = task_folders(args.zoo)
    if not folders:
        print(f"zoo_card: no task folder of a layered zoo under {args.zoo}", file=sys.stderr)
        return 2
    unknown = sorted(set(extra) - {f.name for f in folders})
    if unknown:
        parser.error(f"--extra: no task folder {', '.join(unknown)} under {args.zoo}")
    results = [read_results(f, args.results) for f in folders]
    for r in results:
        more, images = extra.get(r.folder.name, ("", {}))
        text = card(r) + ("\n" + more.strip("\n") + "\n" if more else "")
        bc_run = args.results / "zoo-runs" / f"bc-{r.robot}-{r.task}"
        bc_folder = r.folder.parent / (r.folder.name + "-bc")
        if args.write:
            from rla_gym.models.bundle import add_to_bundle

            shown = {**r.figures, **r.policy_figures, **r.numbers, **images}  # what it shows, stored beside it
            add_to_bundle(r.folder, {"README.md": text.encode(), **shown})
            print(f"wrote {r.folder / 'README.md'}")
            if bc_folder.is_dir() and (bc_run / "final").is_dir():  # a BC folder has no manifest: a plain file
                (bc_folder / "README.md").write_text(bc_card(r.folder, bc_run))
                print(f"wrote {bc_folder / 'README.md'}")
        else:
            print(text)
    print(zoo_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
