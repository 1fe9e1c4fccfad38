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


def _state_env(seed: int):
    from rla_gym.sim import make_sim_env

    env = make_sim_env("ur10e", "PushT", size=16, obs_mode="state")
    env.reset(seed=seed)
    return env


def _states_equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_states_equal(a[k], b[k]) for k in a)
    return bool((a == b).all())


def test_push_t_judges_pushes_in_a_sandbox_by_what_they_do_and_leaves_the_scene_alone():
    """The pushing model's first choice is replaced by a push into thin air: the sandbox must see that it moves
    nothing and take the real push; planning must not move anything in the scene being recorded."""
    from rla_gym.sim.scripted.base import xy, yaw_of
    from rla_gym.sim.scripted.push_t import PushTScript, _wrap

    env = _state_env(5)
    try:
        u = env.unwrapped
        script = PushTScript()
        script.reset(env, rng=5)
        pos, yaw = xy(u.tee), yaw_of(u.tee)
        err, dyaw = xy(u.goal_tee) - pos, _wrap(yaw_of(u.goal_tee) - yaw)
        real = script._pushes(pos, yaw, err, dyaw)[0]
        away = pos - 0.25 * err / np.linalg.norm(err)  # 25 cm behind the T, pushing away from it
        air = (away, -err / np.linalg.norm(err), 0.05)
        before = u.get_state_dict()
        chosen = script._tried_best(u, [air, real], np.zeros(2), 0.02, low=False)
        assert _states_equal(before, u.get_state_dict()), "planning touched the recorded scene"
        assert script._sandbox_env is not u
        np.testing.assert_allclose(chosen[0], real[0])
        np.testing.assert_allclose(chosen[1], real[1])
        assert 0.0 < chosen[2] <= real[2] * 1.5 + 1e-9, "the travel is read off the played-out push"
    finally:
        script.close()
        env.close()


def test_push_t_with_its_sandbox_is_reproducible_and_succeeds_within_the_collection_limit():
    """Collections are resumed episode by episode, so a seed must give the same actions every time; and with the
    authors' 150-step collection limit the script should succeed (measured: ~8 in 10)."""
    from rla_gym.sim.scripted import make_script
    from rla_gym.sim.scripted.record import COLLECT_MAX_STEPS

    runs = []
    for _ in range(2):
        env, script = _state_env(1000001), make_script("PushT")
        script.sim_candidates = 4
        try:
            script.reset(env, rng=7)
            actions, success = [], False
            for _ in range(COLLECT_MAX_STEPS):
                actions.append(script.act(env))
                success = bool(env.step(actions[-1])[-1]["success"].item())
                if success:
                    break
            runs.append((np.stack(actions), success))
            assert script._sandbox_env is not None, "the pushes were planned in the sandbox"
        finally:
            script.close()
            env.close()
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1], "seed 1000001 succeeds with the sandbox (and without it) within 150 steps"
