"""The side-by-side benchmark suite: world model vs ManiSkill speed, fidelity and policy ranking, in one report.

    python -m benchmarks.run_all --quick --heldout ~/rla-work/data/heldout --wmrl-out out/wmrl
    rla-gym bench --quick --heldout ~/rla-work/data/heldout --wmrl-out out/wmrl      # the same (argv passed through)

writes benchmarks/results/<date>-<machine>/REPORT.md (summary, tables, PNG figures beside it) and results.json, and
prints the report. Sections (`--only speed,fidelity,policies`): speed (benchmarks/speed.py; ManiSkill for the
ratios), fidelity (benchmarks/sim_fidelity.py and prediction_quality.py; `--heldout` and a trained bundle), policies
(benchmarks/policy_ranking.py; a BC policy, `--bc` or beside the bundle, and/or `--wmrl-out` checkpoints). A section
whose inputs are missing is reported as not measured, with the reason; one that raises as failed. Presets: `--quick`
(CPU, the embedded default bundle, sized for under 30 minutes on 2 idle cores; not yet timed end to end) and
`--paper` (a GPU, the paper's sizes, `--bundle` the released weights; without it speed runs on random weights and
the rest is not measured; its CUDA paths were not run here). The arguments are defined here, once (`build_parser`,
with `rla_gym.args` types); a bad value stops before anything runs with one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import shlex
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from rla_gym.args import ArgumentError, bundle_source, existing_dir, non_negative_int, out_dir
from rla_gym.args import device as known_device
from rla_gym.specs.seeds import SELECTION_SEEDS

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
log = logging.getLogger("benchmarks.run_all")


@dataclass(frozen=True)
class Preset:
    """Every size of one benchmark run; `QUICK` and `PAPER` below (the tests make a tiny one)."""

    name: str
    device: str
    bundle_preset: str  # model preset of the default bundle ("cpu": the embedded default; "paper": released)
    num_envs: tuple[int, ...]  # world-model env sizes
    sim_num_envs: tuple[int, ...]  # ManiSkill sizes (one process per env on the CPU backend)
    wm_steps: int  # timed chunk steps per world-model measurement
    sim_steps: int  # timed ManiSkill steps per measurement
    euler: tuple[int, ...] = (30, 10, 4, 1)
    sweep_envs: int = 8
    profile_repeats: int = 5
    sim_size: int = 128  # ManiSkill camera pixels for fidelity and policies (the recorded size)
    fidelity_episodes: int = 8  # held-out demos replayed in ManiSkill
    fidelity_chunks: int = 4  # chunks per open-loop window
    fidelity_stride: int = 16  # env steps between window starts
    fidelity_policy_seeds: tuple[int, ...] = tuple(SELECTION_SEEDS[:4])
    recorded_starts: int = 64  # prediction_quality starts on the recorded frames (0: skip; it runs on the CPU)
    sim_seeds: tuple[int, ...] = tuple(SELECTION_SEEDS[:20])  # ManiSkill evaluation seeds per policy (42-61)
    sim_max_steps: int | None = None  # None: the task's episode length
    wm_seeds: tuple[int, ...] = (0, 1)  # world-model reset seeds per policy (x wm_envs episodes)
    wm_envs: int = 8
    max_checkpoints: int = 6


QUICK = Preset("quick", "cpu", "cpu", num_envs=(1, 8, 32), sim_num_envs=(1, 8, 32), wm_steps=20, sim_steps=100)
PAPER = Preset(
    "paper",
    "auto",
    "paper",
    num_envs=(1, 8, 32, 112),
    sim_num_envs=(1, 8, 32),  # 112 ManiSkill CPU processes do not fit one machine
    wm_steps=20,
    sim_steps=100,
    fidelity_episodes=40,
    fidelity_stride=10,
    recorded_starts=0,
    sim_seeds=tuple(SELECTION_SEEDS),
    wm_seeds=(0, 1, 2, 3),
    wm_envs=28,
)
PRESETS = {"quick": QUICK, "paper": PAPER}


SECTION_NAMES = ("speed", "fidelity", "policies")
FORWARDED = ("out", "heldout", "wmrl_out", "bc", "bundle", "robot", "task", "only", "device", "demo_seed_base")
DEFAULT_ROBOT = "ur10e"


class NotMeasured(Exception):
    """A section's inputs are missing: reported as "not measured: <reason>"."""


