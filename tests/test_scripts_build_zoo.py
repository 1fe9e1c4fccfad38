"""scripts/build_zoo.sh's schedule, run against a stand-in `rla-gym` that only records what it is asked to do.

The real build takes ~5 h on two cores, so its wiring (which run waits for which, two lanes at a time, a failed run
stopping the build, a rerun keeping what is finished) is checked here with each command replaced by one that writes
the file the next stage looks for. The runs themselves have their own tests (test_train.py, test_layering.py).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TASKS = {  # robot uid -> the zoo's task folders under data/zoo-{train,heldout} (RollBall's live in data/{train,heldout})
    "ur10e_stick": ["PushT-v2"],
    "panda": ["PullCube-v2", "PullCubeTool-v1"],
    "xarm6_robotiq": ["PokeCube-v2"],
}

# Records "START|END <command> <out>" with a clock; writes the run's final weights (or a manifest) where the script
# checks for them. STANDIN_FAIL names a command ("train unet") that fails instead, STANDIN_SLOW those that take longer
# ("train unet|train rla").
STANDIN = r"""#!/usr/bin/env bash
out=$(printf '%s\n' "$@" | grep -A1 -x -- --out | tail -1)
[ "$1" = calibrate ] && out=$(printf '%s\n' "$@" | grep -A1 -x -- --bundle | tail -1)
echo "$(date +%s.%N) START $1 $2 $out" >> "$TRACE"
wm=$(printf '%s\n' "$@" | grep -A1 -x -- --wm | tail -1)
[ -n "$wm" ] && echo "$(date +%s.%N) WM $out $wm" >> "$TRACE"
rla=$(printf '%s\n' "$@" | grep -A1 -x -- --rla | tail -1)
[ -n "$rla" ] && echo "$(date +%s.%N) RLA $out $rla" >> "$TRACE"
bc=$(printf '%s\n' "$@" | grep -A1 -x -- --bc | tail -1)
[ -n "$bc" ] && echo "$(date +%s.%N) BC $out $bc" >> "$TRACE"
if [ "$1 $2" = "${STANDIN_FAIL:-}" ]; then echo "stand-in: $1 $2 failed" >&2; exit 3; fi
case "|${STANDIN_SLOW:-}|" in *"|$1 $2|"*) sleep 2 ;; *) sleep 0.2 ;; esac
case "$1 $2" in
  "train unet") f=image_decoder ;; "train rla") f=rla_decoder ;; "train wm") f=world_model ;;
  "train regression") f=regression ;; "train bc") f=bc_policy ;; *) f= ;;
esac
mkdir -p "$out"
case "$1" in
  train) mkdir -p "$out/final" && touch "$out/final/$f.safetensors" ;;
  wmrl) touch "$out/report.json" ;;
  make-bundle) touch "$out/manifest.json" ;;
  calibrate) echo '{"success_threshold": 0.1}' > "$out/config.json" ;;
esac
echo "$(date +%s.%N) END $1 $2 $out" >> "$TRACE"
"""
PYTHON = r"""#!/usr/bin/env bash
echo "$(date +%s.%N) PY $*" >> "$TRACE"
out=$(printf '%s\n' "$@" | grep -A1 -x -- --out | tail -1)
case "$*" in
  *prediction_quality*) mkdir -p "$out" && touch "$out/prediction_quality.json" ;;
  *object_fidelity*) mkdir -p "$out" && touch "$out/results.json" ;;
esac
"""


def _executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout holding the real script, a stand-in venv, and a work folder with empty episode folders."""
    repo = tmp_path / "repo"
    (repo / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "build_zoo.sh", repo / "scripts" / "build_zoo.sh")
    (repo / "scripts" / "sim_env.sh").write_text("")
    _executable(repo / ".venv" / "bin" / "rla-gym", STANDIN)
    _executable(repo / ".venv" / "bin" / "python", PYTHON)
    work = tmp_path / "work"
    for split in ("train", "heldout"):
        (work / "data" / split).mkdir(parents=True)
        for uid, tasks in TASKS.items():
            for task in tasks:
                (work / "data" / f"zoo-{split}" / uid / task).mkdir(parents=True)
    return repo


