"""agents/sb3_ppo.py end to end on a tiny bundle: SB3 PPO learns inside the world model, then the same
evaluation as `rla-gym wmrl` scores it in ManiSkill."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

RECIPE = Path(__file__).resolve().parents[1] / "agents" / "sb3_ppo.py"

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mani_skill"),
    pytest.mark.filterwarnings("ignore:.*precision lowered by casting:UserWarning"),
]


@pytest.mark.sim
@pytest.mark.slow
def test_sb3_recipe_trains_in_the_world_model_and_scores_in_maniskill(tmp_path, monkeypatch, capsys):
    from sim_support import require_sim

    from rla_gym.models.random_bundle import make_random_bundle

    require_sim()
    make_random_bundle("ur10e", "tiny", task="RollBall").save_pretrained(tmp_path / "bundle")
    run = tmp_path / "run"
    args = ["--bundle", str(tmp_path / "bundle"), "--num-envs", "2", "--timesteps", "16", "--n-steps", "4"]
    args += ["--batch-size", "8", "--n-epochs", "1", "--device", "cpu", "--out", str(run)]
    args += ["--eval-episodes", "2", "--eval-max-steps", "16"]
    monkeypatch.setattr(sys, "argv", [str(RECIPE), *args])
    runpy.run_path(str(RECIPE), run_name="__main__")
    printed = capsys.readouterr().out
    assert "ManiSkill: RollBall (ur10e): success" in printed and "/2, 95 % CI" in printed
    assert (run / "model.zip").is_file() and (run / "rollout.mp4").stat().st_size > 0
