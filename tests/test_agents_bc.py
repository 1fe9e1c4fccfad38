"""BC policy: action normalisation round-trips; the BC loss falls on a tiny dataset; `rla-gym train bc`
checkpoints per epoch and resumes; a policy or checkpoint for another robot is a clear error."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from agents_support import one_thread, tiny_bc

from rla_gym.agents.bc import BCPolicy, SimPolicy
from rla_gym.agents.normalization import ActionNormalizer
from rla_gym.agents.resnet import policy_config

__all__ = ["one_thread"]  # the autouse fixture, imported


@pytest.fixture(scope="module")
def bc_data(tmp_path_factory):
    """Three successful and one failed synthetic ur10e episode (frames follow the joint targets), a tiny bundle."""
    from rla_gym.data import synthetic_episode, write_episode
    from rla_gym.models.random_bundle import make_random_bundle

    root = tmp_path_factory.mktemp("bc-data")
    for split, seeds in (("train", range(3)), ("heldout", range(100, 101))):
        for s in seeds:
            write_episode(
                root / split / "success", s, synthetic_episode(24, 32, robot="ur10e", task="RollBall-v1", seed=s)
            )
    failed = synthetic_episode(24, 32, robot="ur10e", task="RollBall-v1", success=False, seed=3)
    write_episode(root / "train" / "fail", 3, failed)
    make_random_bundle("ur10e", "tiny").save_pretrained(root / "bundle")
    return root


def test_action_normalisation_round_trips():
    gen = torch.Generator().manual_seed(0)
    targets = torch.rand(50, 12, 5, generator=gen) * torch.tensor([6.0, 1.0, 0.2, 3.0, 0.5]) - 1.0
    targets[..., 2] = 0.3  # a joint the demos never move: centred, not divided by zero
    norm = ActionNormalizer.from_targets(targets)
    y = norm.normalize(targets)
    assert torch.isfinite(y).all()
    moving = y[..., [0, 1, 3, 4]]
    assert torch.allclose(moving.amin((0, 1)), -torch.ones(4)) and torch.allclose(moving.amax((0, 1)), torch.ones(4))
    assert torch.allclose(norm.unnormalize(y), targets, atol=1e-5)
    wide = torch.randn(7, 5, generator=gen) * 3  # outside the fitted range too
    assert torch.allclose(norm.normalize(norm.unnormalize(wide)), wide, atol=1e-5)
    with pytest.raises(ValueError, match="last dimension 4; the normaliser expects 5"):
        norm.normalize(torch.zeros(3, 4))


def test_bc_loss_falls_on_a_tiny_dataset(bc_data, tmp_path):
    from rla_gym.train.build import TaskOptions, build_task
    from rla_gym.train.loop import TrainConfig, train

    torch.manual_seed(0)
    opts = TaskOptions(model="bc", init=str(bc_data / "bundle"), data=bc_data / "train", progress=False)
    opts.policy_preset = "tiny"
    task = build_task(opts)
    batch = task.sample_batch(np.random.default_rng(0), 4)
    assert batch["images"].shape == (4, 48, 48, 3) and batch["targets"].shape == (4, 12, 5)
    config = TrainConfig(steps=150, batch_size=16, lr=1e-3, warmup_steps=5, log_every=25, checkpoint_every=150)
    train(task, config, tmp_path / "run", progress=False)
    with (tmp_path / "run" / "loss.csv").open() as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    assert losses[-1] < 0.4 * losses[0], f"BC loss did not fall: {losses}"


def test_bc_imitates_successes_only_unless_asked(bc_data):
    from rla_gym.train.build import TaskOptions, build_task

    opts = TaskOptions(model="bc", init=str(bc_data / "bundle"), data=bc_data / "train", progress=False)
    opts.policy_preset = "tiny"
    assert build_task(opts).num_samples == 3 * 20, "the failed episode must not be imitated"
    opts.bc_failures = True
    assert build_task(opts).num_samples == 4 * 20


def test_cli_train_bc_checkpoints_each_epoch_and_resumes(bc_data, tmp_path, capsys):
    from rla_gym.cli import main
    from rla_gym.train.loop import latest_checkpoint

    out = tmp_path / "bc"
    args = ["train", "bc", "--bundle", str(bc_data / "bundle"), "--data", str(bc_data / "train"), "--out", str(out)]
    args += ["--heldout", str(bc_data / "heldout"), "--policy-preset", "tiny", "--batch-size", "16", "--no-progress"]
    assert main([*args, "--epochs", "1"]) == 0
    first = latest_checkpoint(out)
    epoch = int((first / "DONE").read_text())
    assert epoch == -(-3 * 20 // 16), "one epoch = ceil(chunks / batch) steps (20 chunk starts per 24-frame episode)"
    assert main([*args, "--epochs", "2", "--resume"]) == 0
    assert int((latest_checkpoint(out) / "DONE").read_text()) == 2 * epoch
    assert "held-out mse" in capsys.readouterr().out
    policy = BCPolicy.from_pretrained(out / "final", robot="ur10e")
    chunk = policy.act(torch.zeros(2, 48, 48, 3, dtype=torch.uint8))
    assert chunk.shape == (2, 8, 5)
    with pytest.raises(ValueError, match="is for robot 'ur10e'; expected 'panda'"):
        BCPolicy.from_pretrained(out / "final", robot="panda")


def test_policy_for_the_wrong_robot_is_a_clear_error():
    with pytest.raises(ValueError, match="predicts 5 joint targets per row; panda expects 8"):
        BCPolicy("panda", policy_config("tiny", 5), ActionNormalizer(torch.zeros(5), torch.ones(5)))
    policy = tiny_bc()
    sim = SimPolicy(policy.act, "panda", torch.device("cpu"))  # a ur10e policy driving a panda
    with pytest.raises(ValueError, match=r"shape \(8, 5\); panda expects \(K, 8\)"):
        sim(np.zeros((32, 32, 3), np.uint8), np.zeros(9))
    ok = SimPolicy(policy.act, "ur10e", torch.device("cpu"))(np.zeros((32, 32, 3), np.uint8), np.zeros(6))
    assert ok.shape == (8, 5) and ok.dtype == np.float32


def test_chunk_targets_are_the_next_rows_then_the_last_repeated():
    from rla_gym.train.bc import chunk_targets

    targets = torch.arange(20, dtype=torch.float32)[:, None].repeat(1, 5)  # row t holds t
    assert chunk_targets(targets, 3, 12)[:, 0].tolist() == list(range(3, 15))
    assert chunk_targets(targets, 13, 12)[:, 0].tolist() == [*range(13, 20), 19, 19, 19, 19, 19]


def test_fp16_storage_halves_the_file_and_keeps_actions(tmp_path):
    policy = BCPolicy(
        "ur10e", policy_config("tiny", 5), ActionNormalizer(torch.full((5,), -6.1), torch.full((5,), 6.2))
    ).eval()
    full, half = policy.save_pretrained(tmp_path / "fp32"), policy.save_pretrained(tmp_path / "fp16", torch.float16)
    size = lambda p: (p / "bc_policy.safetensors").stat().st_size  # noqa: E731
    assert size(half) < 0.6 * size(full)
    loaded = BCPolicy.from_pretrained(half)
    assert all(v.dtype == torch.float32 for v in loaded.state_dict().values() if v.is_floating_point())
    assert torch.equal(loaded.normalizer.low, policy.normalizer.low), "the action range is stored in fp32"
    frames = torch.randint(0, 255, (3, 32, 32, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(loaded.act(frames), policy.act(frames), atol=2e-2)
