"""UNet token -> RGB decoder trainer: L1 + 0.2 (1 - SSIM) on the (masked) frames (reference 5; LPIPS needs
torchvision weights, which are not installed here). `train_encoder=True` trains the DINOv3-architecture
encoder with it as an image autoencoder (the second encoder candidate of the CPU bundle).

`object_weight` w > 0 weighs the L1 of the task objects' pixels (recorded segmentation, dilated one pixel)
1 + w times: at 64 px RollBall's ball is ~8 of 4096 pixels, so a whole-frame loss is free to paint it grey
(design notes, "What the shipped 64 px stack sees")."""

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


def object_pixel_weights(labels: torch.Tensor, object_weight: float) -> torch.Tensor:
    """labels (B, H, W) uint8 -> (B, 1, H, W) float: 1 + object_weight on task-object pixels dilated by one pixel
    (the render's soft edge belongs to the object), 1 elsewhere."""
    on = (labels > 0).float()[:, None]
    on = nn.functional.max_pool2d(on, kernel_size=3, stride=1, padding=1)
    return 1.0 + object_weight * on


def image_loss(
    pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """pred, target: (B, 3, H, W) in [0, 1]; weights (B, 1, H, W) or None -> (weighted L1 + 0.2 (1 - SSIM), SSIM).
    The weighted L1 is normalised by the mean weight, so its scale matches the plain L1."""
    ssim = structural_similarity_index_measure(pred.float(), target.float(), data_range=1.0)
    err = (pred - target).abs()
    l1 = err.mean() if weights is None else (err * weights).mean() / weights.mean()
    return l1 + SSIM_WEIGHT * (1 - ssim), ssim


class UNetModule(nn.Module):
    def __init__(self, unet: TokenToImageUNet, encoder: DinoEncoder | None = None, object_weight: float = 0.0):
        super().__init__()
        self.unet = unet
        self.object_weight = float(object_weight)
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
        weights = None
        if self.object_weight > 0:
            weights = object_pixel_weights(batch["labels"], self.object_weight)
        loss, ssim = image_loss(pred, batch["images"], weights)
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
        object_weight: float = 0.0,
    ) -> None:
        if object_weight < 0:
            raise ValueError(f"object_weight must be >= 0; got {object_weight}")
        for data in (train, heldout):
            if data is not None and data.frames is None:
                raise ValueError("the UNet trains on frames: load its data with load_training_data(keep_frames=True)")
        if object_weight > 0 and (train.labels is None or any(lab is None for lab in train.labels)):
            raise ValueError(
                "--object-weight needs the task objects' segmentation in every training episode; "
                "collect the data again with this version of rla-gym collect"
            )
        self.module = UNetModule(unet, encoder, object_weight)
        self.train_data, self.heldout = train, heldout
        self._index = train.flat_index()
        self.eval_frames = eval_frames

    @staticmethod
    def _batch(data: TrainingData, ep: np.ndarray, fr: np.ndarray) -> dict[str, torch.Tensor]:
        tokens = torch.stack([data.tokens[e][f] for e, f in zip(ep, fr)]).float()
        images = torch.stack([data.frames[e][f] for e, f in zip(ep, fr)]).permute(0, 3, 1, 2).float() / 255.0
        batch = {"tokens": tokens, "images": images}
        if data.labels is not None and all(data.labels[e] is not None for e in ep):
            batch["labels"] = torch.stack([data.labels[e][f] for e, f in zip(ep, fr)])  # (B, H, W) uint8
        return batch

    def sample_batch(self, rng: np.random.Generator, batch_size: int) -> dict[str, torch.Tensor]:
        pick = rng.integers(len(self._index[0]), size=batch_size)
        return self._batch(self.train_data, self._index[0][pick], self._index[1][pick])

    def evaluate(self, module: nn.Module, device: torch.device) -> dict[str, float]:
        """Held-out reconstruction: SSIM, PSNR and L1 on a fixed set of frames; with segmentation, L1 on the task
        objects' pixels too (`object_l1`), which whole-frame numbers hide."""
        if self.heldout is None:
            return {}
        ep, fr = self.heldout.flat_index()
        pick = np.random.default_rng(1234).choice(len(ep), size=min(self.eval_frames, len(ep)), replace=False)
        ssim, psnr, l1, n = 0.0, 0.0, 0.0, 0
        obj_err, obj_px = 0.0, 0.0
        for start in range(0, len(pick), 64):
            batch = self._batch(self.heldout, ep[pick[start : start + 64]], fr[pick[start : start + 64]])
            batch = {k: v.to(device) for k, v in batch.items()}
            pred = module.unet(module.tokens(batch)).clamp(0, 1)
            b = pred.shape[0]
            ssim += float(structural_similarity_index_measure(pred, batch["images"], data_range=1.0)) * b
            psnr += float(peak_signal_noise_ratio(pred, batch["images"], data_range=1.0)) * b
            l1 += float((pred - batch["images"]).abs().mean()) * b
            n += b
            if "labels" in batch:
                on = (batch["labels"] > 0)[:, None].float()
                obj_err += float(((pred - batch["images"]).abs() * on).sum()) / 3
                obj_px += float(on.sum())
        metrics = {"ssim": ssim / n, "psnr": psnr / n, "l1": l1 / n}
        if obj_px > 0:
            metrics["object_l1"] = obj_err / obj_px
        return metrics

    def export(self, module: nn.Module, out_dir: Path) -> list[Path]:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = [out_dir / "image_decoder.safetensors"]
        save_weights(module.unet, paths[0])
        if module.encoder is not None:
            paths.append(out_dir / "encoder.safetensors")
            save_weights(module.encoder, paths[1])
        return paths
