"""Every `rla-gym` command answers a bad value with one line on stderr that names the argument, exit code 2, no
traceback, and nothing written to --out. One table per command; each row is what a new user might type."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rla_gym.cli import main


def run_cli(argv: list[str], capsys) -> tuple[int, list[str]]:
    """(exit code, non-empty stderr lines) of `rla-gym ARGV`, whether it returns or exits."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    return code, lines


def assert_refused(argv: list[str], arg: str, capsys, out: Path | None = None, words: str = "") -> str:
    """Exit code 2, one stderr line `rla-gym <cmd>: ...` naming `arg` (and `words`), nothing at `out`."""
    before = sorted(out.rglob("*")) if out is not None and out.exists() else None
    code, lines = run_cli(argv, capsys)
    assert code == 2, f"{argv}: exit code {code}; stderr {lines}"
    assert len(lines) == 1, f"{argv}: expected one line on stderr, got {lines}"
    line = lines[0]
    assert line.startswith(f"rla-gym {argv[0]}: "), line
    assert arg in line and words in line, f"{argv}: {line!r} does not name {arg} ({words})"
    assert "Traceback" not in line
    if out is not None:
        after = sorted(out.rglob("*")) if out.exists() else None
        assert after == before, f"{argv}: --out changed: {before} -> {after}"
    return line


@pytest.fixture
def places(tmp_path):
    """A file, a folder of other files, a missing path, and where --out would go."""
    (tmp_path / "a_file").write_text("not a folder")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    return {"file": str(tmp_path / "a_file"), "other": str(tmp_path / "other"), "missing": "/nonexistent/nowhere"}


MAKE_BUNDLE_RANDOM = [
    (["--episodes", "0"], "--episodes", "expected an integer >= 1; got '0'"),
    (["--episodes", "-1"], "--episodes", "got '-1'"),
    (["--episodes", "two"], "--episodes", "got 'two'"),
    (["--length", "0"], "--length", "expected an integer >= 9"),
    (["--length", "8"], "--length", "one chunk of 8"),
    (["--seed", "-1"], "--seed", "expected an integer >= 0"),
    (["--preset", "huge"], "--preset", "invalid choice"),
    (["--encoder-run", "{missing}"], "--encoder-run", "does not exist"),
]


