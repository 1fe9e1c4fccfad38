"""The benchmark report (benchmarks/report.py, benchmarks/run_all.py, `rla-gym bench`): REPORT.md renders from
synthetic results with a summary made only of measured numbers, a section without inputs says "not measured" and
why, run_all writes the report, its figures and results.json on a tiny bundle, refuses bad arguments in one line
with exit code 2, and `rla-gym bench` passes its command line through to run_all."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest
import torch
from agents_support import one_thread, tiny_bc

from benchmarks import report, run_all
from rla_gym.args import ArgumentError
from rla_gym.eval.run_info import machine_slug
from rla_gym.specs.seeds import SELECTION_SEEDS

__all__ = ["one_thread"]  # the autouse fixture, imported

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mani_skill"),
    pytest.mark.filterwarnings("ignore:.*precision lowered by casting:UserWarning"),
]


def _horizons(l1s: list[float], ssims: list[float]) -> list[dict]:
    return [{"horizon": 8 * (k + 1), "token_l1": a, "ssim": b} for k, (a, b) in enumerate(zip(l1s, ssims))]


def synthetic_results() -> dict:
    """Every section's structure with made-up numbers: what the template and the summary are built from."""
    wm = {"chunk_steps_per_s": 150.0, "sim_step_equivalents_per_s": 1200.0, "peak_mem_mb": 540.0, "device": "cpu"}
    rows = [
        {
            "num_envs": 1,
            "wm": {**wm, "sim_step_equivalents_per_s": 500.0},
            "maniskill_steps_per_s": 80.0,
            "ratio": 6.25,
        },
        {"num_envs": 8, "wm": wm, "maniskill_steps_per_s": 109.1, "ratio": 1200.0 / 109.1},
        {"num_envs": 32, "wm": wm, "maniskill_error": "RuntimeError: out of memory"},
    ]
    ms = {"encoder": 3.0, "condition": 9.0, "flow": 4.0, "rla_decoder": 7.0, "unet": 6.0, "step": 27.0}
    speed = {
        "robot": "ur10e",
        "task": "RollBall",
        "image_size": 64,
        "device": "cpu",
        "euler_steps": 1,
        "chunk_size": 8,
        "wm_steps": 20,
        "sim_steps": 100,
        "rows": rows,
        "profile": {"batch": 8, "euler_steps": 1, "ms": ms},
        "euler_sweep": {
            n: {
                "chunk_steps_per_s": 150.0 / n,
                "sim_step_equivalents_per_s": 1200.0 / n,
                "flow_ms": 4.0 * n,
                "step_ms": 27.0,
            }
            for n in (30, 1)
        },
        "sweep_envs": 8,
        "target": {"ratio_needed": 20.0, "num_envs": 8, "preset": "cpu", "ratio": 1200.0 / 109.1, "met": False},
        "figures": ["speed_throughput.png", "speed_components.png", "speed_euler.png"],
    }
    models = {
        "RLA-WM (1 Euler)": {"horizons": _horizons([0.035, 0.048], [0.96, 0.95])},
        "regression": {"horizons": _horizons([0.028, 0.037], [0.965, 0.96])},
        "copy first frame": {"horizons": _horizons([0.047, 0.053], [0.94, 0.93])},
    }
    check = {"episodes": 3, "pixel_mae": 3.7, "success_agreement": 1.0, "seed_base": 100000}
    fidelity = {
        "sim": {
            "chunk": 8,
            "chunks": 2,
            "sources": {"held-out demos": {"windows": 24, "models": models, "check": check}},
            "euler_sweep": {
                30: _horizons([0.05, 0.055], [0.95, 0.958])[-1],
                1: _horizons([0.0, 0.0485], [0.9, 0.962])[-1],
            },
            "euler_source": "held-out demos",
            "figures": ["fidelity_error_vs_horizon.png", "fidelity_strip_RollBall.png"],
        },
        "recorded": {"not_measured": "the paper preset compares with ManiSkill re-renders only"},
    }

    def rate(k: int, n: int) -> dict:
        from rla_gym.sim.evaluate import wilson_interval

        return {"success_rate": k / n, "successes": k, "episodes": n, "ci95": list(wilson_interval(k, n))}

    policies = {
        "policies": [
            {
                "name": "BC",
                "kind": "bc",
                "wm": {"mean_return": -0.5, **rate(4, 16)},
                "sim": {"mean_return": 1.0, **rate(6, 20)},
            },
            {
                "name": "RL iter 000010",
                "kind": "rl",
                "wm": {"mean_return": -0.4, **rate(5, 16)},
                "sim": {"mean_return": 1.0, **rate(8, 20)},
            },
            {
                "name": "random",
                "kind": "random",
                "wm": {"mean_return": -0.45, **rate(0, 16)},
                "sim": {"mean_return": 0.0, **rate(0, 20)},
            },
        ],
        "spearman": {
            "wm_return": {"n": 3, "rho": 0.5, "p_value": 0.667, "method": "exact permutation (6 orders)"},
            "wm_success": {"n": 3, "rho": 1.0, "p_value": 0.333, "method": "exact permutation (6 orders)"},
        },
        "sim_seeds": list(range(42, 62)),
        "sim_max_steps": 80,
        "wm_seeds": [0, 1],
        "wm_num_envs": 8,
        "notes": [],
        "figures": ["policy_ranking.png"],
    }
    machine = {
        "cpu": "Test CPU",
        "cpu_cores": 2,
        "memory_gb": 8.0,
        "os": "Linux",
        "python": "3.11",
        "torch": "2.x",
        "device": "cpu",
        "gpu": None,
        "load_average": 2.5,
    }
    meta = {
        "date": "2030-01-01",
        "preset": "quick",
        "bundle": "models/ur10e-RollBall-cpu",
        "random_bundle": False,
        "robot": "ur10e",
        "task": "RollBall",
        "machine": machine,
        "machine_slug": machine_slug(machine),
        "command": "run_all.py --quick",
        "seconds": {"speed": 100.0},
        "load_average_end": 3.0,
    }
    return {"meta": meta, "speed": speed, "fidelity": fidelity, "policies": policies}


