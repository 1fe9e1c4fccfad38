"""`rla-gym wmrl` end to end with the tiny preset (2 updates, 2 ManiSkill seeds): the BC-vs-RL table, a
side-by-side mp4, the learning curve and the peft checkpoint; bad input gives one clear error."""

from __future__ import annotations

import json

import pytest
import torch
from agents_support import one_thread, tiny_bc

from rla_gym.agents.bc import BCPolicy
from rla_gym.agents.normalization import ActionNormalizer
from rla_gym.agents.resnet import policy_config

__all__ = ["one_thread"]  # the autouse fixture, imported

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mani_skill"),
    pytest.mark.filterwarnings("ignore:.*precision lowered by casting:UserWarning"),
]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory):
    """A tiny random RollBall bundle with a tiny BC policy shipped beside it (<bundle>-bc)."""
    from rla_gym.models.random_bundle import make_random_bundle

    root = tmp_path_factory.mktemp("zoo")
    make_random_bundle("ur10e", "tiny", task="RollBall").save_pretrained(root / "ur10e-RollBall-tiny")
    tiny_bc().save_pretrained(root / "ur10e-RollBall-tiny-bc")
    return root / "ur10e-RollBall-tiny"


@pytest.mark.sim
def test_wmrl_tiny_preset_writes_table_video_plot_and_checkpoint(shipped, tmp_path, capsys):
    from sim_support import require_sim

    from rla_gym.cli import main

    require_sim()
    out = tmp_path / "wmrl"
    args = ["wmrl", "--bundle", str(shipped), "--preset", "tiny", "--out", str(out), "--no-progress"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "BC " in printed and "RL (best, iteration 2)" in printed and "95 % CI" in printed
    assert (out / "results.txt").read_text().strip() in printed
    assert "one world-model step (2 envs, ms): condition" in printed and "PPO update" in printed
    assert (out / "learning_curve.png").stat().st_size > 0
    videos = sorted((out / "videos").glob("*.mp4"))
    assert [v.name for v in videos] == ["bc_seed42.mp4", "rl_it2_seed42.mp4"]
    assert (out / "best" / "adapter_model.safetensors").is_file() and (out / "best" / "bc_policy.json").is_file()
    assert len((out / "curve.csv").read_text().strip().splitlines()) == 1 + 2, "a header and one row per update"
    # the protocol: the checkpoint is also scored inside the world model, and BC and the chosen checkpoints are
    # scored on report seeds, each RL policy against BC seed by seed
    header, row = (out / "sim_eval.csv").read_text().strip().splitlines()
    assert header.split(",")[-2:] == ["wm_success", "wm_return"] and "nan" not in row
    assert "report seeds 3000000-3000001 (2 scenes that chose nothing)" in printed
    assert "RL chosen on the ManiSkill seeds (iteration 2)" in printed and "exact McNemar" in printed
    report = json.loads((out / "report.json").read_text())
    assert [r["name"] for r in report["rl"]] == ["RL chosen on the ManiSkill seeds", "RL chosen by the world model"]
    assert [e["seed"] for e in report["bc"]["episodes"]] == [3_000_000, 3_000_001]
    assert all(0 <= r["p_value"] <= 1 for r in report["rl"])


def test_wmrl_bad_input_is_one_clear_error(shipped, tmp_path, capsys):
    from rla_gym.cli import main

    base = ["wmrl", "--bundle", str(shipped), "--preset", "tiny", "--out", str(tmp_path / "out"), "--no-progress"]
    panda_bc = tmp_path / "panda-bc"
    BCPolicy("panda", policy_config("tiny", 8), ActionNormalizer(torch.zeros(8), torch.ones(8))).save_pretrained(
        panda_bc
    )
    assert main([*base, "--bc", str(panda_bc)]) == 2
    assert "is for robot 'panda'; expected 'ur10e'" in capsys.readouterr().err
    assert main([*base, "--bc", str(tmp_path / "missing")]) == 2
    assert "argument --bc: expected an existing folder" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main([*base, "--bc", str(tmp_path / "empty")]) == 2
    assert "bc_policy.json missing" in capsys.readouterr().err
    assert main([*base, "--task", "PullCube"]) == 2  # a panda task for the ur10e
    assert "PullCube" in capsys.readouterr().err


@pytest.mark.sim
def test_wmrl_resumes_from_its_latest_complete_checkpoint(shipped, tmp_path, capsys):
    from sim_support import require_sim

    from rla_gym.agents.lora import LoRAActorCritic
    from rla_gym.cli import main
    from rla_gym.train.wmrl import TRAINER_STATE, list_checkpoints

    require_sim()
    out = tmp_path / "wmrl"
    args = ["wmrl", "--bundle", str(shipped), "--preset", "tiny", "--out", str(out), "--no-progress"]
    assert main([*args, "--eval-every", "1"]) == 0
    assert [i for i, _ in list_checkpoints(out)] == [1, 2]
    (out / "checkpoints" / "iter_000002" / TRAINER_STATE).unlink()  # as if killed while writing iteration 2
    bc_eval = (out / "bc_eval.json").stat().st_mtime_ns
    bc_report = (out / "bc_report.json").stat().st_mtime_ns
    at_one = LoRAActorCritic.from_pretrained(out / "checkpoints" / "iter_000001").state_dict()
    capsys.readouterr()

    assert main([*args, "--eval-every", "1", "--iterations", "3", "--resume"]) == 0
    printed = capsys.readouterr().out
    assert [i for i, _ in list_checkpoints(out)] == [1, 2, 3]
    assert (out / "bc_eval.json").stat().st_mtime_ns == bc_eval, "BC is not evaluated again on resume"
    assert (out / "bc_report.json").stat().st_mtime_ns == bc_report, "nor on the report seeds"
    rows = (out / "curve.csv").read_text().strip().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3"], "rows after the checkpoint are written again"
    resumed = LoRAActorCritic.from_pretrained(out / "checkpoints" / "iter_000003").state_dict()
    assert any(not torch.equal(at_one[k], resumed[k]) for k in at_one), "training went on after the resume"
    assert "BC " in printed and "world model" in printed
    (out / "report.json").unlink()  # as if stopped during the report stage, after the last checkpoint
    capsys.readouterr()
    assert main([*args, "--iterations", "3", "--resume"]) == 0, "the report stage is finished on resume"
    printed = capsys.readouterr().out
    assert (out / "report.json").is_file() and "report seeds 3000000-3000001" in printed
    assert "(no rollout in this process)" in printed and "0.0 world-model chunk steps/s" not in printed
    assert [i for i, _ in list_checkpoints(out)] == [1, 2, 3], "no training after the last iteration"
    assert (out / "bc_report.json").stat().st_mtime_ns == bc_report
    assert main([*args, "--iterations", "3", "--resume"]) == 2, "a finished run has nothing left to do"


def test_the_long_cpu_preset_gives_16x_the_demo_s_world_model_transitions_and_the_full_protocol():
    from rla_gym.train.wmrl import WMRL_PRESETS, wmrl_preset

    demo, long = wmrl_preset("demo"), wmrl_preset("cpu-long")
    transitions = [c.ppo.num_envs * c.ppo.num_steps * c.ppo.iterations for c in (demo, long)]
    assert transitions == [3_200, 102_400]
    assert long.report_episodes >= 500 and long.wm_select_worlds > 0 and long.eval_seeds == tuple(range(42, 92))
    assert set(WMRL_PRESETS) == {"demo", "cpu-long", "paper", "tiny"}
    with pytest.raises(ValueError, match="valid: demo, cpu-long, paper, tiny"):
        wmrl_preset("huge")


@pytest.mark.sim
def test_wmrl_runs_another_robot_and_the_goal_frame_reward_end_to_end(tmp_path, capsys):
    """Issue 20: `rla-gym wmrl --robot R --task T` takes any robot/task of the paper, here the xArm6's PokeCube (whose
    world-model env rewards the goal frame): BC and RL scored in ManiSkill's PokeCube, the report written."""
    from sim_support import require_sim

    from rla_gym.cli import main
    from rla_gym.models.random_bundle import make_random_bundle
    from rla_gym.specs.robots import ROBOTS

    require_sim()
    spec = ROBOTS["xarm6_robotiq"]
    bundle = tmp_path / "xarm6-PokeCube-tiny"
    make_random_bundle("xarm6_robotiq", "tiny", task="PokeCube").save_pretrained(bundle)
    low, high = torch.tensor(spec.action_low), torch.tensor(spec.action_high)
    bc = tmp_path / "xarm6-bc"
    BCPolicy("xarm6_robotiq", policy_config("tiny", spec.action_dim), ActionNormalizer(low, high)).save_pretrained(bc)
    out = tmp_path / "wmrl"
    argv = ["wmrl", "--robot", "xarm6_robotiq", "--task", "PokeCube", "--bundle", str(bundle), "--bc", str(bc)]
    assert main([*argv, "--preset", "tiny", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "PokeCube (xarm6_robotiq), ManiSkill seeds 42-" in printed
    assert "report seeds 3000000-3000001" in printed
    assert json.loads((out / "report.json").read_text())["bc"]["task"] == "PokeCube"