@pytest.mark.parametrize(("extra", "arg", "words"), MAKE_BUNDLE_RANDOM, ids=lambda v: str(v))
def test_make_bundle_random_refuses(extra, arg, words, places, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["make-bundle", "--random", "--out", str(out), *[e.format(**places) for e in extra]]
    assert_refused(argv, arg, capsys, out=out, words=words)


@pytest.mark.parametrize(("where", "words"), [("file", "(a file)"), ("other", "a folder of other files")])
def test_make_bundle_refuses_an_out_that_is_not_a_bundle_folder(where, words, places, capsys):
    out = Path(places[where])
    assert_refused(["make-bundle", "--random", "--out", str(out)], "--out", capsys, out=out, words=words)


MAKE_BUNDLE_FROM_RUNS = [
    (["--init", "{missing}"], "--init", "does not exist"),
    (["--init", "{file}"], "--init", "a file"),
    (["--init", "{other}"], "--init", "without config.json"),
    (["--unet", "{missing}"], "--unet", "does not exist"),
    (["--num-demos", "-2"], "--num-demos", "expected an integer >= 1"),
    (["--num-demos", "0"], "--num-demos", "expected an integer >= 1"),
    (["--euler-steps", "0"], "--euler-steps", "expected an integer >= 1"),
    (["--regression", "{file}"], "--regression", "a file"),
    ([], "--init", "needs --init, --unet, --rla, --wm, --demos"),
]


@pytest.mark.parametrize(("extra", "arg", "words"), MAKE_BUNDLE_FROM_RUNS, ids=lambda v: str(v))
def test_make_bundle_from_runs_refuses(extra, arg, words, places, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["make-bundle", "--from-runs", "--out", str(out), *[e.format(**places) for e in extra]]
    assert_refused(argv, arg, capsys, out=out, words=words)


def test_the_installed_command_prints_one_line_and_no_traceback(tmp_path):
    """The real entry point in a fresh process (what a user runs), not only `main()` in this one."""
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "rla_gym.cli", "make-bundle", "--random", "--episodes", "0", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "rla-gym make-bundle: argument --episodes: expected an integer >= 1; got '0'"
    ]
    assert not out.exists()


@pytest.fixture(scope="module")
def train_inputs(tmp_path_factory, random_bundle_dir):
    """Episodes of two robots and the shared tiny ur10e bundle."""
    from rla_gym.data import synthetic_episode, write_episode

    root = tmp_path_factory.mktemp("train-inputs")
    for robot, task in (("ur10e", "RollBall-v1"), ("panda", "PullCube-v1")):
        write_episode(root / robot / "success", 0, synthetic_episode(12, 32, robot=robot, task=task, seed=0))
    return {"bundle": str(random_bundle_dir), "ur10e": str(root / "ur10e"), "panda": str(root / "panda")}


TRAIN = [
    (["--steps", "0"], "--steps", "expected an integer >= 1"),
    (["--batch-size", "0"], "--batch-size", "expected an integer >= 1"),
    (["--lr", "0"], "--lr", "expected a finite number > 0"),
    (["--lr", "nan"], "--lr", "expected a finite number > 0"),
    (["--warmup-steps", "-1"], "--warmup-steps", "expected an integer >= 0"),
    (["--checkpoint-every", "0"], "--checkpoint-every", "expected an integer >= 1"),
    (["--keep-checkpoints", "0"], "--keep-checkpoints", "expected an integer >= 1"),
    (["--eval-every", "-1"], "--eval-every", "expected an integer >= 0"),
    (["--seed", "-1"], "--seed", "expected an integer >= 0"),
    (["--threads", "-1"], "--threads", "expected an integer >= 0"),
    (["--max-horizon", "0"], "--max-horizon", "expected an integer >= 1"),
    (["--latent-scale", "-1"], "--latent-scale", "expected a finite number > 0"),
    (["--latent-scale", "0"], "--latent-scale", "expected a finite number > 0"),
    (["--euler-steps", "0"], "--euler-steps", "expected an integer >= 1"),
    (["--euler-steps", "-2"], "--euler-steps", "expected an integer >= 1"),
    (["--epochs", "0"], "--epochs", "expected an integer >= 1"),
    (["--data", "{missing}"], "--data", "does not exist"),
    (["--data", "{file}"], "--data", "a file"),
    (["--heldout", "{missing}"], "--heldout", "does not exist"),
    (["--rla", "{missing}"], "--rla", "does not exist"),
    (["--init", "{missing}"], "--init", "does not exist"),
    (["--init", "{other}"], "--init", "without config.json"),
    (["--mixed-precision", "fp8"], "--mixed-precision", "invalid choice"),
]


@pytest.mark.parametrize(("extra", "arg", "words"), TRAIN, ids=lambda v: str(v))
def test_train_refuses(extra, arg, words, train_inputs, places, tmp_path, capsys):
    out = tmp_path / "run"
    base = ["train", "rla", "--init", train_inputs["bundle"], "--data", train_inputs["ur10e"], "--out", str(out)]
    base += ["--steps", "1", "--no-progress"]  # should a bad value get through, the run is short
    assert_refused([*base, *[e.format(**places) for e in extra]], arg, capsys, out=out, words=words)


def test_train_refuses_an_out_that_is_a_file(train_inputs, places, capsys):
    argv = ["train", "rla", "--init", train_inputs["bundle"], "--data", train_inputs["ur10e"], "--out", places["file"]]
    assert_refused(argv, "--out", capsys, out=Path(places["file"]), words="a file")


@pytest.mark.parametrize("model", ["wm", "regression", "bc"])
def test_train_refuses_another_robots_data(model, train_inputs, tmp_path, capsys):
    """A ur10e model fed panda episodes would take the first 5 of panda's 8 joints and train without an error. (The
    UNet and the RLA autoencoder read no joints: they train on every robot's episodes, see test_train.py.)"""
    out = tmp_path / "run"
    argv = ["train", model, "--init", train_inputs["bundle"], "--data", train_inputs["panda"], "--out", str(out)]
    argv += ["--steps", "1", "--epochs", "1", "--policy-preset", "tiny", "--no-progress"] if model == "bc" else []
    argv += ["--steps", "1", "--no-progress"] if model != "bc" else []
    line = assert_refused(argv, train_inputs["panda"], capsys, out=out, words="holds panda episodes")
    assert "expected ur10e episodes" in line


def test_train_refuses_a_used_out_without_resume(train_inputs, tmp_path, capsys):
    out = tmp_path / "run"
    (out / "checkpoints" / "step_0000010").mkdir(parents=True)
    (out / "checkpoints" / "step_0000010" / "DONE").write_text("10")
    argv = ["train", "rla", "--init", train_inputs["bundle"], "--data", train_inputs["ur10e"], "--out", str(out)]
    assert_refused(argv, "--out", capsys, out=out, words="--resume")


def _no_such_devices() -> list[str]:
    """Devices this machine does not have: always cuda:99, and plain cuda where torch sees no GPU."""
    import torch

    return ["cuda:99", "mps"] + ([] if torch.cuda.is_available() else ["cuda"])


WMRL = [
    (["--iterations", "0"], "--iterations", "expected an integer >= 1"),
    (["--num-envs", "0"], "--num-envs", "expected an integer >= 1"),
    (["--num-steps", "-1"], "--num-steps", "expected an integer >= 1"),
    (["--minibatch-size", "0"], "--minibatch-size", "expected an integer >= 1"),
    (["--update-epochs", "0"], "--update-epochs", "expected an integer >= 1"),
    (["--seed", "-1"], "--seed", "expected an integer >= 0"),
    (["--eval-every", "0"], "--eval-every", "expected an integer >= 1"),
    (["--eval-max-steps", "0"], "--eval-max-steps", "expected an integer >= 1"),
    (["--videos", "-1"], "--videos", "expected an integer >= 0"),
    (["--report-episodes", "2000"], "--report-episodes", "expected an integer in [0, 1500] (the report seeds)"),
    (["--wm-select-worlds", "-1"], "--wm-select-worlds", "expected an integer >= 0"),
    (["--reward-draws", "0"], "--reward-draws", "expected an integer >= 1"),
    (["--uncertainty", "ensemble"], "--uncertainty", "invalid choice: 'ensemble'"),
    (["--uncertainty-penalty", "-1"], "--uncertainty-penalty", "expected a finite number >= 0"),
    (["--eval-seeds", "5", "3"], "--eval-seeds", "expected FIRST <= LAST; got 5 3"),
    (["--eval-seeds", "-5", "3"], "--eval-seeds", "expected an integer >= 0"),
    (["--bundle", "{missing}"], "--bundle", "does not exist"),
    (["--bundle", "{file}"], "--bundle", "a file"),
    (["--bc", "{missing}"], "--bc", "does not exist"),
    (["--out", "{file}"], "--out", "a file"),
    (["--resume", "--overwrite"], "--overwrite", "either --resume"),
    (["--robot", "ur5"], "--robot", "invalid choice: 'ur5'"),
    (["--task", "Bogus"], "--task", "invalid choice: 'Bogus'"),
    *[(["--device", d], "--device", f"got '{d}'") for d in _no_such_devices()],
]


@pytest.mark.parametrize(("extra", "arg", "words"), WMRL, ids=lambda v: str(v))
def test_wmrl_refuses(extra, arg, words, places, tmp_path, capsys, monkeypatch):
    import rla_gym.train.wmrl as wmrl

    monkeypatch.setattr(wmrl, "run_wmrl", lambda config: pytest.fail("a bad value reached the run"))
    out = tmp_path / "run"
    argv = ["wmrl", "--preset", "tiny", "--out", str(out), "--no-progress", *[e.format(**places) for e in extra]]
    assert_refused(argv, arg, capsys, out=out if "--out" not in extra else None, words=words)


def _used_run(out: Path) -> Path:
    (out / "checkpoints" / "iter_000004").mkdir(parents=True)
    (out / "checkpoints" / "iter_000004" / "trainer_state.pt").write_bytes(b"another run")
    (out / "curve.csv").write_text("iteration\n1\n")
    return out


def test_wmrl_refuses_a_used_out_without_resume_or_overwrite(tmp_path, capsys, monkeypatch):
    """A new run over an old one kept the old run's later checkpoints, and a later --resume continued the old run."""
    import rla_gym.train.wmrl as wmrl

    monkeypatch.setattr(wmrl, "run_wmrl", lambda config: pytest.fail("a used --out reached the run"))
    out = _used_run(tmp_path / "run")
    argv = ["wmrl", "--preset", "tiny", "--out", str(out), "--no-progress"]
    assert_refused(argv, "--out", capsys, out=out, words="--resume to continue its run, --overwrite to clear it")


def test_wmrl_overwrite_clears_the_used_out_and_resume_keeps_it(tmp_path, capsys, monkeypatch):
    import rla_gym.train.wmrl as wmrl

    seen = []
    monkeypatch.setattr(wmrl, "run_wmrl", lambda config: seen.append(sorted(config.out.rglob("*"))) or _NoReport())
    out = _used_run(tmp_path / "run")
    assert main(["wmrl", "--preset", "tiny", "--out", str(out), "--resume", "--no-progress"]) == 0
    assert seen[-1], "--resume keeps the run"
    assert main(["wmrl", "--preset", "tiny", "--out", str(out), "--overwrite", "--no-progress"]) == 0
    assert seen[-1] == [], "--overwrite starts from an empty folder"


def test_wmrl_overwrite_clears_only_a_run_folder(tmp_path, capsys, monkeypatch):
    """`--out ~ --overwrite` by mistake must not delete a home folder: only a folder a run wrote is cleared."""
    import rla_gym.train.wmrl as wmrl

    monkeypatch.setattr(wmrl, "run_wmrl", lambda config: pytest.fail("reached the run"))
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("years of work")
    argv = ["wmrl", "--preset", "tiny", "--out", str(home), "--overwrite", "--no-progress"]
    assert_refused(argv, "--out", capsys, out=home, words="a run folder to clear with --overwrite")
    assert (home / "thesis.tex").read_text() == "years of work"


class _NoReport:
    bc = None  # what a non-zero torchrun rank returns: the command prints nothing


def test_run_wmrl_itself_refuses_another_runs_checkpoints(tmp_path):
    from rla_gym.train.wmrl import run_wmrl, wmrl_preset

    out = _used_run(tmp_path / "run")
    with pytest.raises(ValueError, match="holds another run's checkpoints: resume it"):
        run_wmrl(wmrl_preset("tiny", out=out))


def test_wmrl_config_refuses_eval_max_steps_zero():
    from rla_gym.train.wmrl import wmrl_preset

    with pytest.raises(ValueError, match="eval_max_steps must be >= 1"):
        wmrl_preset("tiny", eval_max_steps=0)


CALIBRATE = [
    (["--repeats", "0"], "--repeats", "expected an integer >= 1"),
    (["--seed", "-1"], "--seed", "expected an integer >= 0"),
    (["--bundle", "{missing}"], "--bundle", "does not exist"),
    (["--bundle", "{file}"], "--bundle", "a file"),
    (["--bundle", "{other}"], "--bundle", "without config.json"),
    *[(["--device", d], "--device", f"got '{d}'") for d in _no_such_devices()],
]


@pytest.mark.parametrize(("extra", "arg", "words"), CALIBRATE, ids=lambda v: str(v))
def test_calibrate_refuses(extra, arg, words, places, random_bundle_dir, tmp_path, capsys):
    import shutil

    bundle = shutil.copytree(random_bundle_dir, tmp_path / "bundle")
    argv = ["calibrate", "--bundle", str(bundle), *[e.format(**places) for e in extra]]
    assert_refused(argv, arg, capsys, out=bundle, words=words)
    assert (bundle / "config.json").read_bytes() == (random_bundle_dir / "config.json").read_bytes()


COLLECT = [
    (["--episodes", "-1"], "--episodes", "expected an integer >= 0"),
    (["--size", "15"], "--size", "expected an even number of pixels >= 16"),
    (["--size", "8"], "--size", "expected an even number of pixels >= 16"),
    (["--workers", "0"], "--workers", "expected an integer >= 1"),
    (["--seed", "-1"], "--seed", "expected an integer >= 0"),
    (["--fail-every", "-1"], "--fail-every", "expected an integer >= 0"),
    (["--max-steps", "0"], "--max-steps", "expected an integer >= 1"),
    (["--post-success-steps", "-1"], "--post-success-steps", "expected an integer >= 0"),
    (["--joint-noise", "-0.1"], "--joint-noise", "expected a finite number >= 0"),
    (["--joint-noise", "inf"], "--joint-noise", "expected a finite number >= 0"),
    (["--out", "{file}"], "--out", "a file"),
    (["--out", "{file}/demos"], "--out", "a_file is a file"),
]


@pytest.mark.parametrize(("extra", "arg", "words"), COLLECT, ids=lambda v: str(v))
def test_collect_refuses(extra, arg, words, places, tmp_path, capsys, monkeypatch):
    import rla_gym.commands.collect as command

    monkeypatch.setattr(command, "collect", lambda *a, **k: pytest.fail("a bad value reached the collection"))
    out = tmp_path / "data"
    argv = ["collect", "--robot", "ur10e", "--task", "RollBall", "--episodes", "1", "--out", str(out)]
    argv += [e.format(**places) for e in extra]
    assert_refused(argv, arg, capsys, out=out if "--out" not in extra else None, words=words)


DEMO = [
    (["--num-envs", "0"], "--num-envs", "expected an integer >= 1"),
    (["--ppo-steps", "0"], "--ppo-steps", "expected an integer >= 1"),
    (["--seed", "-1"], "--seed", "expected an integer >= 0"),
    (["--robot", "ur5"], "--robot", "invalid choice"),
    (["--bundle", "{missing}"], "--bundle", "does not exist"),
    (["--out", "{file}"], "--out", "a file"),
    *[(["--device", d], "--device", f"got '{d}'") for d in _no_such_devices()],
]


@pytest.mark.parametrize(("extra", "arg", "words"), DEMO, ids=lambda v: str(v))
def test_demo_refuses(extra, arg, words, places, tmp_path, capsys):
    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), *[e.format(**places) for e in extra]]
    assert_refused(argv, arg, capsys, out=out if "--out" not in extra else None, words=words)


