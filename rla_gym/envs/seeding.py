"""Counter-based seeding: every random draw of an env is a pure function of (seed, stream, global env
index, counter), so results do not depend on how envs are split across processes or devices.

`fold_in_seed` mixes 64-bit integers with SplitMix64, the scheme the paper's authors use (reference 7.1)."""

from __future__ import annotations

import numpy as np

MASK64 = (1 << 64) - 1

# stream ids (reference 7.1)
RESET_SAMPLE = 1
FLOW_NOISE = 5
EXTRA_DRAWS = 6  # extra flow draw i (reward averaging, uncertainty='draws') uses stream 6 + i (not in the reference)


def _splitmix64(v: int) -> int:
    v = (v + 0x9E3779B97F4A7C15) & MASK64
    v = ((v ^ (v >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    v = ((v ^ (v >> 27)) * 0x94D049BB133111EB) & MASK64
    return v ^ (v >> 31)


def fold_in_seed(base: int, *components: int) -> int:
    """Mix `base` with each component; returns a non-negative 63-bit seed."""
    mixed = _splitmix64(int(base) & MASK64)
    for c in components:
        mixed = _splitmix64(mixed ^ _splitmix64(int(c) & MASK64))
    return mixed & ((1 << 63) - 1)


def env_rng(seed: int, stream: int, env_index: int, counter: int) -> np.random.Generator:
    return np.random.default_rng(fold_in_seed(seed, stream, env_index, counter))
