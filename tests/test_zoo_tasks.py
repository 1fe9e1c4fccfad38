"""Issue 20: every robot and task of the paper has a trained world model in the zoo, found by `gym.make` with no
`bundle=`: it is not random, it is its task's, it shares the one stack, its actions matter, and its card says it
beats copy-first at t+30 on held-out episodes (token L1 and SSIM)."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
import torch

import rla_gym  # noqa: F401
from rla_gym.models.zoo import default_bundle_path
from rla_gym.specs.robots import ROBOTS

PAIRS = [(robot, task) for robot, spec in sorted(ROBOTS.items()) for task in spec.tasks]


def test_the_zoo_covers_the_papers_five_tasks_with_one_shared_stack():
    assert len(PAIRS) == 5
    shared = set()
    for robot, task in PAIRS:
        folder = default_bundle_path(robot, task)
        assert folder is not None, f"no zoo folder for {robot} {task}"
        dynamics = (folder / json.loads((folder / "config.json").read_text())["parts"]["dynamics"]).resolve()
        assert dynamics.name == f"{robot}-cpu", f"{folder.name}: its dynamics are not its robot's ({dynamics.name})"
        shared.add((dynamics / json.loads((dynamics / "config.json").read_text())["shared"]).resolve())
    assert len(shared) == 1, f"the tasks do not share one stack: {shared}"


@pytest.mark.parametrize(("robot", "task"), PAIRS)
def test_gym_make_with_no_bundle_steps_the_tasks_trained_model(robot, task):
    env = gym.make_vec("RLAWorldModel-v0", num_envs=2, vectorization_mode="vector_entry_point", robot=robot, task=task)
    try:
        bundle = env.bundle
        assert not bundle.random and bundle.robot == robot and bundle.task == task
        assert env.cfg.reward_mode == ("goal" if task == "PokeCube" else "aligned")
        obs, _ = env.reset(seed=0, options={"demo": 0, "frame": 0})
        assert torch.equal(obs[0], obs[1])
        demos, k = bundle.demos, env.cfg.chunk_size
        start, length = int(demos.episode_starts[0]), int(demos.episode_lengths[0])
        replay = demos.targets[start + length - k : start + length]  # straight to the demo's last targets
        hold = demos.targets[start].expand(k, -1)
        obs, reward, *_ = env.step(torch.stack([replay, hold]).numpy())
        assert np.isfinite(np.asarray(reward)).all()
        diff = (obs[0].float() - obs[1].float()).abs().mean()
        assert diff > 1.0, f"{robot} {task}: moving the arm and holding it still render alike ({diff:.2f})"
    finally:
        env.close()


def test_each_task_beats_copy_first_at_t30_in_its_measured_results():
    """The card's numbers (benchmarks.prediction_quality on held-out episodes no model trained on): token L1 and SSIM
    at t+30, each below / above copy-first's."""
    from benchmarks.zoo_card import beats_copy

    losing = []
    for robot, task in PAIRS:
        folder = default_bundle_path(robot, task)
        measured = json.loads((folder / "prediction_quality.json").read_text())
        assert measured["starts"] >= 100 and measured["true_latents"], f"{folder.name}: not the full measurement"
        l1, ssim = beats_copy(measured)
        losing += [f"{folder.name}: {what}" for what, ok in (("token L1", l1), ("SSIM", ssim)) if not ok]
    assert not losing, f"do not beat copy-first at t+30: {losing}"


@pytest.mark.parametrize("robot", sorted(ROBOTS))
def test_each_robot_has_a_bc_policy_and_world_model_rl_measured_in_maniskill(robot):
    """Per robot, one task ships the BC policy `rla-gym wmrl` starts from (its robot's joints, not another's) and its
    card stores the BC and world-model RL results on report seeds that chose nothing, each RL pick paired against BC
    seed by seed (the numbers `benchmarks.zoo_card` writes the card's table from)."""
    from rla_gym.agents.bc import BCPolicy
    from rla_gym.eval.records import eval_from_dict
    from rla_gym.specs.robots import get_robot
    from rla_gym.specs.seeds import REPORT_SEEDS

    measured = []
    for task in ROBOTS[robot].tasks:
        folder = default_bundle_path(robot, task)
        report = folder / "wmrl_report.json"
        if report.is_file() and (folder.parent / f"{folder.name}-bc").is_dir():
            measured.append((folder, task, json.loads(report.read_text())))
    assert measured, f"{robot}: no task with a shipped BC policy and a world-model RL report"
    folder, task, report = measured[0]
    policy = BCPolicy.from_pretrained(folder.parent / f"{folder.name}-bc", robot=robot)  # refuses another robot's
    assert policy.config.action_dim == get_robot(robot).action_dim
    assert report["bc"]["robot"] == robot and report["bc"]["task"] == task
    bc = eval_from_dict(report["bc"])
    seeds = [e.seed for e in bc.episodes]
    assert len(seeds) >= 200 and all(s in REPORT_SEEDS for s in seeds), "200 report seeds, none that chose anything"
    assert {c["name"] for c in report["rl"]} == {"RL chosen on the ManiSkill seeds", "RL chosen by the world model"}
    for choice in report["rl"]:
        assert [e.seed for e in eval_from_dict(choice["eval"]).episodes] == seeds, "RL and BC on the same seeds"
