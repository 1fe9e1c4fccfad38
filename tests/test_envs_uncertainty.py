"""info["uncertainty"]: the disagreement of a second prediction with the env's step, and its optional penalty;
`reward_draws`: the reward averaged over several flow-noise draws of the step."""

from __future__ import annotations

import pytest
import torch
from dynamics_support import save_regression_bundle


@pytest.fixture(scope="module")
def regression_bundle_dir(tmp_path_factory):
    return save_regression_bundle(tmp_path_factory.mktemp("bundles") / "ur10e-tiny-regression")


def _steps(env, n: int = 3):
    env.reset(seed=7)
    gen = torch.Generator().manual_seed(0)
    low, high = torch.as_tensor(env.action_space.low), torch.as_tensor(env.action_space.high)
    out = []
    for _ in range(n):
        action = low + torch.rand(low.shape, generator=gen) * (high - low)
        out.append(env.step(action)[1:])
    return out


def test_no_second_opinion_unless_asked(make_vec_env):
    (_, _, _, info), *_ = _steps(make_vec_env(2), 1)
    assert "uncertainty" not in info


@pytest.mark.parametrize("mode", ["draws", "regression"])
def test_a_second_opinion_disagrees_a_little_and_the_penalty_subtracts_it(make_vec_env, regression_bundle_dir, mode):
    plain = _steps(make_vec_env(3, bundle=regression_bundle_dir, uncertainty=mode))
    penalised = _steps(make_vec_env(3, bundle=regression_bundle_dir, uncertainty=mode, uncertainty_penalty=2.0))
    for (reward, _, _, info), (reward_p, _, _, info_p) in zip(plain, penalised):
        u = info["uncertainty"]
        stepped = info.get("_uncertainty", torch.ones(3, dtype=torch.bool))  # a world reset this step shows 0
        assert u.shape == (3,) and bool(torch.isfinite(u).all()) and bool((u[stepped] > 0).all())
        torch.testing.assert_close(info_p["uncertainty"], u)  # seeded: the same worlds, the same second opinion
        if "final_info" in info:  # a world that ended this step: its step's uncertainty sits in final_info
            u = torch.where(info["_final_info"], info["final_info"]["uncertainty"], u)
        torch.testing.assert_close(reward_p, reward - 2.0 * u)


def test_the_second_draw_has_its_own_noise_and_leaves_the_step_alone(make_vec_env):
    """The step's own prediction (observation, reward) is the same with and without the second draw."""
    without, with_draws = make_vec_env(2), make_vec_env(2, uncertainty="draws")
    for (r0, _, _, i0), (r1, _, _, i1) in zip(_steps(without), _steps(with_draws)):
        torch.testing.assert_close(r0, r1)
        torch.testing.assert_close(i0["reward_l1"], i1["reward_l1"])


def test_reward_draws_average_the_reward_of_other_draws_and_leave_the_world_alone(make_vec_env):
    one = _steps(make_vec_env(2, uncertainty="draws"))
    two = _steps(make_vec_env(2, uncertainty="draws", reward_draws=2))
    for (_, _, _, i1), (_, _, _, i2) in zip(one, two):
        torch.testing.assert_close(i1["goal_l1"], i2["goal_l1"])  # the world's own next state: the first draw
        torch.testing.assert_close(i1["uncertainty"], i2["uncertainty"])
        second = 2 * i2["reward_l1"] - i1["reward_l1"]  # the other draw's reward L1, solved out of the mean
        assert bool((second - i1["reward_l1"]).abs().max() > 0), "the average took a different draw in"
        # |L1(a, ref) - L1(b, ref)| <= L1(a, b): the draw averaged in is the one the uncertainty measured
        assert bool(((second - i1["reward_l1"]).abs() <= i1["uncertainty"] + 1e-5).all())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"uncertainty": "draws", "dynamics": "regression"}, "needs a sampling dynamics"),
        ({"uncertainty": "regression", "dynamics": "regression"}, "already steps the baseline"),
        ({"uncertainty_penalty": 1.0}, "needs a signal to penalise"),
        ({"uncertainty": "ensemble"}, "valid: draws, regression"),
        ({"uncertainty": "draws", "uncertainty_penalty": -1.0}, "a finite number >= 0"),
        ({"reward_draws": 3, "dynamics": "regression"}, "deterministic: every draw is the same"),
        ({"reward_draws": 0}, "reward_draws must be an integer >= 1"),
    ],
)
def test_a_second_opinion_that_cannot_disagree_is_refused(make_vec_env, regression_bundle_dir, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_vec_env(2, bundle=regression_bundle_dir, **kwargs)