def _build(repo: Path, **env: str) -> tuple[subprocess.CompletedProcess, list[tuple[float, str, str]]]:
    work = repo.parent / "work"
    trace = repo.parent / "trace"
    trace.unlink(missing_ok=True)
    run = subprocess.run(
        ["bash", str(repo / "scripts" / "build_zoo.sh")],
        env={**os.environ, "WORK": str(work), "COLLECT": "0", "TRACE": str(trace), "POLL": "0.1", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    events = []
    for line in trace.read_text().splitlines() if trace.exists() else []:
        clock, kind, rest = line.split(" ", 2)
        events.append((float(clock), kind, rest.replace(str(work) + "/", "")))
    return run, events


def _span(events, out: str, command: str = "") -> tuple[float, float]:
    """(start, end) of the one command (starting with `command`) that writes `out` (relative to the work folder)."""
    ours = [(t, kind) for t, kind, what in events if what.startswith(command) and what.endswith(" " + out)]
    starts = [t for t, kind in ours if kind == "START"]
    ends = [t for t, kind in ours if kind == "END"]
    assert len(starts) == 1 and len(ends) == 1, (out, starts, ends)
    return starts[0], ends[0]


def _passed(events, flag: str) -> dict[str, str]:
    """out -> the path the command writing it was given as --wm, --rla or --bc (the stand-in's WM, RLA, BC lines)."""
    return {what.split()[0]: what.split()[1] for _, kind, what in events if kind == flag}


def test_every_run_starts_after_what_it_needs_two_at_a_time(checkout):
    # the fine-tunes wait for the UNet, the rest does not; the RLA autoencoder is slow too, so that the two overlap
    # even when a loaded machine starts the second worker late
    run, events = _build(checkout, STANDIN_SLOW="train unet|train rla")
    assert run.returncode == 0, run.stderr
    rla, unet = _span(events, "zoo-runs/rla"), _span(events, "zoo-runs/unet")
    dec = _span(events, "zoo-runs/rla-dec")  # the decoder-only stage continues the shared RLA run
    assert dec[0] >= rla[1]
    robots = ("ur10e", "panda", "xarm6_robotiq")
    for robot in robots:
        wm = _span(events, f"zoo-runs/wm-{robot}")
        assert wm[0] >= dec[1], f"RLA-WM of {robot} started before the shared RLA decoder was written"
        stage1 = _span(events, f"zoo-init/{robot}-stage1")
        assert stage1[0] >= max(unet[1], wm[1]), f"{robot}'s stage-1 bundle came before the UNet or its RLA-WM"
        token = _span(events, f"zoo-runs/wm-{robot}-token")
        assert token[0] >= stage1[1]
        stage2 = _span(events, f"zoo-init/{robot}-stage2")  # the t = 1 fine-tune starts from the token model
        assert stage2[0] >= token[1] and _span(events, f"zoo-runs/wm-{robot}-t1")[0] >= stage2[1]
        _span(events, f"zoo-runs/regression-{robot}")
    # two runs at a time (the UNet beside the RLA autoencoder, then the RLA-WMs), never more
    assert unet[0] < rla[1] and rla[0] < unet[1]
    training = [(t, kind) for t, kind, what in events if what.startswith("train ")]
    running = peak = 0
    for _, kind in sorted(training):
        running += 1 if kind == "START" else -1
        peak = max(peak, running)
    assert peak == 2
    # task folders one after another (they write the same shared part), each after its robot's fine-tune
    folders = [
        _span(events, f"zoo/{name}-cpu", "make-bundle") for name in ("ur10e-RollBall", "ur10e-PushT", "panda-PullCube")
    ]
    assert all(a[1] <= b[0] for a, b in zip(folders, folders[1:], strict=False))
    assert folders[0][0] >= _span(events, "zoo-runs/wm-ur10e-t1")[1]
    # each task folder ships its robot's t = 1 fine-tune
    shipped = _passed(events, "WM")
    for pair in ("ur10e-RollBall", "ur10e-PushT", "panda-PullCube", "panda-PullCubeTool", "xarm6_robotiq-PokeCube"):
        assert shipped[f"zoo/{pair}-cpu"] == f"zoo-runs/wm-{pair.split('-')[0]}-t1"
    # the decoder-only stage starts from the shared RLA run; every RLA-WM and task folder decodes through its decoder
    rla_of = _passed(events, "RLA")
    assert rla_of["zoo-runs/rla-dec"] == "zoo-runs/rla"
    users = [out for out in rla_of if out.startswith(("zoo/", "zoo-runs/wm-", "zoo-init/"))]
    assert len(users) == 5 + 3 * 3 + 3 * 2 and {rla_of[out] for out in users} == {"zoo-runs/rla-dec"}
    # every task measured, and each robot's policies trained and scored
    measured = [what for _, kind, what in events if kind == "PY" and "prediction_quality" in what]
    assert len(measured) == 5
    bc_of = _passed(events, "BC")
    for pair in ("panda-PullCube", "xarm6_robotiq-PokeCube", "ur10e-PushT", "ur10e-RollBall"):
        assert _span(events, f"zoo-wmrl/{pair}")[0] >= _span(events, f"zoo-runs/bc-{pair}")[1]
        assert bc_of[f"zoo-wmrl/{pair}"] == f"zoo-runs/bc-{pair}/final"


def test_rollball_rl_starts_from_the_default_bc_where_it_is_shipped(checkout):
    """The card's RollBall RL run starts from the BC shipped beside the default (trained on the RollBall-only stack);
    only without it does the build train one. The other tasks' BC policies are trained either way."""
    shipped = checkout / "models" / "ur10e-RollBall-cpu-bc"
    shipped.mkdir(parents=True)
    (shipped / "bc_policy.safetensors").touch()
    run, events = _build(checkout)
    assert run.returncode == 0, run.stderr
    bc_of = _passed(events, "BC")
    assert bc_of["zoo-wmrl/ur10e-RollBall"] == "models/ur10e-RollBall-cpu-bc"
    trained = [what for _, kind, what in events if kind == "START" and what.startswith("train bc")]
    assert sorted(t.split("zoo-runs/")[1] for t in trained) == [
        "bc-panda-PullCube", "bc-ur10e-PushT", "bc-xarm6_robotiq-PokeCube"
    ]  # fmt: skip


def test_a_rerun_keeps_what_is_finished(checkout):
    assert _build(checkout)[0].returncode == 0
    run, events = _build(checkout)
    assert run.returncode == 0, run.stderr
    assert [what for _, kind, what in events if kind == "START"] == []  # every run, bundle and report was kept


def test_a_rerun_calibrates_a_task_folder_whose_calibration_was_cut_off(checkout):
    assert _build(checkout)[0].returncode == 0
    (checkout.parent / "work" / "zoo" / "ur10e-PushT-cpu" / "config.json").write_text('{"parts": {}}')
    run, events = _build(checkout)
    assert run.returncode == 0, run.stderr
    assert [what for _, kind, what in events if kind == "START"] == ["calibrate --bundle zoo/ur10e-PushT-cpu"]


def test_a_failed_unet_stops_what_needs_it_and_nothing_else(checkout):
    run, events = _build(checkout, STANDIN_FAIL="train unet")
    assert run.returncode != 0
    assert "build_zoo: unet failed" in run.stderr
    assert (
        "these did not finish: unet token:ur10e token:panda token:xarm6_robotiq t1:panda t1:xarm6_robotiq t1:ur10e \n"
        in run.stderr
    )
    started = [what for _, kind, what in events if kind == "START"]
    assert not [w for w in started if "stage" in w or "-token" in w or "-t1" in w or "zoo/" in w]
    for robot in ("ur10e", "panda", "xarm6_robotiq"):  # what does not need the UNet went on
        assert f"train wm zoo-runs/wm-{robot}" in started and f"train regression zoo-runs/regression-{robot}" in started
    rerun, _ = _build(checkout)  # mended: a rerun does what is left
    assert rerun.returncode == 0, rerun.stderr


def test_a_failed_run_in_the_last_stage_fails_the_build(checkout):
    run, _ = _build(checkout, STANDIN_FAIL="wmrl --robot")
    assert run.returncode != 0