def test_make_bundle_from_runs_refuses_demos_of_another_robot(train_inputs, tmp_path, capsys):
    runs = [tmp_path / n for n in ("unet", "rla", "wm")]
    for run in runs:
        run.mkdir()
    out = tmp_path / "out"
    argv = ["make-bundle", "--from-runs", "--init", train_inputs["bundle"], "--demos", train_inputs["panda"]]
    argv += ["--unet", str(runs[0]), "--rla", str(runs[1]), "--wm", str(runs[2]), "--out", str(out)]
    line = assert_refused(argv, train_inputs["panda"], capsys, out=out, words="holds panda episodes")
    assert line.endswith("expected ur10e")


def test_the_library_refuses_the_same_values(train_inputs):
    """The functions behind make-bundle check what the command checks: no torch.cat error, no silent fallback."""
    from rla_gym.models.random_bundle import make_random_bundle
    from rla_gym.train.assemble import Runs, assemble_bundle, demo_set

    with pytest.raises(ValueError, match="episodes and length: expected integers >= 1; got episodes=0"):
        make_random_bundle("ur10e", "tiny", episodes=0)
    with pytest.raises(ValueError, match=r"num_episodes: expected an integer >= 1 or None \(every episode\); got -2"):
        demo_set(Path(train_inputs["ur10e"]), 32, -2)
    with pytest.raises(ValueError, match="euler_steps: expected an integer >= 1"):
        assemble_bundle(train_inputs["bundle"], Runs(unet=None, rla=None, wm=None), None, "RollBall", euler_steps=0)
