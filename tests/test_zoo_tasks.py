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
