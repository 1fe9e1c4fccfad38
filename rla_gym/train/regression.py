"""Direct-regression baseline trainer: (s_t, action chunk) -> s_{t+h}, L1 + MSE, on the same pairs as RLA-WM."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from rla_gym.models.regression import CONFIG_FILE, WEIGHTS_FILE, RegressionWorldModel
from rla_gym.train.loop import save_weights
from rla_gym.train.pairs import PairTask, TransitionSampler, token_loss


class RegressionModule(nn.Module):
    def __init__(self, model: RegressionWorldModel, robot_key: str, motion_weight: float = 0.0):
        super().__init__()
        self.model, self.robot_key = model, robot_key
        self.motion_weight = float(motion_weight)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        pred = self.model(batch["s_t"], batch["qpos"], batch["lengths"], self.robot_key)
        return token_loss(pred, batch["s_next"], batch["s_t"], self.motion_weight), {}


class RegressionTask(PairTask):
    name = "regression"

    def __init__(
        self,
        model: RegressionWorldModel,
        robot_key: str,
        train: TransitionSampler,
        heldout: TransitionSampler | None,
        motion_weight: float = 0.0,
    ):
        super().__init__(train, heldout)
        self.module = RegressionModule(model, robot_key, motion_weight)

    def predict(self, module: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return module.model(batch["s_t"], batch["qpos"], batch["lengths"], module.robot_key)

    def export(self, module: nn.Module, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        path, meta = out_dir / WEIGHTS_FILE, out_dir / CONFIG_FILE  # the names a bundle's component has too
        save_weights(module.model, path)
        meta.write_text(json.dumps(module.model.config.to_dict(), indent=2))
        return [path, meta]
