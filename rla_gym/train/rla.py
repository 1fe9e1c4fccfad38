"""RLA autoencoder trainer (reference 3): z = f_enc(s_{t+h} - s_t), s_{t+h} = f_dec(s_t, z), L1 + MSE on the
predicted tokens, interaction-biased start frames, h uniform in [1, max_horizon]."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from rla_gym.models.token_transformer import RLAAutoencoder
from rla_gym.train.loop import save_weights
from rla_gym.train.pairs import PairTask, TransitionSampler, token_loss


class RLAModule(nn.Module):
    def __init__(self, rla: RLAAutoencoder, motion_weight: float = 0.0):
        super().__init__()
        self.rla = rla
        self.motion_weight = float(motion_weight)

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        pred = self.rla(batch["s_t"], batch["s_next"])
        l1 = nn.functional.l1_loss(pred, batch["s_next"])
        return token_loss(pred, batch["s_next"], batch["s_t"], self.motion_weight), {"l1": float(l1.detach())}


class RLATask(PairTask):
    name = "rla"

    def __init__(
        self,
        rla: RLAAutoencoder,
        train: TransitionSampler,
        heldout: TransitionSampler | None = None,
        motion_weight: float = 0.0,
        decoder_only: bool = False,
    ):
        super().__init__(train, heldout)
        if decoder_only:  # the latent space stays as it is: every RLA-WM trained in it stays valid
            rla.encoder.requires_grad_(False)
        self.module = RLAModule(rla, motion_weight)

    def predict(self, module: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The reconstruction with the true latent: the ceiling of any world model in this latent space."""
        return module.rla(batch["s_t"], batch["s_next"])

    def export(self, module: nn.Module, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for name, part in (("rla_encoder", module.rla.encoder), ("rla_decoder", module.rla.decoder)):
            paths.append(out_dir / f"{name}.safetensors")
            save_weights(part, paths[-1])
        return paths
