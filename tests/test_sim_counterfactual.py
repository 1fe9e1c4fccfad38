"""The counterfactual outcome: same arm, the object put back; it must differ from the real frame only there."""

from __future__ import annotations

import numpy as np
import pytest

from rla_gym.data.split_metadata import episode_seed
from rla_gym.sim.counterfactual import replay_outcome

pytestmark = [pytest.mark.sim, pytest.mark.filterwarnings("ignore::DeprecationWarning:mani_skill")]


def test_counterfactual_undoes_the_balls_roll_and_nothing_else(envs):
    from rla_gym.sim.scripted import make_script
    from rla_gym.sim.scripted.record import COLLECT_OBS_MODE, record_episode

    env = envs.get("RollBall", obs_mode=COLLECT_OBS_MODE)
    for seed in range(1_000_000, 1_000_010):  # the first scripted success (two in three succeed)
        episode = record_episode(env, make_script("RollBall"), seed)
        if episode.success:
            break
    outcome = replay_outcome(env, "RollBall", seed, episode.target_qpos[:-1])
    assert outcome.success and outcome.moved_m > 0.05
    real, cf = outcome.real.astype(int), outcome.counterfactual.astype(int)
    assert np.abs(real - episode.frames[-1]).mean() < 8  # the replay is the recording
    changed = np.abs(real - cf).max(-1) > 30  # (H, W)
    ball_now, ball_then = episode.object_labels[-1] == 1, episode.object_labels[0] == 1
    assert changed.any()
    assert changed[ball_now | ball_then].mean() > 0.3  # where the ball is and was
    assert (changed & ~(ball_now | ball_then)).mean() < 0.01  # and almost nowhere else


def test_episode_seed_is_the_collection_seed_plus_the_trajectory_id(tmp_path):
    from rla_gym.data.split_metadata import write_split_metadata
    from rla_gym.specs import get_robot

    split = tmp_path / "success"
    write_split_metadata(split, get_robot("ur10e"), extra={"seed": 1_000_000})
    assert episode_seed(split / "traj_000007") == 1_000_007
    with pytest.raises(ValueError, match="records no collection seed"):
        episode_seed(tmp_path / "other" / "traj_000001")
    assert episode_seed(tmp_path / "other" / "traj_000001", seed_base=5) == 6
