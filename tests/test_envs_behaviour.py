"""RLAWorldModel-v0 behaviour: determinism, env splits, the reward formula, long rollouts, SB3 PPO."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rla_gym.envs.reward import video_aligned_reward


def _rollout(env, steps: int, seed: int = 7):
    obs, _ = env.reset(seed=seed)
    gen = np.random.default_rng(0)
    out = [obs]
    rewards = []
    for _ in range(steps):
        action = gen.uniform(env.action_space.low, env.action_space.high).astype(np.float32)
        obs, reward, *_ = env.step(action)
        out.append(obs)
        rewards.append(reward)
    return torch.stack(out), torch.stack(rewards)


def _two_actions(env) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.default_rng(0)
    low, high = env.single_action_space.low, env.single_action_space.high
    return tuple(gen.uniform(low, high).astype(np.float32) for _ in range(2))


def test_random_bundle_predictions_depend_on_tokens_action_and_noise(make_vec_env):
    """Every env test runs a random bundle: a constant one (zero output layers) would make them compare
    constants, so its predictions and renders must move with the state, the action and the noise."""
    env = make_vec_env(1)
    stack, demos = env.stack, env.bundle.demos
    tokens = stack.encode(demos.frames[[0, 9]])
    a, b = (torch.as_tensor(x)[None] for x in _two_actions(env))
    noise = torch.randn(2, 1, *stack.latent_shape, generator=torch.Generator().manual_seed(0))
    base = stack.predict(tokens[:1], a, noise[0])
    for name, other in {
        "tokens": stack.predict(tokens[1:], a, noise[0]),
        "action": stack.predict(tokens[:1], b, noise[0]),
        "noise": stack.predict(tokens[:1], a, noise[1]),
    }.items():
        assert (base - other).abs().mean() > 1e-5, f"prediction ignores the {name}"
        assert not torch.equal(stack.render(base), stack.render(other)), f"render ignores the {name}"
    rgb = stack.render(base).float()
    assert rgb.std() > 5 and 10 < rgb.mean() < 245, "a render is an image, not a flat (black) frame"


def test_different_actions_or_seeds_give_different_steps(make_vec_env):
    """Two worlds from the same pinned start: another action, or another seed (flow noise), moves both
    the observation and the reward."""
    start = {"demo": [1, 1], "frame": [3, 3]}
    a, b = _two_actions(make_vec_env(1))
    env = make_vec_env(2)
    env.reset(seed=0, options=start)
    obs, reward, *_ = env.step(np.stack([a, b]))
    assert not torch.equal(obs[0], obs[1]) and not torch.isclose(reward[0], reward[1])
    same = make_vec_env(1)
    results = []
    for seed in (0, 1):
        same.reset(seed=seed, options={"demo": 1, "frame": 3})
        results.append(same.step(a[None])[:2])
    (obs_0, reward_0), (obs_1, reward_1) = results
    assert not torch.equal(obs_0, obs_1) and not torch.isclose(reward_0, reward_1)


def test_same_seed_gives_identical_rollouts(make_vec_env):
    obs_a, rew_a = _rollout(make_vec_env(3), 8)
    obs_b, rew_b = _rollout(make_vec_env(3), 8)
    assert torch.equal(obs_a, obs_b) and torch.equal(rew_a, rew_b)
    obs_c, _ = _rollout(make_vec_env(3), 8, seed=8)
    assert not torch.equal(obs_a, obs_c)


def test_env_splits_give_the_same_worlds(make_vec_env):
    """One env of 4 worlds and four envs of 1 world (global offsets 0..3) simulate the same worlds."""
    gen = np.random.default_rng(1)
    together = make_vec_env(4)
    apart = [make_vec_env(1, global_env_offset=i) for i in range(4)]
    obs4, info4 = together.reset(seed=3)
    singles = [e.reset(seed=3) for e in apart]
    assert torch.equal(info4["demo"], torch.cat([s[1]["demo"] for s in singles]))
    first = (obs4.int() - torch.cat([s[0] for s in singles]).int()).abs().max()
    assert first <= 1, "the first observation is a render too: kernels may round a pixel differently, no more"
    for _ in range(8):
        action = gen.uniform(together.action_space.low, together.action_space.high).astype(np.float32)
        o4, r4, te4, tr4, i4 = together.step(action)
        outs = [e.step(action[i : i + 1]) for i, e in enumerate(apart)]
        assert torch.equal(i4["demo"], torch.cat([o[4]["demo"] for o in outs]))
        assert torch.equal(te4 | tr4, torch.cat([o[2] | o[3] for o in outs]))
        assert torch.allclose(r4, torch.cat([o[1] for o in outs]), atol=1e-5)
        diff = (o4.int() - torch.cat([o[0] for o in outs]).int()).abs().max()
        assert diff <= 1, "batched and single-world kernels may round a pixel differently, no more"


def test_reward_formula_on_a_hand_built_case():
    pred = torch.zeros(2, 3, 4)
    ref = torch.zeros(2, 3, 4)
    ref[0] = 0.5  # mean |diff| = 0.5
    ref[1, 0, 0] = 1.2  # mean |diff| = 1.2 / 12 = 0.1
    reward, l1 = video_aligned_reward(pred, ref, scale=5.0)
    assert torch.allclose(l1, torch.tensor([0.5, 0.1]))
    assert torch.allclose(reward, torch.tensor([-2.5, -0.5]))


@pytest.mark.parametrize("mode", ["aligned", "goal"])
def test_env_reward_uses_the_documented_reference_frame(make_vec_env, mode):
    env = make_vec_env(2, obs_mode="dict", reward_mode=mode, reward_scale=3.0)
    obs, info = env.reset(seed=0, options={"demo": [0, 1], "frame": [0, 4]})
    obs, reward, _, _, info = env.step(env.action_space.sample())
    demos = env.bundle.demos
    for i in range(2):
        d, start = int(info["demo"][i]), int(demos.episode_starts[int(info["demo"][i])])
        length = int(demos.episode_lengths[d])
        ref_frame = int(info["frame"][i]) if mode == "aligned" else length - 1
        ref_tokens = env.stack.encode(demos.frames[start + ref_frame][None])[0]
        expected = -3.0 * (obs["tokens"][i] - ref_tokens).abs().mean()
        assert torch.allclose(reward[i], expected, atol=1e-5)
        assert torch.allclose(info["reward_l1"][i], expected / -3.0, atol=1e-6)
    if mode == "goal":
        assert torch.equal(info["goal_l1"], info["reward_l1"])


def test_success_needs_a_finished_episode_under_the_threshold(make_vec_env):
    env = make_vec_env(2, max_chunk_steps=1, success_threshold=1e9)
    env.reset(seed=0)
    *_, info = env.step(env.action_space.sample())
    assert bool(info["final_info"]["success"].all()), "every finished episode is under an infinite threshold"
    assert not bool(info["success"].any()), "the top level is the new episode's, which has not succeeded"
    env = make_vec_env(2, max_chunk_steps=5, success_threshold=1e9, p_initial_frame=1.0)
    env.reset(seed=0)
    *_, info = env.step(env.action_space.sample())
    assert not bool(info["success"].any()), "no success before the episode finishes"


@pytest.mark.slow
def test_500_random_chunk_steps_keep_tokens_finite(make_vec_env):
    env = make_vec_env(4, obs_mode="dict")
    env.reset(seed=0)
    gen = np.random.default_rng(0)
    for _ in range(500):
        obs, reward, *_ = env.step(gen.uniform(env.action_space.low, env.action_space.high).astype(np.float32))
        assert torch.isfinite(obs["tokens"]).all() and torch.isfinite(reward).all()


def test_clipped_actions_are_counted(make_vec_env):
    env = make_vec_env(2)
    env.reset(seed=0)
    action = np.zeros(env.action_space.shape, np.float32)
    action[0, 0, 0] = 100.0
    action[0, 3, 2] = -100.0
    *_, info = env.step(action)
    assert info["clipped"].tolist() == [2, 0]


@pytest.mark.slow
def test_sb3_ppo_updates_its_policy_through_the_adapter(make_vec_env):
    """PPO trains on the env through the adapter: its policy moves and stays finite (a step count could
    not fail), and finished episodes reach SB3 as the episode that finished."""
    from stable_baselines3 import PPO

    from rla_gym.envs.sb3 import SB3VecEnv

    venv = SB3VecEnv(make_vec_env(4, max_chunk_steps=3))
    model = PPO("CnnPolicy", venv, n_steps=32, batch_size=64, n_epochs=2, seed=0, verbose=0)
    before = [p.detach().clone() for p in model.policy.parameters()]
    probe, _ = model.policy.obs_to_tensor(venv.reset())
    actions_before = model.policy.get_distribution(probe).distribution.mean.detach().clone()
    model.learn(256)
    after = list(model.policy.parameters())
    assert all(torch.isfinite(p).all() for p in after)
    assert any(not torch.equal(b, a) for b, a in zip(before, after)), "learn() changed no parameter"
    actions_after = model.policy.get_distribution(probe).distribution.mean.detach()
    assert not torch.allclose(actions_before, actions_after), "the policy acts as before training"
    obs = venv.reset()
    seen_terminal = False
    for _ in range(4):
        action, _ = model.predict(obs, deterministic=True)
        obs, rewards, dones, infos = venv.step(action)
        assert obs.shape == (4, 48, 48, 3) and rewards.shape == (4,)
        for done, info in zip(dones, infos):
            if done:
                assert info["terminal_observation"].shape == (48, 48, 3)
                assert "TimeLimit.truncated" in info and info["chunk_step"] >= 1, "the finished episode's info"
                seen_terminal = True
    assert seen_terminal, "max_chunk_steps=3 ends every episode within 4 steps"


def test_the_tasks_reward_mode_reaches_the_env(make_vec_env):
    """PokeCube is rewarded against the demo's last frame (goal), the other tasks against the
    time-synced frame (aligned); reward_mode= overrides the task's."""
    import gymnasium as gym

    from rla_gym.models.random_bundle import make_random_bundle

    assert make_vec_env(1).cfg.reward_mode == "aligned", "the tiny bundle's task, PushT, is aligned"
    bundle = make_random_bundle("xarm6_robotiq", "tiny", episodes=2, length=12, task="PokeCube")
    make = dict(id="RLAWorldModel-v0", num_envs=1, vectorization_mode="vector_entry_point", robot="xarm6_robotiq")
    env = gym.make_vec(**make, bundle=bundle)
    assert env.cfg.reward_mode == "goal"
    env.reset(seed=0, options={"demo": 0, "frame": 0})
    *_, info = env.step(np.zeros(env.action_space.shape, np.float32))
    assert torch.equal(info["reward_l1"], info["goal_l1"]), "goal mode rewards the distance to the last frame"
    bundle.task = None  # a bundle that names no task: the env's task argument decides
    assert gym.make_vec(**make, bundle=bundle, task="PokeCube").cfg.reward_mode == "goal"
    assert gym.make_vec(**make, bundle=bundle, task="PokeCube", reward_mode="aligned").cfg.reward_mode == "aligned"


