"""`DemoReference` is the env's reward, public: the demo tokens, the time-synced and goal frames of a (demo, frame)
position, the reward and the success test. A planner scores its own predictions with it and gets the env's numbers,
without touching the env's private state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rla_gym.envs.config import PAPER_SUCCESS_THRESHOLD
from rla_gym.envs.demo_reference import DemoReference
from rla_gym.envs.reward import token_l1
from rla_gym.envs.seeding import FLOW_NOISE, env_rng
from rla_gym.models.bundle import load_bundle

K = 8  # the default chunk size; the tiny bundle's demos hold 24 frames each


@pytest.fixture(scope="module")
def bundle(random_bundle_dir):
    return load_bundle(random_bundle_dir)


@pytest.mark.parametrize("mode", ["aligned", "goal"])
def test_a_planner_scores_candidates_with_the_public_reference_as_the_env_rewards_them(bundle, make_vec_env, mode):
    env = make_vec_env(2, obs_mode="dict", reward_mode=mode, reward_scale=3.0, autoreset_mode="NextStep")
    obs, info = env.reset(seed=0, options={"demo": [0, 1], "frame": [0, 16]})  # world 1's demo runs out this chunk
    n = env.num_envs

    # the planner: its own reference and dynamics from the bundle, CEM's first round around the demo's next chunk
    ref = DemoReference.from_bundle(bundle, chunk_size=K, reward_mode=mode, reward_scale=3.0)
    dynamics = bundle.dynamics("rla-wm", env.euler_steps)
    demo, frame, candidates = info["demo"], info["frame"], 16
    g = torch.Generator().manual_seed(0)
    mean = ref.chunk_targets(demo, frame)  # (N, K, A)
    chunks = mean[:, None] + 0.2 * torch.randn(n, candidates, *mean.shape[1:], generator=g)
    chunks = torch.clamp(
        chunks, *(torch.as_tensor(b) for b in (env.single_action_space.low, env.single_action_space.high))
    )
    # the flow noise the env draws for world i's first step (documented: seed, stream 5, env index, flow step)
    noise = np.stack(
        [env_rng(0, FLOW_NOISE, i, 0).standard_normal(dynamics.noise_shape, dtype=np.float32) for i in range(n)]
    )
    noise = torch.from_numpy(noise).repeat_interleave(candidates, 0)
    pred = dynamics(obs["tokens"].repeat_interleave(candidates, 0), chunks.flatten(0, 1), noise)
    scores, _, _ = ref.reward(pred, demo.repeat_interleave(candidates), frame.repeat_interleave(candidates))
    scores = scores.view(n, candidates)
    best = scores.argmax(1)
    assert bool((scores.max(1).values > scores.min(1).values).all()), "candidates score differently"

    next_obs, reward, terminated, truncated, next_info = env.step(chunks[torch.arange(n), best])
    torch.testing.assert_close(reward, scores[torch.arange(n), best], rtol=1e-5, atol=1e-6)
    # scoring the env's own prediction through the public reference gives the env's numbers exactly
    expected, reward_l1, goal_l1 = ref.reward(next_obs["tokens"], demo, frame)
    assert torch.equal(reward, expected)
    assert torch.equal(next_info["reward_l1"], reward_l1) and torch.equal(next_info["goal_l1"], goal_l1)
    assert terminated.tolist() == ref.runs_out(demo, frame).tolist() == [False, True]
    assert torch.equal(next_info["frame"], ref.advance(demo, frame))
    assert torch.equal(next_info["success"], ref.success(goal_l1, terminated | truncated))


def test_the_env_rewards_through_its_public_reference(bundle, make_vec_env):
    env = make_vec_env(2, reward_mode="goal", success_threshold=0.25)
    ref = DemoReference.from_bundle(bundle, chunk_size=K, reward_mode="goal", success_threshold=0.25)
    assert isinstance(env.reference, DemoReference)
    assert (env.reference.reward_mode, env.reference.success_threshold) == ("goal", 0.25)
    assert torch.equal(env.reference.tokens, ref.tokens) and torch.equal(env.reference.frames, ref.frames)
    obs, info = env.reset(seed=3)
    assert torch.equal(env.demo_frames(), ref.frames[ref.index(info["demo"], info["frame"])])
    assert torch.equal(obs, env.stack.render(ref.tokens[ref.index(info["demo"], info["frame"])]))
    assert torch.equal(env.demo_actions(), ref.chunk_targets(info["demo"], info["frame"]))


def test_the_synced_frame_is_one_chunk_on_held_at_the_demo_s_goal(bundle):
    ref = DemoReference.from_bundle(bundle, chunk_size=K)
    start, last = int(bundle.demos.episode_starts[1]), int(bundle.demos.episode_lengths[1]) - 1
    assert ref.advance([1, 1, 1], [0, 14, 20]).tolist() == [8, 22, last]
    assert ref.runs_out([1, 1], [14, 15]).tolist() == [False, True]
    assert torch.equal(ref.synced_tokens([1], [3]), ref.tokens[start + 3 + K][None])
    assert torch.equal(ref.goal_tokens([1]), ref.tokens[start + last][None])
    assert torch.equal(ref.synced_tokens([1], [20]), ref.goal_tokens([1]))
    assert not torch.equal(ref.synced_tokens([1], [3]), ref.goal_tokens([1]))
    assert torch.equal(ref.tokens[start + 5], bundle.stack.encode(bundle.demos.frames[start + 5][None])[0])


@pytest.mark.parametrize("mode", ["aligned", "goal"])
def test_reward_is_minus_scale_times_l1_to_the_mode_s_frame(bundle, mode):
    ref = DemoReference.from_bundle(bundle, chunk_size=K, reward_mode=mode, reward_scale=2.0)
    pred = torch.randn(3, *ref.tokens.shape[1:], generator=torch.Generator().manual_seed(1))
    demo, frame = torch.tensor([0, 1, 2]), torch.tensor([0, 5, 20])
    reward, reward_l1, goal_l1 = ref.reward(pred, demo, frame)
    target = ref.synced_tokens(demo, frame) if mode == "aligned" else ref.goal_tokens(demo)
    assert torch.equal(reward_l1, token_l1(pred, target)) and torch.equal(reward, -2.0 * reward_l1)
    assert torch.equal(goal_l1, token_l1(pred, ref.goal_tokens(demo)))
    # one world's position broadcasts over many candidates
    one, _, _ = ref.reward(pred, 1, 5)
    assert torch.equal(one, ref.reward(pred, torch.tensor([1, 1, 1]), torch.tensor([5, 5, 5]))[0])


def test_success_needs_a_finished_episode_within_the_threshold(bundle):
    ref = DemoReference.from_bundle(bundle, chunk_size=K, success_threshold=0.1)
    goal_l1 = torch.tensor([0.05, 0.1, 0.11, 0.05])
    done = torch.tensor([True, True, True, False])
    assert ref.success(goal_l1, done).tolist() == [True, True, False, False]


def test_a_bundle_s_calibrated_threshold_is_the_default(bundle):
    assert DemoReference.from_bundle(bundle, chunk_size=K).success_threshold == pytest.approx(
        bundle.metadata.get("success_threshold", PAPER_SUCCESS_THRESHOLD)
    )


def test_an_unknown_reward_mode_lists_the_valid_ones(bundle):
    with pytest.raises(ValueError, match="valid: aligned, goal"):
        DemoReference.from_bundle(bundle, chunk_size=K, reward_mode="dense")


def test_a_demo_is_encoded_when_a_world_first_reaches_it_and_the_same_whatever_the_order(bundle, make_vec_env):
    ref = DemoReference.from_bundle(bundle, chunk_size=K)
    assert ref.encoded.tolist() == [True, False, False, False]  # demo 0 at once: a broken encoder fails at make
    tokens = ref.frame_tokens([2], [5])
    assert ref.encoded.tolist() == [True, False, True, False]
    start = int(bundle.demos.episode_starts[2])
    eager = bundle.stack.encode(bundle.demos.frames[start : start + 24])  # the demo in one batch
    assert torch.equal(tokens[0], eager[5])
    other = DemoReference.from_bundle(bundle, chunk_size=K)
    assert torch.equal(other.tokens[start + 5], tokens[0])  # every demo at once: the same tokens
    env = make_vec_env(2)
    env.reset(seed=0, options={"demo": [3, 1], "frame": [0, 0]})
    assert env.unwrapped.reference.encoded.tolist() == [True, True, False, True]
