"""Seed ranges: training scenes never overlap the scenes policies are selected or reported on."""

from __future__ import annotations

from rla_gym.specs.seeds import (
    HELDOUT_SEED_BASE,
    REPORT_SEEDS,
    SELECTION_SEEDS,
    TRAIN_SEED_BASE,
    describe_overlap,
    eval_overlap,
)


def test_the_ranges_are_disjoint_and_far_apart():
    assert set(SELECTION_SEEDS).isdisjoint(REPORT_SEEDS)
    assert len(REPORT_SEEDS) >= 500
    assert not eval_overlap(TRAIN_SEED_BASE, HELDOUT_SEED_BASE - TRAIN_SEED_BASE)
    assert not eval_overlap(HELDOUT_SEED_BASE, 1_000_000)


def test_overlap_names_each_range_and_its_overlapping_part():
    assert eval_overlap(0, 360) == {"selection": range(42, 92)}  # the first bundle's training scenes
    assert eval_overlap(90, 5) == {"selection": range(90, 92)}
    assert eval_overlap(3_001_400, 200) == {"report": range(3_001_400, 3_001_500)}
    assert not eval_overlap(100_000, 40)  # the first bundle's held-out demos are not report scenes
    assert eval_overlap(0, 42) == {} and eval_overlap(92, 1000) == {}
    line = describe_overlap(0, 360)
    assert "selection seeds 42-91" in line and str(TRAIN_SEED_BASE) in line
    assert describe_overlap(TRAIN_SEED_BASE, 400) is None
