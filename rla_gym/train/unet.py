"""UNet token -> RGB decoder trainer: L1 + 0.2 (1 - SSIM) on the (masked) frames (reference 5; LPIPS needs
torchvision weights, which are not installed here). `train_encoder=True` trains the DINOv3-architecture
encoder with it as an image autoencoder (the second encoder candidate of the CPU bundle)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from rla_gym.models.dino_encoder import DinoEncoder
from rla_gym.models.unet import TokenToImageUNet
from rla_gym.train.data import TrainingData
from rla_gym.train.loop import save_weights

SSIM_WEIGHT = 0.2


def image_loss(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """pred, target: (B, 3, H, W) in [0, 1] -> (L1 + 0.2 (1 - SSIM), SSIM)."""
    ssim = structural_similarity_index_measure(pred.float(), target.float(), data_range=1.0)
    return nn.functional.l1_loss(pred, target) + SSIM_WEIGHT * (1 - ssim), ssim


class UNetModule(nn.Module):
    def __init__(self, unet: TokenToImageUNet, encoder: DinoEncoder | None = None):
        super().__init__()
        self.unet = unet
        self.encoder = encoder  # trained jointly when given
        if encoder is not None:
            encoder.requires_grad_(True)

    def tokens(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.encoder is None:
            return batch["tokens"].float()
        enc = self.encoder
        x = (batch["images"] - enc.mean) / enc.std
        out = enc.vit(pixel_values=x).last_hidden_state
        return out[:, out.shape[1] - enc.config.num_patches :].float()

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        pred = self.unet(self.tokens(batch))
        loss, ssim = image_loss(pred, batch["images"])
        return loss, {"ssim": float(ssim.detach())}


class UNetTask:
    name = "unet"

    def __init__(
        self,
        unet: TokenToImageUNet,
        train: TrainingData,
        heldout: TrainingData | None = None,
        encoder: DinoEncoder | None = None,
        eval_frames: int = 256,
    ) -> None:
        for data in (train, heldout):
            if data is not None and data.frames is None:
                raise ValueError("the UNet trains on frames: load its data with load_training_data(keep_frames=True)")
        self.module = UNetModule(unet, encoder)
        self.train_data, self.heldout = train, heldout
        self._index = train.flat_index()
        self.eval_frames = eval_frames

    @staticmethod
    def _batch(data: TrainingData, ep: np.ndarray, fr: np.ndarray) -> dict[str, torch.Tensor]:
        tokens = torch.stack([data.tokens[e][f] for e, f in zip(ep, fr)]).float()
        images = torch.stack([data.frames[e][f] for e, f in zip(ep, fr)]).permute(0, 3, 1, 2).float() / 255.0
        return {"tokens": tokens, "images": images}

    def sample_batch(self, rng: np.random.Generator, batch_size: int) -> dict[str, torch.Tensor]:
        pick = rng.integers(len(self._index[0]), size=batch_size)
        return self._batch(self.train_data, self._index[0][pick], self._index[1][pick])

    def evaluate(self, module: nn.Module, device: torch.device) -> dict[str, float]:
        """Held-out reconstruction: SSIM, PSNR and L1 on a fixed set of frames."""
        if self.heldout is None:
            return {}
        ep, fr = self.heldout.flat_index()
        pick = np.random.default_rng(1234).choice(len(ep), size=min(self.eval_frames, len(ep)), replace=False)
        ssim, psnr, l1, n = 0.0, 0.0, 0.0, 0
        for start in range(0, len(pick), 64):
            batch = self._batch(self.heldout, ep[pick[start : start + 64]], fr[pick[start : start + 64]])
            batch = {k: v.to(device) for k, v in batch.items()}
            pred = module.unet(module.tokens(batch)).clamp(0, 1)
            b = pred.shape[0]
            ssim += float(structural_similarity_index_measure(pred, batch["images"], data_range=1.0)) * b
            psnr += float(peak_signal_noise_ratio(pred, batch["images"], data_range=1.0)) * b
            l1 += float((pred - batch["images"]).abs().mean()) * b
            n += b
        return {"ssim": ssim / n, "psnr": psnr / n, "l1": l1 / n}

    def export(self, module: nn.Module, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = [out_dir / "image_decoder.safetensors"]
        save_weights(module.unet, paths[0])
        if module.encoder is not None:
            paths.append(out_dir / "encoder.safetensors")
            save_weights(module.encoder, paths[1])
        return paths
