"""RLA autoencoder trainer (reference 3): z = f_enc(s_{t+h} - s_t), s_{t+h} = f_dec(s_t, z), L1 + MSE on the
predicted tokens, interaction-biased start frames, h uniform in [1, max_horizon]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from rla_gym.models.token_transformer import RLAAutoencoder
from rla_gym.train.pairs import TransitionSampler, token_l1

EVAL_HORIZON = 10  # the world model's rollout chunk in the paper's ManiSkill protocol


class RLAModule(nn.Module):
    def __init__(self, rla: RLAAutoencoder):
        super().__init__()
        self.rla = rla

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        pred = self.rla(batch["s_t"], batch["s_next"])
        l1 = nn.functional.l1_loss(pred, batch["s_next"])
        return l1 + nn.functional.mse_loss(pred, batch["s_next"]), {"l1": float(l1.detach())}


class RLATask:
    name = "rla"

    def __init__(self, rla: RLAAutoencoder, train: TransitionSampler, heldout: TransitionSampler | None = None):
        self.module = RLAModule(rla)
        self.train_pairs, self.heldout = train, heldout

    def sample_batch(self, rng: np.random.Generator, batch_size: int) -> dict[str, torch.Tensor]:
        return self.train_pairs.sample(rng, batch_size)

    def evaluate(self, module: nn.Module, device: torch.device) -> dict[str, float]:
        """Held-out token L1 of the reconstruction at h = 10, against copying s_t."""
        if self.heldout is None:
            return {}
        batch = {k: v.to(device) for k, v in self.heldout.fixed(256, EVAL_HORIZON, seed=1234).items()}
        pred = module.rla(batch["s_t"], batch["s_next"])
        return {"l1_h10": token_l1(pred, batch["s_next"]), "copy_l1_h10": token_l1(batch["s_t"], batch["s_next"])}

    def export(self, module: nn.Module, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, part in (("rla_encoder", module.rla.encoder), ("rla_decoder", module.rla.decoder)):
            paths.append(out_dir / f"{name}.safetensors")
            save_file({k: v.contiguous() for k, v in part.state_dict().items()}, paths[-1])
        return paths
