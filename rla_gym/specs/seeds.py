"""ManiSkill seed ranges: which scenes train, which select, which report. The one home of these facts.

A policy's success counts only on scenes it never trained on and that did not pick it (design notes, "Statistics
of policy comparisons"). Collection episode i runs ManiSkill seed `seed + i`, so a collection covers
`range(seed, seed + episodes)`; the ranges below are far apart so that no collection of a sane size reaches another.

- `SELECTION_SEEDS` (42-91): the paper's evaluation seeds; here they pick checkpoints and compare quickly.
- `REPORT_SEEDS`: final numbers of a chosen policy (>= 500 episodes), never used to choose anything.
- `RANKING_SEEDS`: the policy-ranking benchmark's ManiSkill scenes (`scripts/rank_policies.sh`), apart from the rest.
- `TRAIN_SEED_BASE`: training demos (world model, BC) start here.
- `HELDOUT_SEED_BASE`: held-out demos for prediction benchmarks (never trained on, never used for policies).
"""

from __future__ import annotations

SELECTION_SEEDS: range = range(42, 92)
REPORT_SEEDS: range = range(3_000_000, 3_001_500)  # far from every collection, old ones (100 000+) included
RANKING_SEEDS: range = range(4_000_000, 4_000_500)
TRAIN_SEED_BASE: int = 1_000_000
HELDOUT_SEED_BASE: int = 2_000_000

EVAL_RANGES: dict[str, range] = {"selection": SELECTION_SEEDS, "report": REPORT_SEEDS, "ranking": RANKING_SEEDS}


def eval_overlap(start: int, count: int) -> dict[str, range]:
    """The evaluation ranges that `range(start, start + count)` overlaps, each with the overlapping part."""
    wanted = range(start, start + max(count, 0))
    found: dict[str, range] = {}
    for name, seeds in EVAL_RANGES.items():
        lo, hi = max(wanted.start, seeds.start), min(wanted.stop, seeds.stop)
        if lo < hi:
            found[name] = range(lo, hi)
    return found


def describe_overlap(start: int, count: int) -> str | None:
    """One line saying which evaluation seeds a collection of `count` episodes from `start` would train on, or None."""
    found = eval_overlap(start, count)
    if not found:
        return None
    parts = ", ".join(f"{name} seeds {r.start}-{r.stop - 1}" for name, r in found.items())
    return (
        f"seeds {start}-{start + count - 1} overlap the evaluation ranges ({parts}); collect training data from "
        f"--seed {TRAIN_SEED_BASE} (held-out: {HELDOUT_SEED_BASE}) or pass --allow-eval-seeds"
    )
