"""Direct-regression baseline trainer: (s_t, action chunk) -> s_{t+h}, L1 + MSE, on the same pairs as RLA-WM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from rla_gym.models.regression import RegressionWorldModel
from rla_gym.train.pairs import TransitionSampler, token_l1
from rla_gym.train.rla import EVAL_HORIZON


class RegressionModule(nn.Module):
    def __init__(self, model: RegressionWorldModel, robot_key: str):
        super().__init__()
        self.model, self.robot_key = model, robot_key

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        loss = self.model.loss(batch["s_t"], batch["qpos"], batch["lengths"], self.robot_key, batch["s_next"])
        return loss, {}


class RegressionTask:
    name = "regression"

    def __init__(
        self, model: RegressionWorldModel, robot_key: str, train: TransitionSampler, heldout: TransitionSampler | None
    ):
        self.module = RegressionModule(model, robot_key)
        self.train_pairs, self.heldout = train, heldout

    def sample_batch(self, rng: np.random.Generator, batch_size: int) -> dict[str, torch.Tensor]:
        return self.train_pairs.sample(rng, batch_size)

    def evaluate(self, module: nn.Module, device: torch.device) -> dict[str, float]:
        if self.heldout is None:
            return {}
        batch = {k: v.to(device) for k, v in self.heldout.fixed(256, EVAL_HORIZON, seed=1234).items()}
        pred = module.model(batch["s_t"], batch["qpos"], batch["lengths"], module.robot_key)
        return {"l1_h10": token_l1(pred, batch["s_next"]), "copy_l1_h10": token_l1(batch["s_t"], batch["s_next"])}

    def export(self, module: nn.Module, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        path, meta = out_dir / "regression.safetensors", out_dir / "regression.json"
        save_file({k: v.contiguous() for k, v in module.model.state_dict().items()}, path)
        meta.write_text(json.dumps(module.model.config.to_dict(), indent=2))
        return [path, meta]
