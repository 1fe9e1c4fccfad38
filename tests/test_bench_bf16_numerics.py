"""The fp32-vs-bf16 comparison on the tiny random bundle: it compares the same worlds, and it sees bf16's rounding."""

from __future__ import annotations

import math

import pytest


@pytest.fixture(scope="module")
def bundle(random_bundle_dir):
    from rla_gym.models.bundle import load_bundle

    return load_bundle(random_bundle_dir)


def test_float32_against_itself_is_identical(bundle):
    """Same seed, same actions, same noise: no drift at all, so any drift bf16 shows is bf16's (this also checks
    that the fp32 run's extra flow-noise draws for the spread leave its own trajectory alone)."""
    from benchmarks.bf16_numerics import precision_drift

    rows = precision_drift(bundle, "cpu", num_envs=3, chunk_steps=3, seed=1, precision="float32")
    assert [r["chunk_step"] for r in rows] == [0, 1, 2, 3]
    for r in rows:
        assert r["token_l1"] == 0.0
        assert math.isinf(r["psnr_db"])
    for r in rows[1:]:
        assert r["reward_abs_diff"] == 0.0
        assert r["flow_noise_spread"] > 0  # two noise draws of one step differ: the scale drift is set against


def test_bfloat16_drifts_a_little(bundle):
    from benchmarks.bf16_numerics import precision_drift

    rows = precision_drift(bundle, "cpu", num_envs=3, chunk_steps=3, seed=1, precision="bfloat16")
    assert rows[0]["token_l1"] == 0.0  # the reset frame is a demo's encoded frame, not a prediction
    later = rows[1:]
    assert all(r["token_l1"] > 0 for r in later)  # bf16 rounds the predictions
    assert all(math.isfinite(r["token_l1"]) and r["token_l1"] < r["token_scale"] for r in later)
    assert all(r["drift_over_spread"] == pytest.approx(r["token_l1"] / r["flow_noise_spread"]) for r in later)


def test_command_line_reads_a_bundle_folder_and_writes_its_rows(random_bundle_dir, tmp_path, monkeypatch, capsys):
    import json
    import sys

    from benchmarks.bf16_numerics import main

    out = tmp_path / "rows.json"
    argv = ["bf16_numerics", "--bundle", str(random_bundle_dir), "--num-envs", "2", "--chunk-steps", "1"]
    monkeypatch.setattr(sys, "argv", [*argv, "--device", "cpu", "--json", str(out)])
    main()
    written = json.loads(out.read_text())
    assert written["bundle"] == str(random_bundle_dir) and written["device"] == "cpu"
    assert [r["chunk_step"] for r in written["rows"]] == [0, 1]
    assert "| 1 | 2 |" in capsys.readouterr().out  # step 1 of both worlds in the table
