"""benchmarks/prediction_quality.py on a tiny random bundle and synthetic held-out episodes: rollouts feed
predictions back, every model is scored at t+10/20/30, and the table, plot, strip and JSON are written."""

from __future__ import annotations

import json

import pytest
import torch

from benchmarks import prediction_quality as pq
from rla_gym.eval.prediction_quality import HOLD_TOLERANCE


@pytest.fixture(scope="module")
def heldout(tmp_path_factory):
    from rla_gym.data import synthetic_episode, write_episode

    root = tmp_path_factory.mktemp("heldout")
    for seed in (200, 201):
        write_episode(root / "success", seed, synthetic_episode(45, 32, robot="ur10e", task="RollBall-v1", seed=seed))
    # a failure long enough for starts and a success too short for one (31 frames are needed)
    fail = synthetic_episode(45, 32, robot="ur10e", task="RollBall-v1", success=False, seed=202)
    write_episode(root / "fail", 202, fail)
    write_episode(root / "success", 203, synthetic_episode(25, 32, robot="ur10e", task="RollBall-v1", seed=203))
    return root


@pytest.fixture(scope="module")
def regression_dir(tmp_path_factory, random_bundle_dir):
    from rla_gym.models.bundle import load_bundle
    from rla_gym.models.regression import RegressionConfig, RegressionWorldModel
    from rla_gym.train.regression import RegressionModule, RegressionTask

    stack = load_bundle(random_bundle_dir).stack
    torch.manual_seed(0)
    model = RegressionWorldModel(RegressionConfig.matching(stack.config))
    torch.nn.init.normal_(model.out_proj.weight, std=0.05)  # not the zero-init identity: it must move
    for block in model.blocks:
        block.modulation[-1].reset_parameters()  # open the adaLN gates: the action enters
    out = tmp_path_factory.mktemp("regression")
    RegressionTask(model, "2", None, None).export(RegressionModule(model, "2"), out / "final")
    return out


def test_benchmark_writes_table_plot_strip_and_json(random_bundle_dir, heldout, regression_dir, tmp_path, capsys):
    out = tmp_path / "pq"
    args = ["--bundle", str(random_bundle_dir), "--data", str(heldout), "--regression", str(regression_dir)]
    results = pq.main([*args, "--out", str(out), "--euler", "1", "2", "--max-starts", "4"])
    printed = capsys.readouterr().out
    assert "UNet reconstruction" in printed and 0 < results["reconstruction"]["ssim"] <= 1
    assert "| copy first frame |" in printed and "| regression |" in printed and "| Euler steps |" in printed
    names = list(results["models"])
    assert names[0].startswith("RLA-WM") and names[1:] == ["regression", "copy first frame"]
    for m in results["models"].values():
        assert [h["horizon"] for h in m["horizons"]] == [10, 20, 30]
    wm = results["models"][names[0]]["horizons"][-1]["token_l1"]
    reg = results["models"]["regression"]["horizons"][-1]["token_l1"]
    copy = results["models"]["copy first frame"]["horizons"][-1]["token_l1"]
    assert len({round(wm, 6), round(reg, 6), round(copy, 6)}) == 3, "three different predictors, three errors"
    assert set(results["euler_sweep"]) == {1, 2}
    split = results["models"]["copy first frame"]["by_command"]
    assert split["hold"]["starts"] + split["move"]["starts"] == 4 and "| model | hold t+10 |" in printed
    # the ceiling an exact latent predictor would reach, and each model against copy-first start by start
    ceiling = results["true_latents"]
    assert [h["horizon"] for h in ceiling["horizons"]] == [10, 20, 30]
    rows = [line for line in printed.splitlines() if line.startswith(f"| {pq.CEILING} |")]
    assert len(rows) == 2 and rows[0].endswith("| - | - | - |")  # in the main table (no cost) and in the split
    assert ceiling["horizons"][-1]["token_l1"] not in (wm, reg, copy)
    assert ceiling["by_command"]["hold"]["starts"] == split["hold"]["starts"]
    assert results["hold_tolerance"] == HOLD_TOLERANCE
    sources = results["start_sources"]  # 2 x 2 starts of each 45-frame episode, 4 drawn; the 25-frame one gives none
    assert sources["episodes_too_short"] == {"success": 1, "failure": 0}
    assert sum(sources["starts"].values()) == 4 and sources["starts"]["failure"] <= 2
    assert pq.sources_line(results) in printed and "too short for a start (30 steps or fewer)" in printed
    for name in names[:2]:
        test = results["models"][name]["t30_against_copy"]
        assert test["starts"] == 4 and 0 < test["p_value"] <= 1
        assert f"{name} against copy-first, token L1 at t+30 start by start: lower on {test['model_better']}" in printed
        lean = {"model": f"the signed ranks favour {name} (", "copy": "the signed ranks favour copy-first ("}
        assert lean.get(test["favours"], "(Wilcoxon") in printed
    assert "t30_against_copy" not in results["models"]["copy first frame"]
    assert (out / "error_vs_horizon.png").stat().st_size > 1000
    assert len(list(out.glob("strip_*.png"))) == 1
    assert json.loads((out / "prediction_quality.json").read_text())["starts"] == results["starts"] == 4