def test_report_renders_every_section_and_a_summary_from_the_numbers(tmp_path):
    results = synthetic_results()
    path = report.write_report(results, tmp_path)
    text = path.read_text()
    assert text.startswith("# rla-gym side-by-side benchmark: 2030-01-01, cpu2")
    summary = report.summary(results)
    assert summary in text and "Test CPU (2 cores)" in summary and "preset `quick`" in summary
    assert "6.2x at num_envs 1" in summary and "11.0x at num_envs 8" in summary, "ratios as measured"
    assert "num_envs 32" not in summary, "no ratio where ManiSkill was not measured"
    assert "is not met: 11.0x" in summary
    assert "load average 2.5 at the start, 3.0 at the end, on 2 cores" in summary
    assert "RLA-WM's token L1 is below copy first frame's" in summary
    assert "RLA-WM's token L1 is not below regression's" in summary
    assert "not significant at the 5 % level" in summary and "does not show" in summary
    for heading in ("## 1. Speed", "## 2. Fidelity", "## 3. Policies"):
        assert heading in text
    assert "| 32 | 150.0 | 1200 | not measured | - |" in text and "RuntimeError: out of memory" in text
    assert (
        "(speed_throughput.png)" in text and "(fidelity_strip_RollBall.png)" in text and "(policy_ranking.png)" in text
    )
    assert "not measured (the paper preset compares with ManiSkill re-renders only)" in text
    assert "| 30 | 5.0 | 40 | 120.0 | 0.0550 | 0.958 |" in text, "Euler speed joined with its fidelity error"
    assert json.loads((tmp_path / "results.json").read_text())["speed"]["rows"][1]["num_envs"] == 8


