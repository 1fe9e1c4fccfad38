"""The policy protocol: checkpoints chosen on selection seeds or by the world model alone, reported on seeds that
chose nothing, each RL policy against BC seed by seed."""

from __future__ import annotations

import math

import pytest

from rla_gym.eval.protocol import (
    compare_with_bc,
    per_seed_success,
    report_seeds,
    report_table,
    select_by_world_model,
)
from rla_gym.sim.evaluate import EvalResult, SeedResult
from rla_gym.specs.seeds import SELECTION_SEEDS, TRAIN_SEED_BASE


def _result(successes: list[bool], seeds: tuple[int, ...]) -> EvalResult:
    return EvalResult("ur10e", "RollBall", [SeedResult(s, ok, 10, float(ok)) for s, ok in zip(seeds, successes)])


def test_report_seeds_choose_nothing_and_train_nothing():
    seeds = report_seeds(500)
    assert len(seeds) == len(set(seeds)) == 500
    assert not set(seeds) & set(SELECTION_SEEDS)
    assert min(seeds) > TRAIN_SEED_BASE + 100_000  # far from any training collection of a sane size
    with pytest.raises(ValueError, match="report episodes"):
        report_seeds(0)
    with pytest.raises(ValueError, match="report episodes"):
        report_seeds(10**6)


def test_the_world_model_chooses_by_success_then_return_then_the_earlier_checkpoint():
    rows = [
        {"iteration": 25, "wm_success": 0.5, "wm_return": 3.0},
        {"iteration": 50, "wm_success": 0.75, "wm_return": 1.0},
        {"iteration": 75, "wm_success": 0.75, "wm_return": 2.0},
        {"iteration": 100, "wm_success": 0.75, "wm_return": 2.0},
    ]
    assert select_by_world_model(rows) == 75
    assert select_by_world_model([{"iteration": 25, "wm_success": math.nan, "wm_return": math.nan}]) is None
    assert select_by_world_model([]) is None


def test_a_policy_that_wins_on_the_same_seeds_is_better_and_a_copy_shows_no_evidence():
    seeds = report_seeds(40)
    bc = _result([i % 2 == 0 for i in range(40)], seeds)  # 50 %
    rl = _result([True] * 40, seeds)  # wins the 20 seeds BC lost, loses none
    [better, same] = compare_with_bc(bc, {"RL": (25, rl), "copy": (50, bc)}, seeds)
    assert (better.paired.a_better, better.paired.b_better) == (20, 0) and better.paired.p_value < 1e-5
    assert "RL is better" in better.paired.verdict(a="RL", b="BC")
    assert same.paired.p_value == 1.0 and "no evidence" in same.paired.verdict(a="RL", b="BC")
    table = report_table(bc, [better, same], seeds)
    assert f"report seeds {seeds[0]}-{seeds[-1]} (40 scenes" in table
    rows = {line.split("  ")[0]: line for line in table.splitlines()[2:]}
    assert "100.0 %" in rows["RL (iteration 25)"] and "RL is better (p = " in rows["RL (iteration 25)"]
    assert " 50.0 %" in rows["BC"] and "35.2- 64.8 %" in rows["BC"]  # the Wilson interval of 20/40


def test_a_comparison_refuses_evaluations_of_other_seeds():
    seeds = report_seeds(4)
    other = _result([True] * 4, tuple(SELECTION_SEEDS[:4]))
    with pytest.raises(ValueError, match="needs the same seeds"):
        per_seed_success(other, seeds)
    shuffled = _result([True, False, False, False], seeds[::-1])
    assert per_seed_success(shuffled, seeds).tolist() == [False, False, False, True], "matched by seed, not order"


def _report(rl_seed: int, bc: list[bool], rl: list[bool], seeds: tuple[int, ...]) -> dict:
    from rla_gym.eval.records import eval_to_dict

    runs = [{"name": "RL chosen on the ManiSkill seeds", "iteration": 25, "eval": eval_to_dict(_result(rl, seeds))}]
    return {"rl_seed": rl_seed, "seeds": [seeds[0], seeds[-1]], "bc": eval_to_dict(_result(bc, seeds)), "rl": runs}


