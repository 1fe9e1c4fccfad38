"""The `rla-gym` command: make-bundle writes a loadable random bundle; demo runs the main job end to end."""

from __future__ import annotations

import json

import imageio.v2 as imageio
import pytest

from rla_gym.cli import main
from rla_gym.models.bundle import load_bundle


def test_make_bundle_random_writes_a_marked_bundle(tmp_path):
    out = tmp_path / "b"
    assert (
        main(["make-bundle", "--random", "--robot", "panda", "--episodes", "2", "--length", "12", "--out", str(out)])
        == 0
    )
    assert json.loads((out / "manifest.json").read_text())["random"] is True
    bundle = load_bundle(out)
    assert bundle.robot == "panda" and bundle.demos.num_episodes == 2 and bundle.demos.action_dim == 8


def test_make_bundle_random_on_a_shared_stack_keeps_the_shared_part_and_its_own_dynamics(
    tmp_path, random_bundle_dir, capsys
):
    """Issue 20: a new robot's init on a zoo's shared stack (encoder, UNet, RLA from the ur10e bundle)."""
    import torch

    out = tmp_path / "panda-init"
    argv = ["make-bundle", "--random", "--robot", "panda", "--seed", "5", "--shared", str(random_bundle_dir)]
    assert main([*argv, "--out", str(out)]) == 0
    panda, ur10e = load_bundle(out).stack, load_bundle(random_bundle_dir).stack
    plain = tmp_path / "panda-plain"
    assert main(["make-bundle", "--random", "--robot", "panda", "--seed", "5", "--out", str(plain)]) == 0
    own = load_bundle(plain).stack

    def same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
        sa, sb = a.state_dict(), b.state_dict()
        return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)

    assert load_bundle(out).robot == "panda"
    for part in ("encoder", "image_decoder"):
        assert same(getattr(panda, part), getattr(ur10e, part)) and not same(getattr(own, part), getattr(ur10e, part))
    assert same(panda.rla, ur10e.rla) and not same(own.rla, ur10e.rla)
    assert same(panda.world_model, own.world_model), "the robot's own (random) dynamics are kept"
    assert panda.config.latent_scale == ur10e.config.latent_scale
    capsys.readouterr()
    assert main([*argv, "--preset", "cpu", "--out", str(tmp_path / "x")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("rla-gym make-bundle: argument --shared:") and "use --preset tiny" in line
    assert not (tmp_path / "x").exists()


def test_unknown_subcommand_fails_in_one_line(capsys):
    assert main(["train-everything"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("rla-gym: argument COMMAND: invalid choice: 'train-everything' (choose from 'demo'")


def test_demo_runs_the_pipeline_and_writes_video_and_model(tmp_path, random_bundle_dir, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--bundle", str(random_bundle_dir), "--num-envs", "2", "--ppo-steps", "64", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "chunk steps/s" in printed and "SB3 PPO" in printed
    frames = imageio.mimread(out / "rollout_demo_replay.mp4")
    assert len(frames) == 13 and frames[0].shape[1] == 2 * frames[0].shape[0], "prediction | demo side by side"
    assert (out / "ppo_world_model.zip").is_file()


def test_help_lists_every_subcommand_with_its_description(capsys):
    from rla_gym.cli import COMMANDS

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    printed = " ".join(capsys.readouterr().out.split())  # argparse wraps long lines
    for name, description in COMMANDS.items():
        assert name in printed and description in printed, f"{name}: {description!r} missing from --help"


def test_each_subcommand_module_has_its_own_help(capfd):
    """capfd: `rla-gym bench --help` is benchmarks/run_all.py's, printed by a child process."""
    from rla_gym.cli import COMMANDS

    for name in COMMANDS:
        try:
            code = main([name, "--help"])
        except SystemExit as exit_:  # argparse's own --help
            code = exit_.code
        assert code == 0, name
        assert f"rla-gym {name}" in capfd.readouterr().out, name