def test_summary_names_sections_without_numbers_and_claims_nothing_for_them():
    results = synthetic_results()
    results["speed"] = {"not_measured": "no ManiSkill here"}
    results["policies"] = {"failed": "RuntimeError: boom"}
    del results["fidelity"]
    text = report.render(results)
    summary = report.summary(results)
    assert "speed: not measured (no ManiSkill here)" in summary
    assert "fidelity: not selected in this run" in summary and "policies: failed (RuntimeError: boom)" in summary
    assert "x at num_envs" not in summary and "Spearman" not in summary and "token L1" not in summary
    assert "This section: not measured (no ManiSkill here)." in text


def test_target_verdict_and_undefined_rank_correlation_follow_the_numbers():
    results = synthetic_results()
    results["speed"]["target"].update(ratio=24.0, met=True)
    results["policies"]["spearman"]["wm_return"] = {
        "n": 3,
        "rho": None,
        "p_value": None,
        "method": None,
        "note": "every simulator score is equal: no ranking to compare",
    }
    summary = report.summary(results)
    assert "is met: 24.0x" in summary
    assert "not defined: every simulator score is equal" in summary and "rho" not in summary


# ---------------------------------------------------------------------------------------------- run_all
class FakeSim:
    def __init__(self) -> None:
        self.calls = []

    def __call__(self, robot, task, num_envs, steps, size):
        self.calls.append(num_envs)
        return 40.0


def _args(**kw) -> argparse.Namespace:
    args = run_all.build_parser().parse_args([])
    return argparse.Namespace(**{**vars(args), **kw})


TINY = run_all.Preset(  # seconds per section on a tiny bundle
    "tiny",
    "cpu",
    "tiny",
    num_envs=(1, 2),
    sim_num_envs=(1,),
    wm_steps=2,
    sim_steps=5,
    euler=(2, 1),
    sweep_envs=2,
    profile_repeats=1,
    sim_size=64,
    fidelity_episodes=1,
    fidelity_chunks=2,
    fidelity_stride=8,
    fidelity_policy_seeds=tuple(SELECTION_SEEDS[:1]),
    recorded_starts=2,
    sim_seeds=tuple(SELECTION_SEEDS[:1]),
    sim_max_steps=8,
    wm_seeds=(0,),
    wm_envs=2,
)


def test_run_all_writes_report_json_and_figures_with_missing_inputs_not_measured(random_bundle_dir, tmp_path, capsys):
    fake = FakeSim()
    results = run_all.run(_args(bundle=str(random_bundle_dir), task="RollBall", out=tmp_path), TINY, fake)
    assert fake.calls == [1], "ManiSkill measured at the preset's sizes only"
    assert results["speed"]["rows"][0]["ratio"] == pytest.approx(
        results["speed"]["rows"][0]["wm"]["sim_step_equivalents_per_s"] / 40.0
    )
    assert "random weights" in results["fidelity"]["not_measured"]
    assert "random weights" in results["policies"]["not_measured"]
    text = (tmp_path / "REPORT.md").read_text()
    assert text in capsys.readouterr().out, "the report is printed"
    for name in results["speed"]["figures"]:
        assert (tmp_path / name).stat().st_size > 1000 and f"({name})" in text
    assert json.loads((tmp_path / "results.json").read_text())["meta"]["preset"] == "tiny"
    assert not results["_failed"]


def test_run_all_merge_keeps_the_sections_it_skips_from_the_previous_run(random_bundle_dir, tmp_path):
    kw = dict(bundle=str(random_bundle_dir), task="RollBall", out=tmp_path)
    first = run_all.run(_args(**kw), TINY, FakeSim())
    second = run_all.run(_args(**kw, only="policies", merge=True), TINY, FakeSim())
    assert second["speed"] == json.loads(json.dumps(first["speed"])), "speed kept from the previous results.json"
    assert second["meta"]["merged_from_previous_run"] == ["speed", "fidelity"]
    assert "speed" in (tmp_path / "REPORT.md").read_text().lower()
    third = run_all.run(_args(**kw, only="policies"), TINY, FakeSim())
    assert "speed" not in third, "without --merge a run reports only what it ran"


