"""The training loop's logs stay true across a kill: a run killed during its final export and resumed logs each
evaluation step once; a refused run (used folder, no resume) leaves the other run's files as they were."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from torch import nn

from rla_gym.train import loop
from rla_gym.train.loop import TrainConfig, train


class _Regress(nn.Module):
    """y = w x fitted by least squares: a real loss that falls, so the loop does real steps."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(4, 1)

    def forward(self, batch):
        loss = ((self.linear(batch["x"]) - batch["y"]) ** 2).mean()
        return loss, {}


class LinearTask:
    name = "linear"

    def __init__(self) -> None:
        self.module = _Regress()
        self.w = torch.tensor([[1.0], [-2.0], [0.5], [3.0]])

    def sample_batch(self, rng: np.random.Generator, batch_size: int):
        x = torch.from_numpy(rng.standard_normal((batch_size, 4)).astype(np.float32))
        return {"x": x, "y": x @ self.w}

    def evaluate(self, module, device):
        x = torch.linspace(-1, 1, 32).reshape(8, 4)
        return {"mse": float(((module.linear(x) - x @ self.w) ** 2).mean())}

    def export(self, module, out_dir):
        out_dir.mkdir(parents=True, exist_ok=True)
        return [loop.save_weights(module, out_dir / "linear.safetensors")]


CONFIG = dict(steps=20, batch_size=8, lr=1e-2, warmup_steps=0, checkpoint_every=10, eval_every=10, log_every=5)


def _eval_steps(run):
    with (run / "eval.csv").open() as f:
        return [int(r["step"]) for r in csv.DictReader(f)]


def test_a_kill_during_the_final_export_does_not_duplicate_eval_rows(tmp_path, monkeypatch):
    def killed(self, module, out_dir):
        raise KeyboardInterrupt("killed during export (simulated)")

    monkeypatch.setattr(LinearTask, "export", killed)
    with pytest.raises(KeyboardInterrupt):
        train(LinearTask(), TrainConfig(**CONFIG), tmp_path, progress=False)
    assert _eval_steps(tmp_path) == [10, 20], "the final evaluation ran before the kill"
    monkeypatch.undo()
    result = train(LinearTask(), TrainConfig(**CONFIG), tmp_path, resume=True, progress=False)
    assert result.resumed_from == 20 and (tmp_path / "final" / "linear.safetensors").is_file()
    assert _eval_steps(tmp_path) == [10, 20], "each evaluation step logged once"


def test_a_refused_rerun_leaves_the_other_runs_files_untouched(tmp_path):
    train(LinearTask(), TrainConfig(**CONFIG), tmp_path, progress=False)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(FileExistsError, match="already holds checkpoints"):
        train(LinearTask(), TrainConfig(**{**CONFIG, "steps": 30, "lr": 1e-3}), tmp_path, progress=False)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before
