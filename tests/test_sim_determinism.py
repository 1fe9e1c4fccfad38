"""An episode in ManiSkill is a function of its seed and actions, whatever ran before it in the same env.

PhysX on the CPU keeps state across a plain `reset(seed=...)`: a recorded PushT push (held-out seed 2 000 001; its
joint targets and those of seed 2 000 000 in `data/`) replays exactly in a fresh env but, after 5 steps of the other
episode in the same env, drifts from step 13 and misses the goal. Most pushes do not show it (14 scripted ones
replayed exactly): the effect is rare, and this pair is one where it shows. `make_sim_env` rebuilds the scene at every
reset on the CPU simulator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytestmark = [
    pytest.mark.sim,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mani_skill"),
    pytest.mark.filterwarnings("ignore:.*precision lowered by casting:UserWarning"),
]
TARGETS = Path(__file__).parent / "data" / "pusht_heldout_targets.npz"  # seed_<seed>: (T, 5) joint targets


def _replayed(env, seed: int, targets: np.ndarray) -> tuple[np.ndarray, bool]:
    """Reset with `seed`, execute `targets` open loop: the T's poses (T, 7) and whether the last step succeeds."""
    env.reset(seed=seed)
    tee = env.unwrapped.scene.actors["Tee"]
    poses, info = [], {}
    for action in targets:
        *_, info = env.step(action)
        poses.append(tee.pose.raw_pose[0].numpy().copy())
    return np.stack(poses), bool(np.asarray(info["success"]).reshape(-1)[0])


def test_a_recorded_push_replays_the_same_after_another_episode():
    from sim_support import require_sim, single_torch_thread

    require_sim()
    from rla_gym.sim import make_sim_env

    recorded = np.load(TARGETS)
    push, other = recorded["seed_2000001"], recorded["seed_2000000"]
    with single_torch_thread():
        envs = [make_sim_env("ur10e", "PushT", size=16, obs_mode="state") for _ in range(2)]
        try:
            assert envs[0].unwrapped.reconfiguration_freq == 1, "the CPU simulator rebuilds its scene at every reset"
            fresh, success = _replayed(envs[0], 2_000_001, push)  # the env's first episode
            assert success, "the recorded push succeeds when replayed in a fresh env"
            _replayed(envs[1], 2_000_000, other[:5])  # another episode first, 5 steps of it
            after, success_after = _replayed(envs[1], 2_000_001, push)
            np.testing.assert_array_equal(after, fresh)
            assert success_after
        finally:
            for env in envs:
                env.close()