def test_run_all_needs_held_out_episodes_for_fidelity_on_a_trained_bundle(tmp_path):
    from rla_gym.models.random_bundle import make_random_bundle

    trained = dataclasses.replace(make_random_bundle("ur10e", "tiny", task="RollBall"), random=False)
    trained.save_pretrained(tmp_path / "bundle")
    with pytest.raises(ArgumentError, match="argument --heldout: expected held-out episodes for the fidelity"):
        run_all.run(_args(bundle=str(tmp_path / "bundle"), only="fidelity", out=tmp_path / "r"), TINY)
    assert not (tmp_path / "r").exists(), "nothing is written before the arguments are checked"


@pytest.fixture(scope="module")
def panda_bundle_dir(tmp_path_factory):
    from rla_gym.models.random_bundle import make_random_bundle

    path = tmp_path_factory.mktemp("bundles") / "panda-tiny"
    make_random_bundle("panda", "tiny", episodes=2, length=16, seed=0).save_pretrained(path)
    return path


def _exit_code(argv: list[str]) -> int:
    try:
        return run_all.main(argv, "rla-gym bench")
    except SystemExit as exit_:  # the parser's own errors (a choice, a value type) exit from the parser
        return exit_.code


BAD_ARGUMENTS = [  # (arguments, what the one line must say); {tmp}: a folder, {file}: a file, {panda}: a bundle
    (["--bundle", "/nonexistent"], "argument --bundle: expected a bundle folder (config.json, manifest.json, "
     "*.safetensors) or a hub id; got '/nonexistent' (does not exist)"),
    (["--bundle", "{file}"], "argument --bundle: expected a bundle folder (config.json, manifest.json, *.safetensors) "
     "or a hub id; got '{file}' (a file)"),
    (["--bundle", "{panda}"], "argument --bundle: expected a ur10e bundle (--robot, default ur10e); got a panda bundle"),
    (["--out", "{file}"], "argument --out: expected a folder to write into (new or existing); got '{file}' (a file)"),
    (["--demo-seed-base", "-1"], "argument --demo-seed-base: expected an integer >= 0; got '-1'"),
    (["--heldout", "{tmp}"], "argument --heldout: expected a folder of held-out episodes; got {tmp} (no traj_* in it)"),
    (["--heldout", "{file}"], "argument --heldout: expected an existing folder; got '{file}' (a file)"),
    (["--task", "Bogus"], "argument --task: expected a task of ur10e (PushT, RollBall); got 'Bogus'"),
    (["--robot", "panda", "--task", "RollBall"], "argument --task: expected a task of panda (PullCube, PullCubeTool); "
     "got 'RollBall'"),
    (["--only", "speed,fast"], "argument --only: expected a comma-separated list of speed, fidelity, policies; got "
     "'speed,fast'"),
    (["--robot", "franka"], "argument --robot: invalid choice: 'franka'"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "says"), BAD_ARGUMENTS, ids=[" ".join(a) for a, _ in BAD_ARGUMENTS])
