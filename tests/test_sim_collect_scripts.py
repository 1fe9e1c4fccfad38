"""Scripted controllers: they drive each task's object, the priority tasks succeed, failures are failures."""

from __future__ import annotations

import numpy as np
import pytest
from sim_collect_support import run_script

from rla_gym.specs import TASKS
from rla_gym.specs.robots import ROBOTS

pytestmark = [
    pytest.mark.sim,
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mani_skill"),
    pytest.mark.filterwarnings("ignore:.*precision lowered by casting:UserWarning"),
]
SEEDS = (0, 1, 2)


@pytest.mark.parametrize("task", list(TASKS))
def test_script_moves_the_task_object_in_most_of_three_episodes(envs, task):
    env, spec = envs.get(task), ROBOTS[TASKS[task].robot]
    moved = []
    for seed in SEEDS:
        rollout = run_script(env, task, seed, stop_when_moved=0.01)
        assert rollout.actions.shape[1] == spec.action_dim
        assert (rollout.actions >= np.array(spec.action_low) - 1e-6).all()
        assert (rollout.actions <= np.array(spec.action_high) + 1e-6).all()
        moved.append(rollout.success or rollout.moved > 0.01)
    assert sum(moved) >= 2, f"{task}: the script moved an object in {sum(moved)} of 3 episodes"


@pytest.mark.parametrize("task", ["RollBall", "PullCube"])
def test_priority_scripts_succeed_on_at_least_one_of_three_seeds(envs, task):
    results = [run_script(envs.get(task), task, seed).success for seed in SEEDS]
    assert any(results), f"{task}: no success on seeds {SEEDS}"


def test_failure_slot_is_recorded_as_a_failure_of_full_length(envs):
    from rla_gym.sim.scripted import make_script
    from rla_gym.sim.scripted.record import RecordConfig, record_episode

    env = envs.get("PullCube")
    episode = record_episode(env, make_script("PullCube"), seed=0, fail=True, config=RecordConfig(max_steps=30))
    assert not episode.success
    assert episode.num_steps == 30
    assert episode.frames.shape[0] == episode.qpos.shape[0] == episode.object_moved.shape[0] == 30
    assert episode.target_qpos.shape == (30, 8) and episode.qpos.shape == (30, 9)


def test_success_episode_ends_a_few_steps_after_the_first_success(envs):
    from rla_gym.sim.scripted import make_script
    from rla_gym.sim.scripted.record import RecordConfig, record_episode

    env = envs.get("PullCube")
    direct = run_script(env, "PullCube", seed=1)
    assert direct.success
    episode = record_episode(env, make_script("PullCube"), seed=1, config=RecordConfig(post_success_steps=3))
    assert episode.success
    assert episode.num_steps == direct.steps + 3  # success on step `steps`, then 3 more
    assert episode.object_moved.any()
    np.testing.assert_allclose(episode.target_qpos[: direct.steps], direct.actions, atol=1e-6)


def test_unknown_task_error_lists_the_scripted_tasks():
    from rla_gym.sim.scripted import make_script

    with pytest.raises(ValueError, match="valid tasks: PushT, RollBall, PullCube, PullCubeTool, PokeCube"):
        make_script("StackCube")