def test_rl_seeds_are_pooled_per_report_seed_against_bc(tmp_path, capsys):
    import json

    from rla_gym.cli import main

    seeds = report_seeds(30)
    bc = [i % 3 != 0 for i in range(30)]  # 20/30
    runs = []
    for k in range(3):  # each RL seed wins 8 of BC's 10 failures, a different 8
        rl = [ok or (i % 3 == 0 and (i // 3 + k) % 5 != 0) for i, ok in enumerate(bc)]
        folder = tmp_path / f"wmrl-s{k}"
        folder.mkdir()
        (folder / "report.json").write_text(json.dumps(_report(k, bc, rl, seeds)))
        runs.append(str(folder))
    gaps = "iteration,wm_steps,success,wm_success,wm_return\n25,1600,0.8,0.5,-1.9\n100,6400,0.6,0.75,-1.7\n"
    (tmp_path / "wmrl-s0" / "sim_eval.csv").write_text(gaps)
    assert main(["wmrl-summary", *runs]) == 0
    out = capsys.readouterr().out
    assert "3 RL runs (RL seeds 0, 1, 2); report seeds 3000000-3000029 (30 scenes)" in out
    assert "BC: 66.7 % (20/30)" in out
    assert "93.3 % over the runs (per run: 93.3, 93.3, 93.3 %)" in out and "RL is better (p = " in out
    # the gap between the two worlds along a run: the model exploited as RL goes on (the guard's measure)
    assert "wmrl-s0: ManiSkill / world-model success % (gap) it. 25: 80 / 50 (-30), it. 100: 60 / 75 (+15)" in out
    assert "mean gap -7.5" in out and "wmrl-s1:" not in out  # no sim_eval.csv there

    other = tmp_path / "other"
    other.mkdir()
    (other / "report.json").write_text(json.dumps(_report(9, [True] * 30, [True] * 30, seeds)))
    assert main(["wmrl-summary", runs[0], str(other)]) == 2
    assert "the runs' BC evaluations differ" in capsys.readouterr().err
    assert main(["wmrl-summary", str(tmp_path)]) == 2  # no report.json in it
    assert "argument runs: expected wmrl run folders that reached the report stage" in capsys.readouterr().err


def test_two_sets_of_rl_runs_are_compared_pair_by_pair_and_pooled(tmp_path, capsys):
    """`wmrl-summary GUARDED... --versus PLAIN...`: a change (a guard) measured on the same RL seeds and scenes."""
    import json

    from rla_gym.cli import main

    seeds = report_seeds(40)
    bc = [i % 2 == 0 for i in range(40)]
    folders = {}
    for kind in ("plain", "guarded"):
        for k in (1, 2, 3):
            if kind == "plain":
                rl = [ok and i % 4 != 0 for i, ok in enumerate(bc)]  # loses 10 of BC's 20 successes
            else:
                rl = [ok and (i % 4 != 0 or (i // 4 + k) % 3 == 0) for i, ok in enumerate(bc)]  # wins ~3 of them back
            folder = tmp_path / f"{kind}-s{k}"
            folder.mkdir()
            (folder / "report.json").write_text(json.dumps(_report(k, bc, rl, seeds)))
            folders.setdefault(kind, []).append(str(folder))
    assert main(["wmrl-summary", *folders["guarded"], "--versus", *folders["plain"]]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("RL chosen on the ManiSkill seeds: ") and " vs " in x)
    assert line.startswith("RL chosen on the ManiSkill seeds: 33.3 vs 25.0 %; pooled per report seed: guarded-s1 is")
    assert "seed 1: 32.5 vs 25.0 % (no evidence" in line and "exact McNemar on 3 discordant seeds" in line
    assert main(["wmrl-summary", *folders["guarded"], "--versus", *folders["plain"][:2]]) == 2
    assert "--versus needs one run per run" in capsys.readouterr().err
    assert main(["wmrl-summary", *folders["guarded"], "--versus", *folders["plain"][::-1]]) == 2
    assert "pairs must share their RL seed; got 1 and 3" in capsys.readouterr().err
