"""Choosing BC's best epoch on the selection seeds: each checkpoint loaded strictly, scored, the best exported."""

from __future__ import annotations

import pytest
import torch
from agents_support import one_thread, tiny_bc
from safetensors.torch import save_file

from rla_gym.eval.bc_selection import bc_checkpoints, best_checkpoint, export_checkpoint, load_checkpoint_policy
from rla_gym.sim.evaluate import EvalResult, SeedResult

__all__ = ["one_thread"]  # the autouse fixture, imported


def _bc_run(root, seeds=(0, 1)):
    """A finished BC run as the trainer leaves it: final/ and one checkpoint per epoch (weights under `policy.`)."""
    tiny_bc(0).save_pretrained(root / "final")
    for step, seed in zip((10, 20), seeds):
        folder = root / "checkpoints" / f"step_{step:07d}"
        folder.mkdir(parents=True)
        state = {f"policy.{k}": v.contiguous() for k, v in tiny_bc(seed).state_dict().items()}
        save_file(state, folder / "model.safetensors")
        (folder / "DONE").write_text("")
    (root / "checkpoints" / "step_0000030").mkdir()  # cut short by a kill: no DONE, skipped
    return root


def _result(successes: list[bool], returns: list[float]) -> EvalResult:
    return EvalResult(
        "ur10e", "RollBall", [SeedResult(i, s, 10, r) for i, (s, r) in enumerate(zip(successes, returns))]
    )


def test_each_checkpoint_loads_its_own_weights_and_the_export_is_that_checkpoint(tmp_path):
    run = _bc_run(tmp_path / "bc")
    assert [step for step, _ in bc_checkpoints(run)] == [10, 20]
    first, second = (load_checkpoint_policy(run, path) for _, path in bc_checkpoints(run))
    frames = torch.randint(0, 256, (2, 40, 40, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(first.act(frames), second.act(frames)), "two epochs, two policies"
    out = export_checkpoint(run, 20, tmp_path / "chosen")
    exported = load_checkpoint_policy(run, bc_checkpoints(run)[1][1]).state_dict()
    for key, value in type(second).from_pretrained(out).state_dict().items():
        torch.testing.assert_close(value.float(), exported[key].float(), atol=2e-3, rtol=1e-2)  # fp16 storage


def test_the_best_is_the_most_successful_then_the_highest_return_then_the_earliest():
    results = [
        (10, _result([True, False], [1.0, 0.0])),
        (20, _result([True, True], [1.0, 0.5])),
        (30, _result([True, True], [1.0, 0.9])),
        (40, _result([True, True], [1.0, 0.9])),
    ]
    assert best_checkpoint(results) == 30


def test_scores_are_kept_per_checkpoint_and_a_rerun_scores_only_what_changed(tmp_path, monkeypatch):
    """A stop in the middle of an hour of scoring loses one checkpoint, not all; another bundle or other seeds rescore."""
    from rla_gym.eval import bc_selection
    from rla_gym.models.random_bundle import make_random_bundle

    run = _bc_run(tmp_path / "bc")
    calls = []

    def fake_evaluate(policy, robot, task, seeds, **kw):
        calls.append(tuple(seeds))
        frames = torch.zeros(1, 16, 16, 3, dtype=torch.uint8).numpy()
        ok = float(policy(frames[0], torch.zeros(6).numpy()).sum()) > 0  # depends on the checkpoint's weights
        return _result([ok] * len(seeds), [float(len(calls))] * len(seeds))

    monkeypatch.setattr(bc_selection, "evaluate", fake_evaluate)
    bundle = make_random_bundle("ur10e", "tiny", task="RollBall", seed=0)
    first = bc_selection.score_checkpoints(run, bundle, (42, 43), size=64)
    assert len(calls) == 2 and sorted(p.name for p in (run / "selection").iterdir()) == [
        "step_0000010.json", "step_0000020.json"]  # fmt: skip
    (run / "selection" / "step_0000020.json").unlink()  # as if stopped while scoring the second
    again = bc_selection.score_checkpoints(run, bundle, (42, 43), size=64)
    assert len(calls) == 3, "only the missing checkpoint is scored again"
    assert [(s, r.episodes) for s, r in again][0] == [(s, r.episodes) for s, r in first][0]
    bc_selection.score_checkpoints(run, bundle, (42, 44), size=64)
    assert len(calls) == 5, "other seeds: everything rescored"
    other = make_random_bundle("ur10e", "tiny", task="RollBall", seed=1)
    bc_selection.score_checkpoints(run, other, (42, 44), size=64)
    assert len(calls) == 7, "another encoder/UNet: everything rescored"
    bc_selection.score_checkpoints(run, other, (42, 44), size=64, resume=False)
    assert len(calls) == 9


def test_an_unfinished_run_is_refused_by_name(tmp_path):
    (tmp_path / "bc" / "checkpoints").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="not a finished BC run"):
        bc_checkpoints(tmp_path / "bc")


@pytest.mark.sim
def test_select_bc_scores_every_epoch_in_maniskill_and_writes_the_chosen_one(tmp_path, capsys):
    from sim_support import require_sim

    from rla_gym.cli import main
    from rla_gym.models.random_bundle import make_random_bundle

    require_sim()
    bundle = tmp_path / "bundle"
    make_random_bundle("ur10e", "tiny", task="RollBall").save_pretrained(bundle)
    run = _bc_run(tmp_path / "bc")
    argv = ["select-bc", str(run), "--bundle", str(bundle), "--out", str(tmp_path / "chosen"), "--seeds", "42", "43"]
    assert main([*argv, "--max-steps", "16", "--size", "64"]) == 0
    printed = capsys.readouterr().out
    assert "step      10:" in printed and "step      20:" in printed and printed.count("<- chosen") == 1
    assert (tmp_path / "chosen" / "bc_policy.json").is_file()
    assert main([*argv[:-3], "--seeds", "3000000", "3000001"]) == 2, "report seeds choose nothing"
    assert "the report seeds judge the chosen policy" in capsys.readouterr().err
