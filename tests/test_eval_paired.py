"""Paired tests: exact McNemar for per-seed success, signed-rank for per-item scores."""

from __future__ import annotations

import numpy as np
import pytest

from rla_gym.eval.paired import mcnemar_exact, paired_signed_rank


def test_mcnemar_counts_only_discordant_seeds_and_matches_the_binomial():
    a = [True] * 40 + [True] * 8 + [False] * 2  # 8 seeds only A solves, 2 only B
    b = [True] * 40 + [False] * 8 + [True] * 2
    result = mcnemar_exact(a, b)
    assert (result.a_better, result.b_better, result.n) == (8, 2, 50)
    assert result.p_value == pytest.approx(2 * (1 + 10 + 45) / 1024)  # P(X <= 2), X ~ Bin(10, 1/2), two-sided
    assert "no evidence" in result.verdict(a="RL", b="BC")  # p = 0.109


def test_mcnemar_of_identical_policies_and_of_a_clear_win():
    same = mcnemar_exact([True, False, True], [True, False, True])
    assert same.p_value == 1.0
    clear = mcnemar_exact([True] * 20, [False] * 20)
    assert clear.p_value < 1e-5 and clear.verdict(a="RL", b="BC").startswith("RL is better")
    with pytest.raises(ValueError, match="same seeds"):
        mcnemar_exact([True, False], [True])


def test_signed_rank_sees_a_consistent_small_gain_that_an_unpaired_view_would_miss():
    rng = np.random.default_rng(0)
    base = rng.normal(0, 1, 40)  # items differ a lot; B is A minus a small consistent gap
    result = paired_signed_rank(base + 0.1, base)
    assert result.a_better == 40 and result.p_value < 1e-6
    noise = paired_signed_rank(base + rng.normal(0, 0.1, 40), base)
    assert noise.p_value > 0.05


def test_signed_rank_ties_equal_differences_of_means():
    """Per-seed means over three runs against 0/1: differences of a third must tie whatever the float rounding."""
    from scipy.stats import wilcoxon

    rng = np.random.default_rng(0)
    runs = rng.random((3, 200)) < 0.7
    bc = rng.random(200) < 0.75
    mean = runs.mean(0)
    thirds = np.round(3 * (mean - bc)).astype(int)  # the same differences, exact integers
    expected = wilcoxon(thirds[thirds != 0]).pvalue
    assert paired_signed_rank(mean, bc.astype(float)).p_value == pytest.approx(expected, rel=1e-9)


def test_signed_rank_verdict_follows_the_ranks_not_the_counts():
    """B wins most items by a hair, A wins a few by a lot (held-out starts where the arm holds still, and copy-first
    is nearly exact, beside starts where it moves): the test's lean is A's, and so is the verdict."""
    a = np.array([-0.01] * 40 + [5.0] * 30)
    result = paired_signed_rank(a, np.zeros(70))
    assert (result.a_better, result.b_better) == (30, 40)
    assert result.favours == 1 and result.p_value < 0.05
    assert result.verdict(a="RLA-WM", b="copy").startswith("RLA-WM is better")
    assert paired_signed_rank(-a, np.zeros(70)).favours == -1
    assert mcnemar_exact([True] * 9, [False] * 9).favours == 1