class _Parser(argparse.ArgumentParser):
    """argparse with a usage error as one line on stderr and exit code 2 (as `rla-gym`'s own parser)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: {message}\n")


def build_parser(prog: str = "python -m benchmarks.run_all") -> argparse.ArgumentParser:
    """The suite's command line (`rla-gym bench` passes its arguments through to this parser)."""
    from rla_gym.specs.robots import ROBOTS

    parser = _Parser(prog=prog, description=(__doc__ or "").split("\n")[0])
    preset = parser.add_mutually_exclusive_group()
    preset.add_argument(
        "--quick",
        dest="preset",
        action="store_const",
        const="quick",
        help="CPU, the embedded default bundle, sized for under 30 minutes on 2 idle cores (default)",
    )
    preset.add_argument(
        "--paper", dest="preset", action="store_const", const="paper", help="a GPU, paper sizes (--bundle: released)"
    )
    parser.set_defaults(preset="quick")
    parser.add_argument("--out", type=out_dir, help="report folder (default benchmarks/results/<date>-<machine>)")
    parser.add_argument(
        "--heldout", type=existing_dir, help="held-out ManiSkill episodes (rla-gym collect; fidelity needs them)"
    )
    parser.add_argument(
        "--demo-seed-base",
        type=non_negative_int,
        default=None,
        help="the held-out collection's --seed, for episodes that do not record it (default 100000: the shipped split)",
    )
    parser.add_argument(
        "--wmrl-out", type=Path, default=None, help="rla-gym wmrl --out: RL checkpoints in checkpoints/iter_*/"
    )
    parser.add_argument("--bc", type=Path, default=None, help="BC policy folder (default: beside the bundle)")
    parser.add_argument("--bundle", type=bundle_source, help="bundle folder or hub id (default: the preset's)")
    parser.add_argument("--robot", default=None, choices=sorted(ROBOTS), help=f"default {DEFAULT_ROBOT}")
    parser.add_argument("--task", default=None, help="default: the bundle's task (RollBall)")
    parser.add_argument(
        "--only", default=None, help=f"comma-separated sections to run, of {','.join(SECTION_NAMES)} (default: all)"
    )
    parser.add_argument("--device", type=known_device, help="default: the preset's (quick cpu, paper auto)")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the sections this run skips (--only) from the report folder's results.json, e.g. to time "
        "speed alone on a quiet machine after the other sections",
    )
    return parser


def to_argv(args: argparse.Namespace) -> list[str]:
    """The parsed arguments back as a command line (the report's `command`)."""
    argv = [f"--{args.preset}"] + (["--merge"] if getattr(args, "merge", False) else [])
    for name in FORWARDED:
        value = getattr(args, name, None)
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv


def _sections(only: str | None) -> list[str]:
    if not only:
        return list(SECTION_NAMES)
    chosen = [s.strip() for s in only.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SECTION_NAMES]
    if unknown or not chosen:
        raise ArgumentError("--only", f"a comma-separated list of {', '.join(SECTION_NAMES)}", repr(only))
    return chosen


def check_args(args: argparse.Namespace, preset: Preset) -> list[str]:
    """The checks of several values together, after the parser's (`rla_gym.args` types), before anything loads or
    is written; returns the sections. Raises `ArgumentError`."""
    from rla_gym.data.dataset import find_episode_dirs
    from rla_gym.models.zoo import bundle_robot_task, default_bundle_path
    from rla_gym.specs.robots import get_robot

    sections = _sections(args.only)
    spec = get_robot(args.robot or DEFAULT_ROBOT)
    if args.task is not None and args.task not in spec.tasks:
        raise ArgumentError("--task", f"a task of {spec.name} ({', '.join(spec.tasks)})", repr(args.task))
    if args.bundle is not None:
        robot, _ = bundle_robot_task(Path(args.bundle).expanduser())  # (None, None): a hub id
        if robot not in (None, spec.name):
            raise ArgumentError(
                "--bundle", f"a {spec.name} bundle (--robot, default {DEFAULT_ROBOT})", f"a {robot} bundle"
            )
    elif preset.bundle_preset == "cpu" and default_bundle_path(spec.name, args.task) is None:
        task = f" {args.task}" if args.task else ""
        raise ArgumentError(
            "--bundle", f"a bundle folder (models/ holds no embedded default for {spec.name}{task})", "none"
        )
    if args.heldout is not None and not find_episode_dirs(Path(args.heldout).expanduser()):
        raise ArgumentError("--heldout", "a folder of held-out episodes", f"{args.heldout} (no traj_* in it)")
    return sections


def _bc_path(args: argparse.Namespace, bundle_path: Path | None) -> Path | None:
    """--bc, else the BC policy shipped beside the bundle, else <wmrl-out>/bc."""
    if args.bc is not None:
        return Path(args.bc)
    if bundle_path is not None:
        from rla_gym.train.wmrl import default_bc_path

        try:
            return default_bc_path(bundle_path)
        except FileNotFoundError:
            pass
    if args.wmrl_out is not None and (Path(args.wmrl_out) / "bc" / "bc_policy.json").is_file():
        return Path(args.wmrl_out) / "bc"
    return None


