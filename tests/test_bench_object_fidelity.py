"""The object-fidelity benchmark end to end on a tiny bundle and synthetic episodes whose disc is pushed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rla_gym.data import synthetic_episode, write_episode


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    root = tmp_path_factory.mktemp("objfid")
    for split, seeds in (("train", range(8)), ("heldout", range(100, 104))):
        for i, s in enumerate(seeds):
            write_episode(root / split / "success", i, synthetic_episode(40, 48, move=(5, 30), seed=s), crf=10)
    return root


def test_report_measures_each_dynamics_and_copy_predicts_no_motion(random_bundle_dir, episodes, tmp_path):
    from benchmarks.object_fidelity import main

    out = tmp_path / "out"
    code = main(
        ["--bundle", str(random_bundle_dir), "--heldout", str(episodes / "heldout"), "--train", str(episodes / "train"),
         "--out", str(out), "--no-sim", "--draws", "2"]
    )  # fmt: skip
    assert code == 0
    report = json.loads((out / "results.json").read_text())
    assert set(report["models"]) == {"rla-wm", "copy"}  # the random bundle ships no regression baseline
    assert any("regression: not measured" in n for n in report["notes"])
    assert any("outcome test not measured" in n for n in report["notes"])
    copy, wm = report["models"]["copy"], report["models"]["rla-wm"]
    for h in ("t+10", "t+20", "t+30"):  # copying the start frame is reading the probe on the start tokens
        np.testing.assert_allclose(copy["probe_error_cm"][h], copy["probe_error_cm_copy_tokens"][h], rtol=1e-5)
    # the pushed disc moves away from its start: "did not move" errs more at t+30 than at t+10
    still = copy["object_did_not_move_cm"]
    assert still["t+30"][0] > still["t+10"][0] > 0
    assert "collapse_t+30" in wm and "collapse_t+30" not in copy  # copy is deterministic
    assert copy["sharpness_t+30"] > 0 and report["reconstruction"][0]["object"] == "disc"
    text = (out / "table.md").read_text()
    assert "| copy |" in text
    tables = [[row for row in block.splitlines() if row.startswith("|")] for block in text.split("\n\n")]
    tables = [rows for rows in tables if rows]
    assert len(tables) == 2  # the models, the reconstruction
    for rows in tables:  # a markdown table renders only if every row (the delimiter too) is as wide as its header
        assert len({row.count("|") for row in rows}) == 1, "\n".join(rows)


def test_outcome_score_in_the_report_uses_the_callable_frames(random_bundle_dir, episodes):
    """With outcomes given, each dynamics gets an outcome row; copy, which keeps the disc at its start, is nearer
    the counterfactual (disc at its start) than the real outcome (disc pushed)."""
    import torch

    from rla_gym.eval.object_fidelity import ObjectFidelityConfig, encode_all, fit_task_probe, load_episodes, measure
    from rla_gym.models.bundle import load_bundle

    bundle = load_bundle(random_bundle_dir)
    size = bundle.stack.image_size
    heldout = load_episodes(episodes / "heldout", size)
    train = load_episodes(episodes / "train", size)
    encode_all(bundle, heldout)
    encode_all(bundle, train)
    probe = fit_task_probe(train)
    from rla_gym.data.synthetic import SCENE_METRES, _render
    from rla_gym.data.video import resize_frames

    def outcomes(ep):  # counterfactual: the final arm, the disc drawn back where it started
        seed = 100 + int(ep.path.name.split("_")[-1])
        full = synthetic_episode(40, 48, move=(5, 30), seed=seed)
        tip = full.eef_pose[-1, :2] / SCENE_METRES
        disc_start = full.task_object_poses[0, 0, :2] / SCENE_METRES
        cf = _render(48, tip, disc_start, rng_phase=seed)
        np.testing.assert_array_equal(
            _render(48, tip, full.task_object_poses[-1, 0, :2] / SCENE_METRES, seed), full.frames[-1]
        )
        return resize_frames(full.frames[-1:], size)[0], resize_frames(cf[None], size)[0], True

    torch.manual_seed(0)
    report = measure(bundle, heldout, probe, ObjectFidelityConfig(task="RollBall", draws=2), outcomes)
    copy = report.models["copy"]["outcome"]
    assert copy["rollouts"] == 4 and copy["outcome_resolved"] < 0


def test_swap_loads_a_candidates_final_weights_and_latent_scale(random_bundle_dir, tmp_path):
    import json

    import torch

    from benchmarks.object_fidelity import _swap
    from rla_gym.models.bundle import load_bundle
    from rla_gym.models.state_dicts import CheckpointMismatchError
    from rla_gym.train.loop import save_weights

    bundle = load_bundle(random_bundle_dir)
    donor = load_bundle(random_bundle_dir)
    with torch.no_grad():
        for p in donor.stack.world_model.parameters():
            p.add_(1.0)
        for p in donor.stack.image_decoder.parameters():
            p.mul_(0.5)
    (tmp_path / "wm" / "final").mkdir(parents=True)
    save_weights(donor.stack.world_model, tmp_path / "wm" / "final" / "world_model.safetensors")
    (tmp_path / "wm" / "final" / "world_model.json").write_text(json.dumps({"latent_scale": 3.5}))
    (tmp_path / "unet" / "final").mkdir(parents=True)
    save_weights(donor.stack.image_decoder, tmp_path / "unet" / "final" / "image_decoder.safetensors")
    _swap(bundle, tmp_path / "unet", None, None, tmp_path / "wm")
    assert bundle.stack.config.latent_scale == 3.5 and bundle.dynamics("rla-wm").latent_scale == 3.5
    for mine, theirs in ((bundle.stack.world_model, donor.stack.world_model), (bundle.stack.image_decoder, donor.stack.image_decoder)):  # fmt: skip
        for a, b in zip(mine.state_dict().values(), theirs.state_dict().values()):
            torch.testing.assert_close(a, b)
    (tmp_path / "bad" / "final").mkdir(parents=True)
    save_weights(donor.stack.image_decoder, tmp_path / "bad" / "final" / "world_model.safetensors")
    with pytest.raises(CheckpointMismatchError):
        _swap(bundle, None, None, None, tmp_path / "bad")


def test_compare_runs_a_paired_test_per_model_and_metric_on_episodes_not_draws():
    from rla_gym.eval.object_fidelity import compare

    draws = np.tile([0.2, 0.8], 24)  # 12 episodes x 4 draws, episode-major
    better = {"models": {"copy": {"outcome": {"per_rollout": (draws + 0.1).tolist(), "episodes": 12}, "per_window_object0_error_cm_t+30": [1.0] * 12}}}  # fmt: skip
    worse = {"models": {"copy": {"outcome": {"per_rollout": draws.tolist()}, "per_window_object0_error_cm_t+30": [3.0] * 12}}}  # fmt: skip
    lines = compare(better, worse)
    assert len(lines) == 2 and all("this run is better" in line for line in lines)
    assert "on 12 items" in lines[0], "the 4 draws of an episode are one paired unit, not four"
    assert all("no evidence" in line for line in compare(better, better))
    unknown = {"models": {"copy": {"outcome": {"per_rollout": draws.tolist()}}}}
    assert compare(unknown, unknown) == [], "no episode count: no test pretending 48 rollouts are independent"


def test_swap_takes_a_regression_from_a_training_checkpoint(random_bundle_dir, tmp_path):
    import torch
    from safetensors.torch import save_file

    from benchmarks.object_fidelity import _swap
    from rla_gym.models.bundle import load_bundle
    from rla_gym.models.regression import RegressionConfig, RegressionWorldModel

    bundle = load_bundle(random_bundle_dir)
    torch.manual_seed(3)
    trained = RegressionWorldModel(RegressionConfig.matching(bundle.config))
    ckpt = tmp_path / "run" / "checkpoints" / "step_0000200"
    ckpt.mkdir(parents=True)
    save_file({f"model.{k}": v.contiguous() for k, v in trained.state_dict().items()}, ckpt / "model.safetensors")
    _swap(bundle, None, ckpt, None, None)
    for a, b in zip(bundle.regression.state_dict().values(), trained.state_dict().values()):
        torch.testing.assert_close(a, b)
    save_file({"other.weight": torch.zeros(1)}, ckpt / "model.safetensors")
    with pytest.raises(ValueError, match="holds no regression"):
        _swap(bundle, None, ckpt, None, None)


def test_objects_out_of_view_are_neither_fitted_nor_scored(episodes):
    """A ball that rolled off the table is metres away and unseen: its position must not enter the probe."""
    from rla_gym.eval.object_fidelity import _masked, load_episodes

    ep = load_episodes(episodes / "heldout", 48, limit=1)[0]
    assert ep.visible.shape == (40, 1) and ep.visible.all()
    ep.labels[30:] = 0  # the disc leaves the view
    assert not ep.visible[30:].any() and ep.visible[:30].all()
    np.testing.assert_array_equal(_masked(np.array([3.0]), np.array([False])), [np.nan])


def test_table_marks_what_a_task_has_no_measure_for_instead_of_printing_nan():
    from benchmarks.object_fidelity import table

    def model(outcome: dict | None, agreement: float | None) -> dict:
        m = {
            "token_l1": {"t+30": 0.1},
            "probe_error_cm": {f"t+{h}": [h / 10] for h in (10, 20, 30)},
            "object_did_not_move_cm": {f"t+{h}": [0.0] for h in (10, 20, 30)},
            "object_pixels_t+30": [{"contrast_ratio": 0.5, "mask_iou": 0.4}],
            "sharpness_t+30": 0.8,
        }
        if outcome is not None:
            m["outcome"] = outcome
        if agreement is not None:
            m["probe_success_agreement"] = agreement
        return m

    recon = [{"object": "cube", "rgb_l1": 10.0, "contrast_ratio": 0.8, "mask_iou": 0.6, "frames": 3}]
    report = {
        "reconstruction": recon,
        "models": {
            "measured": model({"outcome_resolved": 0.25, "outcome_closer": 0.75}, 0.5),
            "no success distance": model({"outcome_resolved": -0.5, "outcome_closer": 0.0}, None),
            "no outcome": model(None, None),
        },
    }
    rows = {line.split(" | ")[0][2:]: line for line in table(report).splitlines() if line.startswith("| ")}
    assert "nan" not in table(report)
    assert " | +0.25 | 75 % | 50 % | 0.50 | 0.40 | 0.80 |" in rows["measured"]
    assert " | -0.50 | 0 % | - | 0.50 |" in rows["no success distance"]
    assert " | - | - | - | 0.50 |" in rows["no outcome"]
