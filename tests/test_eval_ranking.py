"""Policies and their ranking (rla_gym/eval/policies.py, rla_gym/eval/ranking.py): the registry builds every kind
and takes a new one, the random policy stays within its limits, the policy list keeps BC, thinned RL checkpoints and
random, world-model scores are deterministic and tell policies apart, Spearman's exact permutation p-value, and the
ranking scores each policy in both worlds (ManiSkill half under the `sim` mark)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from agents_support import one_thread, tiny_bc
from policies_support import policies

from rla_gym.eval import policies as pol
from rla_gym.eval.ranking import (
    bootstrap_correlations,
    correlations,
    kendall,
    rank_policies,
    spearman,
    world_model_scores,
)

__all__ = ["one_thread", "policies"]  # the fixtures, imported

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:mani_skill")


@pytest.fixture(scope="module")
def bundle():
    from rla_gym.models.random_bundle import make_random_bundle

    return make_random_bundle("ur10e", "tiny", episodes=3, length=24, seed=0, task="RollBall")


def _entries(root: Path, max_checkpoints: int = 6) -> list[pol.PolicyEntry]:
    return pol.find_policies(root / "bc", root / "wmrl", max_checkpoints)[0]


def test_registry_builds_each_kind_and_takes_a_new_one(bundle, policies):
    frames = torch.zeros(2, 32, 32, 3, dtype=torch.uint8)
    bc = pol.make_policy("bc", path=policies / "bc", robot="ur10e")
    assert bc.act(frames).shape == (2, bc.chunk, 5) and bc.preprocess
    rand = pol.make_policy("random", bundle=bundle, chunk=4)
    assert rand.act(frames).shape == (2, 4, 5) and not rand.preprocess

    def planner(bundle, chunk=8, **_):  # a new agent: constant targets at the demos' mean
        mean = bundle.demos.targets.mean(0)
        return pol.Policy(lambda f: mean.expand(f.shape[0], chunk, -1), chunk, False)

    pol.register_policy("test-planner", planner)
    entry = pol.PolicyEntry("planner", "test-planner")
    made = pol.load_policy(entry, bundle, torch.device("cpu"), chunk=8)
    assert torch.equal(made.act(frames)[0, 0], bundle.demos.targets.mean(0))
    assert "test-planner" in pol.policy_kinds()
    with pytest.raises(ValueError, match="already registered"):
        pol.register_policy("bc", planner)
    with pytest.raises(ValueError, match="unknown policy kind 'nope'; expected one of bc"):
        pol.make_policy("nope")


def test_random_policy_stays_within_the_limits_and_repeats_with_its_seed():
    low, high = torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 0.5])
    draws = pol.RandomPolicy(low, high, chunk=3, seed=1).act(torch.zeros(64, 8, 8, 3))
    assert draws.shape == (64, 3, 2) and bool((draws >= low).all() and (draws <= high).all())
    assert draws[..., 1].max() > 0.4 and draws[..., 0].min() < -0.9, "the whole range is drawn"
    assert torch.equal(draws, pol.RandomPolicy(low, high, chunk=3, seed=1).act(torch.zeros(64, 8, 8, 3)))


def test_policy_entries_keep_bc_thinned_checkpoints_and_random(tmp_path):
    (tmp_path / "bc").mkdir()
    (tmp_path / "bc" / "bc_policy.json").write_text("{}")
    ckpts = [tmp_path / f"iter_{i:06d}" for i in range(1, 11)]
    entries, notes = pol.policy_entries(tmp_path / "bc", ckpts, tmp_path, max_checkpoints=3)
    assert [e.name for e in entries] == ["BC", "RL iter 000001", "RL iter 000005", "RL iter 000010", "random"]
    assert notes == [] and [e.kind for e in entries] == ["bc", "rl", "rl", "rl", "random"]
    (tmp_path / "last").mkdir()
    (tmp_path / "last" / "agent.json").write_text("{}")
    entries, notes = pol.policy_entries(None, [], tmp_path)
    assert [e.name for e in entries] == ["RL last", "random"] and notes == ["no BC policy (none given)"]


def test_find_policies_lists_bc_complete_checkpoints_and_random(policies, tmp_path):
    entries, notes = pol.find_policies(policies / "bc", policies / "wmrl")
    assert [e.name for e in entries] == ["BC", "RL iter 000001", "RL iter 000002", "random"] and notes == []
    entries, notes = pol.find_policies(None, tmp_path)
    assert [e.kind for e in entries] == ["random"] and len(notes) == 2
    thinned, _ = pol.find_policies(None, policies / "wmrl", max_checkpoints=1)
    assert [e.name for e in thinned] == ["RL iter 000001", "random"]


def test_world_model_scores_are_deterministic_and_tell_policies_apart(bundle, policies):
    entries = _entries(policies)
    scores = {}
    for entry in entries:
        policy = pol.load_policy(entry, bundle, torch.device("cpu"))
        scores[entry.name] = world_model_scores(bundle, policy, [0], num_envs=2)
    again = world_model_scores(bundle, pol.load_policy(entries[0], bundle, torch.device("cpu")), [0], num_envs=2)
    assert again == scores["BC"], "fixed seeds, deterministic actions: the same score"
    assert all(s["episodes"] == 2 and math.isfinite(s["mean_return"]) for s in scores.values())
    assert len({s["mean_return"] for s in scores.values()}) == len(scores), "different actions, different returns"


def test_spearman_exact_permutation_p_value_and_undefined_cases():
    perfect = spearman([0.1, 0.2, 0.3, 0.4], [0.0, 0.5, 0.6, 1.0])
    assert perfect["rho"] == pytest.approx(1.0) and perfect["p_value"] == pytest.approx(2 / 24)
    from scipy.stats import spearmanr

    rng = np.random.default_rng(0)
    x, y = rng.random(10).tolist(), rng.random(10).tolist()
    big = spearman(x, y)
    assert big["rho"] == pytest.approx(spearmanr(x, y).statistic) and "scipy" in big["method"]
    assert spearman([1.0, 2.0, 3.0], [0.5, 0.5, 0.5])["rho"] is None
    assert "at least 3" in spearman([1.0, 2.0], [1.0, 0.0])["note"]


@pytest.mark.sim
def test_rank_policies_scores_each_policy_in_both_worlds(bundle, policies):
    from sim_support import require_sim

    require_sim()
    results = rank_policies(bundle, _entries(policies, max_checkpoints=1), [42], [0], 2, sim_size=64, sim_max_steps=8)
    assert [r["name"] for r in results["policies"]] == ["BC", "RL iter 000001", "random"]
    for row in results["policies"]:
        assert row["sim"]["episodes"] == 1 and row["wm"]["episodes"] == 2
    assert results["spearman"]["wm_return"]["n"] == 2  # the headline leaves the random policy out
    assert results["with_random"]["wm_return"]["n"] == 3


def test_noise_is_seeded_gaussian_on_every_target_and_only_for_image_policies(bundle, policies):
    frames = torch.zeros(64, 32, 32, 3, dtype=torch.uint8)
    clean = pol.load_policy(pol.PolicyEntry("BC", "bc", str(policies / "bc")), bundle, torch.device("cpu"))
    noisy_entry = pol.PolicyEntry("BC noise 0.2", "bc", str(policies / "bc"), noise=0.2)
    noisy = pol.load_policy(noisy_entry, bundle, torch.device("cpu"))
    diff = noisy.act(frames) - clean.act(frames)
    assert diff.std().item() == pytest.approx(0.2, rel=0.1) and abs(diff.mean().item()) < 0.02
    assert torch.equal(pol.load_policy(noisy_entry, bundle, torch.device("cpu")).act(frames), clean.act(frames) + diff)
    with pytest.raises(ValueError, match="noise applies to policies that act from images"):
        pol.load_policy(pol.PolicyEntry("expert", "expert", noise=0.1), bundle, torch.device("cpu"))
    with pytest.raises(ValueError, match="name, kind and optionally path and noise"):
        pol.PolicyEntry.from_dict({"name": "x", "kind": "bc", "sigma": 0.1})


def test_the_expert_replays_each_world_s_demo_inside_the_world_model_and_scripts_in_maniskill(bundle, make_vec_env):
    from rla_gym.sim.scripted import ScriptedPolicy

    expert = pol.load_policy(pol.PolicyEntry("expert", "expert"), bundle, torch.device("cpu"))
    assert isinstance(expert.sim_policy, ScriptedPolicy) and not expert.preprocess
    with pytest.raises(TypeError, match="reads the simulator's state"):
        expert.act(torch.zeros(1, 32, 32, 3, dtype=torch.uint8))
    env = make_vec_env(2, bundle=bundle)
    obs, info = env.reset(seed=0, options={"demo": [1, 2], "frame": [0, 3]})
    assert torch.equal(expert.wm_act(env, obs), env.demo_actions())
    start = bundle.demos.episode_starts
    assert torch.equal(expert.wm_act(env, obs)[1, 0], bundle.demos.targets[int(start[2]) + 3])
    scores = world_model_scores(bundle, expert, [0], num_envs=2)
    assert scores == world_model_scores(bundle, expert, [0], num_envs=2) and len(scores["returns"]) == 2


def test_a_bc_checkpoint_is_the_policy_after_that_epoch(bundle, tmp_path):
    from test_eval_bc_selection import _bc_run

    run = _bc_run(tmp_path / "bc")
    frames = torch.randint(0, 255, (2, 32, 32, 3), dtype=torch.uint8)
    first = pol.load_policy(
        pol.PolicyEntry("BC ep 1", "bc-checkpoint", str(run / "checkpoints" / "step_0000010")), bundle, "cpu"
    )
    second = pol.load_policy(
        pol.PolicyEntry("BC ep 2", "bc-checkpoint", str(run / "checkpoints" / "step_0000020")), bundle, "cpu"
    )
    assert first.preprocess and not torch.equal(first.act(frames), second.act(frames))
    assert torch.equal(second.act(frames), tiny_bc(1).act(frames))  # that checkpoint's own weights


def _rows(sim_rates, wm_means, n_sim=100, n_wm=128, spread=0.05, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for p, m in zip(sim_rates, wm_means):
        flags = (np.arange(n_sim) < round(p * n_sim)).tolist()
        returns = (m + spread * rng.standard_normal(n_wm)).tolist()
        wm_flags = (np.asarray(returns) > -1.0).tolist()
        rows.append({"kind": "bc", "sim": {"success_rate": float(np.mean(flags)), "success_flags": flags},
                     "wm": {"mean_return": float(np.mean(returns)), "returns": returns,
                            "success_rate": float(np.mean(wm_flags)), "success_flags": wm_flags}})  # fmt: skip
    return rows


def test_kendall_and_bootstrap_intervals_follow_the_evidence():
    from scipy.stats import kendalltau

    x, y = [0.1, 0.4, 0.2, 0.9, 0.5], [0.0, 0.5, 0.3, 0.7, 1.0]
    assert kendall(x, y)["tau"] == pytest.approx(kendalltau(x, y).statistic)
    assert kendall([1.0, 1.0, 1.0], [0.1, 0.2, 0.3])["tau"] is None
    clear = bootstrap_correlations(_rows([0.1, 0.4, 0.7, 0.95], [-2.0, -1.5, -1.0, -0.5]), "mean_return", 400)
    assert clear["rho_ci95"][0] > 0.7 and clear["tau_ci95"][0] > 0.5, "well-separated policies: a tight interval"
    muddled = bootstrap_correlations(
        _rows([0.5, 0.52, 0.48, 0.5], [-1.0, -1.01, -0.99, -1.0], spread=0.3), "mean_return", 400
    )
    assert muddled["rho_ci95"][0] < 0 < muddled["rho_ci95"][1], "policies the evaluations cannot tell apart"
    both = correlations(_rows([0.1, 0.4, 0.7, 0.95], [-2.0, -1.5, -1.0, -0.5]), draws=50)
    assert both["wm_return"]["rho"] == pytest.approx(1.0) and both["wm_return"]["kendall"]["tau"] == pytest.approx(1.0)