# ---------------------------------------------------------------------------------------------- sections
def speed_section(ctx: dict) -> dict:
    from benchmarks import speed
    from rla_gym.eval.speed import run_speed

    p: Preset = ctx["preset"]
    result = run_speed(
        ctx["bundle"], ctx["task"], p.num_envs, p.sim_num_envs, wm_steps=p.wm_steps, sim_steps=p.sim_steps,
        device=ctx["device"], euler=p.euler, sweep_envs=p.sweep_envs, profile_repeats=p.profile_repeats,
        measure_sim=ctx.get("measure_sim"),
    )  # fmt: skip
    out = ctx["out"]
    result["figures"] = [
        speed.plot_throughput(result, out / "speed_throughput.png").name,
        speed.plot_components(result, out / "speed_components.png").name,
    ]
    return result


def fidelity_section(ctx: dict) -> dict:
    from benchmarks.sim_fidelity import write_outputs
    from rla_gym.eval.sim_fidelity import against_maniskill

    if ctx["bundle"].random:
        raise NotMeasured("the bundle has random weights: open-loop error would measure nothing")
    if ctx["heldout"] is None:
        raise NotMeasured("no held-out episodes (--heldout)")
    p: Preset = ctx["preset"]
    rl = [e for e in ctx["policies"] if e.kind == "rl"]
    policies = [e for e in ctx["policies"] if e.kind == "bc"] + rl[-1:]  # BC and the latest RL checkpoint
    sim = against_maniskill(
        ctx["bundle"], ctx["task"], ctx["heldout"], policies, size=p.sim_size, chunks=p.fidelity_chunks,
        stride=p.fidelity_stride, max_episodes=p.fidelity_episodes, policy_seeds=list(p.fidelity_policy_seeds),
        seed_base=ctx["seed_base"], regression=ctx["regression"], euler=p.euler, progress=True,
    )  # fmt: skip
    return {"sim": write_outputs(ctx["bundle"], sim, ctx["out"], ctx["task"]), "recorded": recorded_quality(ctx)}


def recorded_quality(ctx: dict) -> dict:
    """benchmarks.prediction_quality on the recorded held-out frames (CPU), or why not."""
    from benchmarks.prediction_quality import measure

    p, bundle = ctx["preset"], ctx["bundle"]
    if not p.recorded_starts:
        return {"not_measured": f"the {p.name} preset compares with ManiSkill re-renders only"}
    if bundle.stack.device.type != "cpu":
        return {"not_measured": "benchmarks.prediction_quality runs on the CPU only"}
    return measure(
        bundle, ctx["heldout"], p.recorded_starts, ctx["out"], ctx["task"], euler=p.euler, prefix="recorded_"
    )


def policies_section(ctx: dict) -> dict:
    from benchmarks import policy_ranking
    from rla_gym.eval.ranking import rank_policies

    if ctx["bundle"].random:
        raise NotMeasured("the bundle has random weights: no trained policy belongs to it")
    entries = ctx["policies"]
    if not any(e.kind != "random" for e in entries):
        raise NotMeasured("; ".join(ctx["policy_notes"]) + ": only a random policy to rank")
    p: Preset = ctx["preset"]
    result = rank_policies(
        ctx["bundle"], entries, list(p.sim_seeds), list(p.wm_seeds), p.wm_envs, device=ctx["device"],
        sim_size=p.sim_size, sim_max_steps=p.sim_max_steps, progress=True,
    )  # fmt: skip
    result["notes"] = ctx["policy_notes"]
    result["figures"] = [policy_ranking.plot(result, ctx["out"] / "policy_ranking.png").name]
    return result


SECTION_FUNCTIONS = {"speed": speed_section, "fidelity": fidelity_section, "policies": policies_section}


