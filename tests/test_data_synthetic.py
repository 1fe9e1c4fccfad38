"""The one synthetic generator: pixels follow the joint targets, exact object_moved flags, demo sets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rla_gym.data.synthetic import arm_tip, synthetic_demos, synthetic_episode
from rla_gym.specs.robots import get_robot


@pytest.mark.parametrize("robot", ["ur10e", "panda", "xarm6_robotiq"])
def test_frames_follow_the_joint_targets(robot):
    """Frame t + 1 draws the arm where target t puts its tip, as a simulator would show it."""
    size = 64
    ep = synthetic_episode(30, size, robot=robot, seed=7)
    spec = get_robot(robot)
    checked = 0
    for t in range(ep.num_steps - 1):
        x, y = (arm_tip(spec, ep.target_qpos[t]) * size).astype(int)
        disc = ep.object_poses[t + 1, 0, :2] / 0.6 * size
        if np.hypot(*(disc - (x, y))) < 0.15 * size or not (0 <= x < size and 0 <= y < size):
            continue  # the disc is drawn over the tip
        assert ep.frames[t + 1, y, x].min() > 180, f"frame {t + 1}: no arm at the tip of target {t}"
        checked += 1
    assert checked > ep.num_steps // 2
    other = synthetic_episode(30, size, robot=robot, seed=8)
    assert np.abs(ep.frames[1:].astype(int) - other.frames[1:]).mean() > 2  # other targets, other pictures


@pytest.mark.parametrize("seed", range(5))
def test_object_moved_is_exactly_the_push_window(seed):
    ep = synthetic_episode(24, 32, robot="panda", move=(3, 9), seed=seed)
    expected = np.zeros(24, bool)
    expected[3:9] = True  # steps 3 .. 8 push the disc
    np.testing.assert_array_equal(ep.object_moved, expected)
    default = synthetic_episode(30, 32, seed=seed)
    np.testing.assert_array_equal(np.flatnonzero(default.object_moved), np.arange(10, 20))  # the middle third


def test_demo_set_holds_the_same_episodes():
    demos = synthetic_demos("ur10e", episodes=3, length=12, size=32, seed=4)
    assert demos.num_episodes == 3 and demos.frames.shape == (36, 32, 32, 3)
    assert demos.targets.shape == (36, 5) and demos.qpos.shape == (36, 6)
    again = synthetic_demos("ur10e", episodes=3, length=12, size=32, seed=4)
    assert torch.equal(demos.frames, again.frames)  # seeded


def test_random_bundles_use_this_generator():
    from rla_gym.models import random_bundle

    assert random_bundle.synthetic_demos is synthetic_demos
    assert not hasattr(random_bundle, "synthetic_episode")  # one generator, not two
    bundle = random_bundle.make_random_bundle("ur10e", "tiny", episodes=2, length=10, seed=3)
    expected = synthetic_demos("ur10e", 2, 10, bundle.stack.image_size, 3)
    assert torch.equal(bundle.demos.frames, expected.frames)


def test_bad_arguments_say_what_was_expected():
    with pytest.raises(ValueError, match="num_steps must be >= 1; got 0"):
        synthetic_episode(0)
    with pytest.raises(ValueError, match=r"move must satisfy 0 <= a <= b <= num_steps = 10; got \(4, 12\)"):
        synthetic_episode(10, move=(4, 12))
