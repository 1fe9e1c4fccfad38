"""The five tasks in ManiSkill with their robots: spaces, placement, stepping, rendering, reference ranges."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sim_support import TEST_SIZE

from rla_gym.sim import rgb_frames
from rla_gym.specs import TASKS
from rla_gym.specs.robots import ROBOTS

pytestmark = [
    pytest.mark.sim,
    # upstream ManiSkill noise: logger.warn deprecation, float64 gripper bounds cast to float32
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mani_skill"),
    pytest.mark.filterwarnings("ignore:.*precision lowered by casting:UserWarning"),
]
TASK_NAMES = list(TASKS)


def _spec(task: str):
    return ROBOTS[TASKS[task].robot]


def _rest_action(task: str) -> np.ndarray:
    spec = _spec(task)
    action = np.array(spec.rest_qpos[: spec.action_dim], dtype=np.float32)
    if spec.name == "panda":
        action[7] = 0.04  # open fingers, metres
    return action


@pytest.mark.parametrize("task", TASK_NAMES)
def test_robot_action_space_is_the_specs_absolute_joint_box(envs, task):
    env, spec = envs.get(task), _spec(task)
    assert env.action_space.shape == (spec.action_dim,)
    np.testing.assert_allclose(env.action_space.low, spec.action_low, atol=1e-4)
    np.testing.assert_allclose(env.action_space.high, spec.action_high, atol=1e-4)
    from mani_skill.utils.registration import REGISTERED_ENVS

    assert REGISTERED_ENVS[TASKS[task].env_id].max_episode_steps == TASKS[task].max_episode_steps


def test_episode_is_truncated_at_the_task_length(envs):
    env = envs.get("PullCube")
    env.reset(seed=0)
    action = _rest_action("PullCube")
    for step in range(1, TASKS["PullCube"].max_episode_steps + 1):
        *_, truncated, _ = env.step(action)
        assert truncated.item() == (step == TASKS["PullCube"].max_episode_steps)


@pytest.mark.parametrize("task", TASK_NAMES)
def test_reset_puts_robot_at_its_base_in_rest_pose_and_renders_front_camera(envs, task):
    env, spec = envs.get(task), _spec(task)
    obs, info = env.reset(seed=1)
    u = env.unwrapped
    np.testing.assert_allclose(u.agent.robot.pose.p[0].numpy(), spec.base_xyz, atol=1e-5)
    qpos = obs["agent"]["qpos"][0].numpy()
    assert qpos.shape == (spec.qpos_dim,)
    assert np.abs(qpos - np.array(spec.rest_qpos)).max() < 0.12  # rest + N(0, 0.02) noise
    frame = rgb_frames(obs)
    assert frame.shape == (1, TEST_SIZE, TEST_SIZE, 3) and frame.dtype == np.uint8
    assert frame.std() > 10  # a scene, not a blank image
    assert info["success"].dtype == torch.bool and not info["success"].item()


@pytest.mark.parametrize("task", TASK_NAMES)
def test_step_moves_the_robot_toward_an_absolute_target(envs, task):
    env = envs.get(task)
    obs, _ = env.reset(seed=2)
    start = obs["agent"]["qpos"][0, 0].item()
    action = _rest_action(task)
    action[0] = start + 0.3
    for _ in range(10):
        obs, reward, terminated, truncated, info = env.step(action)
    assert obs["agent"]["qpos"][0, 0].item() - start > 0.2
    assert torch.isfinite(reward).all()
    assert rgb_frames(obs).shape == (1, TEST_SIZE, TEST_SIZE, 3)


def test_front_camera_renders_at_128_pixels(envs):
    obs, _ = envs.get("PullCube", size=128).reset(seed=0)
    assert rgb_frames(obs).shape == (1, 128, 128, 3)


def test_same_seed_gives_the_same_episode(envs):
    env = envs.get("PullCube")
    obs_a, _ = env.reset(seed=7)
    cube_a = env.unwrapped.obj.pose.p.clone()
    obs_b, _ = env.reset(seed=7)
    torch.testing.assert_close(env.unwrapped.obj.pose.p, cube_a)
    torch.testing.assert_close(obs_b["agent"]["qpos"], obs_a["agent"]["qpos"])


def test_unseeded_resets_follow_the_first_seed_not_torchs_global_rng(envs):
    env = envs.get("PullCube")
    episodes = []
    for noise in (0, 1):
        env.reset(seed=11)
        torch.manual_seed(noise)  # other code touching the global RNG must not change the episodes
        env.reset()
        episodes.append(env.unwrapped.obj.pose.p.clone())
    torch.testing.assert_close(episodes[0], episodes[1])


def _xy(actor) -> np.ndarray:
    return actor.pose.p[0, :2].numpy()


def test_objects_start_in_the_reference_ranges(envs):
    for seed in range(4):
        u = envs.get("PushT").unwrapped
        envs.get("PushT").reset(seed=seed)
        np.testing.assert_allclose(_xy(u.goal_tee), (0.0, -0.1), atol=1e-6)
        assert -0.1 <= _xy(u.tee)[0] <= 0.1 and -0.2 <= _xy(u.tee)[1] <= 0.1

        u = envs.get("RollBall").unwrapped
        envs.get("RollBall").reset(seed=seed)
        assert -0.3 <= _xy(u.ball)[0] < 0 and 0.2 <= _xy(u.ball)[1] < 0.3
        assert -0.3 <= _xy(u.goal_region)[0] < 0 and 0 <= _xy(u.goal_region)[1] < 0.15

        u = envs.get("PullCube").unwrapped
        envs.get("PullCube").reset(seed=seed)
        assert np.abs(_xy(u.obj)).max() <= 0.1
        np.testing.assert_allclose(_xy(u.goal_region), _xy(u.obj) - (0.2, 0.0), atol=1e-6)

        u = envs.get("PullCubeTool").unwrapped
        envs.get("PullCubeTool").reset(seed=seed)
        assert (_xy(u.l_shape_tool) >= -0.3).all() and (_xy(u.l_shape_tool) <= -0.1).all()
        assert 0.05 <= _xy(u.cube)[0] < 0.25 and -0.25 <= _xy(u.cube)[1] < 0.05

        u = envs.get("PokeCube").unwrapped
        envs.get("PokeCube").reset(seed=seed)
        assert np.abs(_xy(u.peg)).max() <= 0.1
        assert _xy(u.cube)[0] == pytest.approx(_xy(u.peg)[0] + 0.22, abs=1e-6)
        np.testing.assert_allclose(_xy(u.goal_region), _xy(u.cube) + (0.1, 0.0), atol=1e-6)


def test_pusht_uses_the_textured_workspace_table_and_succeeds_on_the_moved_goal(envs):
    import mani_skill.envs.tasks.tabletop.push_t as upstream

    from rla_gym.sim.workspace import WorkspaceTable

    u = envs.get("PushT").unwrapped
    assert isinstance(u.table_scene, WorkspaceTable)
    assert upstream.WhiteTableSceneBuilder is not WorkspaceTable  # swapped only while loading
    envs.get("PushT").reset(seed=0)
    assert not u.evaluate()["success"].item()
    goal = u.goal_tee.pose
    u.tee.set_pose(goal.__class__.create_from_pq(p=goal.p + torch.tensor([0.0, 0.0, 0.02]), q=goal.q))
    assert u.evaluate()["success"].item()


def test_ur10e_absolute_mode_holds_wrist3_at_zero_and_wrist3_cannot_move_the_tip(envs):
    env = envs.get("PushT")
    obs, _ = env.reset(seed=3)
    for _ in range(10):
        obs, *_ = env.step(_rest_action("PushT"))
    assert abs(obs["agent"]["qpos"][0, 5].item()) < 0.01
    u = env.unwrapped
    tip = u.agent.tcp.pose.p.clone()
    qpos = u.agent.robot.get_qpos().clone()
    qpos[:, 5] += 1.0
    u.agent.robot.set_qpos(qpos)
    torch.testing.assert_close(u.agent.tcp.pose.p, tip, atol=1e-5, rtol=0)


def test_ur10e_stick_touches_the_table_but_not_its_own_wrist(envs):
    env = envs.get("PushT")
    obs, _ = env.reset(seed=8)
    action = obs["agent"]["qpos"][0, :5].numpy().copy()
    action[1] += 0.3  # shoulder_lift down: the stick tip meets the table
    for _ in range(15):
        env.step(action)
    u = env.unwrapped
    pairs = {frozenset(b.entity.name for b in c.bodies) for c in u.scene.px.get_contacts()}
    links = set(u.agent.robot.links_map)
    assert not [p for p in pairs if p <= links], "robot links in contact with each other"
    assert any("stick_link" in p and any("table" in n for n in p) for p in pairs)
    assert u.agent.tcp.pose.p[0, 2].item() == pytest.approx(0.0, abs=0.01)


def test_ur10e_delta_mode_is_5d_normalized_and_keeps_wrist3_where_it_is(envs):
    env = envs.get("RollBall", control_mode="pd_joint_delta_pos")
    assert env.action_space.shape == (5,)
    assert env.action_space.low.min() == -1.0 and env.action_space.high.max() == 1.0
    obs, _ = env.reset(seed=4)
    wrist3 = obs["agent"]["qpos"][0, 5].item()
    for _ in range(3):
        obs, *_ = env.step(np.array([1.0, 0, 0, 0, 0], dtype=np.float32))
    target = env.unwrapped.agent.controller.controllers["arm"]._target_qpos[0]
    assert target[5].item() == pytest.approx(obs["agent"]["qpos"][0, 5].item(), abs=0.02)
    assert abs(obs["agent"]["qpos"][0, 5].item() - wrist3) < 0.02


def test_panda_gripper_is_an_absolute_finger_target_in_metres(envs):
    env = envs.get("PullCube")
    env.reset(seed=5)
    action = _rest_action("PullCube")
    action[7] = 0.01
    for _ in range(10):
        obs, *_ = env.step(action)
    np.testing.assert_allclose(obs["agent"]["qpos"][0, 7:].numpy(), 0.01, atol=2e-3)


def test_xarm6_gripper_closes_with_the_knuckle_target(envs):
    env = envs.get("PokeCube")
    env.reset(seed=6)
    action = _rest_action("PokeCube")
    action[6] = 0.5
    for _ in range(10):
        obs, *_ = env.step(action)
    assert obs["agent"]["qpos"][0, 6].item() == pytest.approx(0.5, abs=0.05)