# ---------------------------------------------------------------------------------------------- the run
def load_inputs(args: argparse.Namespace, preset: Preset, sections: list[str]) -> dict:
    """Bundle, regression baseline, policies and paths; a clear error for what the run cannot do without."""
    import torch

    from rla_gym.eval.policies import find_policies
    from rla_gym.eval.sim_fidelity import LEGACY_HELDOUT_SEED
    from rla_gym.models.bundle import BundleError, load_bundle, resolve_bundle_path
    from rla_gym.models.device import resolve_device
    from rla_gym.models.random_bundle import make_random_bundle
    from rla_gym.models.zoo import default_bundle_path
    from rla_gym.specs import seeds

    device = resolve_device(args.device or preset.device)
    robot = args.robot or DEFAULT_ROBOT
    source = args.bundle
    if source is None and preset.bundle_preset == "cpu":
        source = default_bundle_path(robot, args.task)  # check_args made sure there is one
    if source is None:  # paper without --bundle: speed on random paper-size weights (speed ignores the values)
        path = None
        bundle = make_random_bundle(robot, preset.bundle_preset, episodes=4, length=40, seed=0, task=args.task)
    else:
        try:
            path = resolve_bundle_path(source)
            bundle = load_bundle(path, device=device, robot=robot)
        except BundleError as err:  # a hub id that does not resolve, a damaged folder
            raise ArgumentError("--bundle", "a bundle folder or a hub id that loads", f"{source} ({err})") from None
    task = args.task or bundle.task
    heldout = Path(args.heldout).expanduser() if args.heldout is not None else None
    if "fidelity" in sections and not bundle.random and heldout is None:
        raise ArgumentError(
            "--heldout",
            "held-out episodes for the fidelity section (collected with `rla-gym collect ... --seed "
            f"{seeds.HELDOUT_SEED_BASE}`, episodes no model trained on), or --only speed,policies",
            "none",
        )
    bc = _bc_path(args, path)
    entries, notes = find_policies(bc, args.wmrl_out, preset.max_checkpoints)
    torch.manual_seed(0)
    return {
        "preset": preset,
        "device": str(device),
        "bundle": bundle,
        "bundle_path": str(path) if path is not None else f"random {preset.bundle_preset}-preset weights",
        "robot": bundle.robot,
        "task": task,
        "heldout": heldout,
        "seed_base": args.demo_seed_base if args.demo_seed_base is not None else LEGACY_HELDOUT_SEED,
        "regression": bundle.regression,  # a bundle component: None when the bundle ships none
        "policies": entries,
        "policy_notes": notes,
    }


def run(args: argparse.Namespace, preset: Preset | None = None, measure_sim=None) -> dict:
    """Run the selected sections and write the report; returns the results (what results.json holds).
    `preset` and `measure_sim` replace the named preset and ManiSkill's speed measurement (tests)."""
    from benchmarks import report
    from rla_gym.eval.run_info import carry_over, load_average, machine_info, machine_slug

    preset = preset or PRESETS[args.preset]
    sections = check_args(args, preset)
    ctx = load_inputs(args, preset, sections)
    ctx["measure_sim"] = measure_sim
    machine = machine_info(ctx["device"])
    date = datetime.date.today().isoformat()
    out = Path(args.out) if args.out is not None else RESULTS / f"{date}-{machine_slug(machine)}"
    out.mkdir(parents=True, exist_ok=True)
    ctx["out"] = out
    results: dict = {
        "meta": {
            "date": date,
            "preset": preset.name,
            "bundle": ctx["bundle_path"],
            "random_bundle": bool(ctx["bundle"].random),
            "robot": ctx["robot"],
            "task": ctx["task"],
            "machine": machine,
            "machine_slug": machine_slug(machine),
            "command": shlex.join(["python", "-m", "benchmarks.run_all", *to_argv(args)]),
            "seconds": {},
            "policies": [e.name for e in ctx["policies"]],
        }
    }
    if getattr(args, "merge", False) and (out / report.RAW).is_file():
        previous = json.loads((out / report.RAW).read_text())
        results["meta"]["merged_from_previous_run"] = carry_over(results, previous, SECTION_FUNCTIONS, sections)
    failed = False
    for name in sections:
        start = time.perf_counter()
        log.info("section %s", name)
        try:
            results[name] = SECTION_FUNCTIONS[name](ctx)
        except NotMeasured as why:
            results[name] = {"not_measured": str(why)}
        except Exception as err:  # the report says so; the exit status too
            traceback.print_exc()
            results[name] = {"failed": f"{type(err).__name__}: {err}"}
            failed = True
        results["meta"]["seconds"][name] = time.perf_counter() - start
        log.info("section %s: %.0f s", name, results["meta"]["seconds"][name])
    results["meta"]["load_average_end"] = load_average()
    speed = results.get("speed")
    if "speed" in sections and isinstance(speed, dict) and "rows" in speed:  # a merged one keeps its figure
        from benchmarks.speed import plot_euler

        fidelity = results.get("fidelity") or {}
        sweep = (fidelity.get("sim") or {}).get("euler_sweep")
        speed["figures"].append(plot_euler(speed, sweep, out / "speed_euler.png").name)
    path = report.write_report(results, out)
    print(path.read_text())
    print(f"wrote {path} and {out / report.RAW}")
    results["_failed"] = failed
    return results


def main(argv: list[str] | None = None, prog: str = "python -m benchmarks.run_all") -> int:
    """`prog` names the command in usage errors (`rla-gym bench` passes its own)."""
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        results = run(args)
    except ArgumentError as err:
        print(f"{prog}: {' '.join(str(err).split())}", file=sys.stderr)  # one line, whatever the cause said
        return 2
    return 1 if results["_failed"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