def test_run_all_refuses_a_bad_argument_in_one_line_with_exit_code_2(argv, says, panda_bundle_dir, tmp_path, capsys):
    (tmp_path / "a_file").write_text("x")
    names = {"tmp": str(tmp_path), "file": str(tmp_path / "a_file"), "panda": str(panda_bundle_dir)}
    argv = [a.format(**names) for a in argv]
    code = _exit_code([*argv, "--out", str(tmp_path / "report")] if "--out" not in argv else argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.splitlines() == [err.strip()] and err.startswith(f"rla-gym bench: {says.format(**names)}"), err
    assert "Traceback" not in err and not (tmp_path / "report").exists()


def test_run_all_refuses_a_device_this_machine_lacks(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert _exit_code(["--device", "cuda", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rla-gym bench: argument --device: expected cpu") and "'cuda'" in err


# ---------------------------------------------------------------------------------------------- rla-gym bench
def test_bench_command_passes_its_command_line_through_to_run_all(monkeypatch, tmp_path):
    from rla_gym.cli import build_parser
    from rla_gym.commands import bench

    given = ["--paper", "--only", "speed", "--heldout", str(tmp_path), "--demo-seed-base", "7", "--help", "--", "x"]
    args = build_parser(["bench", *given]).parse_args(["bench", *given])
    assert bench.checkout_root() is not None, "this checkout holds benchmarks/run_all.py"
    calls = []
    monkeypatch.setattr(bench.subprocess, "call", lambda cmd, env: calls.append((cmd, env)) or 0)
    assert bench.run(args) == 0
    ((cmd, env),) = calls
    assert cmd[-len(given) :] == given, "every word after `bench`, unread and in order"
    assert "benchmarks.run_all" in cmd[2] and str(bench.checkout_root()) in env["PYTHONPATH"]


def test_rla_gym_bench_answers_a_bad_argument_in_one_line_with_exit_code_2():
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "rla_gym.cli", "bench", "--task", "Bogus"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr == "rla-gym bench: argument --task: expected a task of ur10e (PushT, RollBall); got 'Bogus'\n"


def test_bench_command_without_a_checkout_says_where_the_benchmarks_live(monkeypatch, capsys):
    from rla_gym.commands import bench

    monkeypatch.setattr(bench, "checkout_root", lambda: None)
    assert bench.run(argparse.Namespace(preset="quick")) == 2
    assert "source checkout" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------- ManiSkill
@pytest.mark.sim
@pytest.mark.slow
def test_run_all_fidelity_and_policies_on_tiny_inputs(tmp_path):
    from sim_support import require_sim

    from rla_gym.agents.lora import LoRAActorCritic, LoRAAgentConfig
    from rla_gym.data import synthetic_episode, write_episode
    from rla_gym.models.random_bundle import make_random_bundle
    from rla_gym.train.wmrl import TRAINER_STATE, checkpoint_dir

    require_sim()
    trained = dataclasses.replace(make_random_bundle("ur10e", "tiny", task="RollBall"), random=False)
    trained.save_pretrained(tmp_path / "bundle")
    heldout = tmp_path / "heldout"
    write_episode(heldout / "success", 0, synthetic_episode(45, 32, robot="ur10e", task="RollBall-v1", seed=0))
    tiny_bc(0).save_pretrained(tmp_path / "bc")
    agent = LoRAActorCritic(tiny_bc(0), LoRAAgentConfig(residual_hidden=(16,), value_hidden=(16,)))
    torch.save({}, agent.save_pretrained(checkpoint_dir(tmp_path / "wmrl", 1)) / TRAINER_STATE)
    args = _args(
        bundle=str(tmp_path / "bundle"), heldout=heldout, bc=tmp_path / "bc", wmrl_out=tmp_path / "wmrl",
        only="fidelity,policies", out=tmp_path / "report",
    )  # fmt: skip
    results = run_all.run(args, TINY)
    assert not results["_failed"], results
    sources = results["fidelity"]["sim"]["sources"]
    assert list(sources) == ["held-out demos", "BC actions", "RL iter 000001 actions"]
    assert results["fidelity"]["recorded"]["starts"] == 2
    assert [p["name"] for p in results["policies"]["policies"]] == ["BC", "RL iter 000001", "random"]
    text = (tmp_path / "report" / "REPORT.md").read_text()
    assert "| BC |" in text and "Replay check (1 episodes" in text and "speed: not selected" in text
    for name in [*results["fidelity"]["sim"]["figures"], *results["policies"]["figures"]]:
        assert (tmp_path / "report" / name).stat().st_size > 1000