def test_demo_actions_are_the_demo_s_next_recorded_targets(make_vec_env):
    env = make_vec_env(num_envs=2)
    env.reset(seed=0, options={"demo": [0, 1], "frame": [0, 20]})
    demos, k = env.bundle.demos, env.cfg.chunk_size
    actions = env.demo_actions()
    assert actions.shape == (2, k, demos.action_dim)
    start0, start1, last1 = (
        int(demos.episode_starts[0]),
        int(demos.episode_starts[1]),
        int(demos.episode_lengths[1]) - 1,
    )
    assert torch.equal(actions[0], demos.targets[start0 : start0 + k])
    rows = [start1 + min(20 + i, last1) for i in range(k)]  # past the demo's end the last row repeats
    assert torch.equal(actions[1], demos.targets[rows])
    env.step(actions)  # in the action space: accepted as is


def test_bfloat16_precision_reaches_the_models_and_stays_close_to_float32(make_vec_env):
    """`precision="bfloat16"` steps under bf16 autocast: not bit-equal to fp32 (so it is used), yet far closer to it
    than a step moves the tokens; on the CPU the default is exact fp32."""
    start = {"demo": [0, 1], "frame": [0, 4]}
    action = np.stack(_two_actions(make_vec_env(1)))
    tokens = {}
    for precision in (None, "float32", "bfloat16"):
        env = make_vec_env(2, obs_mode="dict", precision=precision, device="cpu")
        before, _ = env.reset(seed=0, options=start)
        after, *_ = env.step(action)
        tokens[precision] = (before["tokens"], after["tokens"])
    assert torch.equal(tokens[None][1], tokens["float32"][1])
    moved = (tokens["float32"][1] - tokens["float32"][0]).abs().mean()
    off = (tokens["bfloat16"][1] - tokens["float32"][1]).abs().mean()
    assert 0 < off < 0.05 * moved, f"bf16 is {off:.2e} off fp32; a step moves the tokens {moved:.2e}"
