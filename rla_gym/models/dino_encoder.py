"""DINOv3 feature encoder over transformers' `DINOv3ViTModel` (reference section 6).

Frames in [0, 1] are ImageNet-normalised, reflect-padded right/bottom to a multiple of the patch size,
and encoded; the output is the post-norm patch tokens with CLS and register tokens dropped, flattened
row-major: (B, grid*grid, hidden). Pretrained weights load by hub id or local folder; small configs
build random-weight encoders (the CPU preset's frozen tokenizer)."""

from __future__ import annotations

import logging

import torch
from torch import nn

from rla_gym.models.checks import check_tensor
from rla_gym.models.configs import EncoderConfig
from rla_gym.models.device import autocast

log = logging.getLogger(__name__)

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _vit_config(cfg: EncoderConfig):  # -> DINOv3ViTConfig
    from transformers import DINOv3ViTConfig

    return DINOv3ViTConfig(
        image_size=cfg.image_size,
        patch_size=cfg.patch_size,
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_hidden_layers,
        num_attention_heads=cfg.num_attention_heads,
        intermediate_size=cfg.intermediate_size,
        num_register_tokens=cfg.num_register_tokens,
        layerscale_value=cfg.layerscale_value,
        use_gated_mlp=cfg.use_gated_mlp,
    )


class DinoEncoder(nn.Module):
    """Frozen DINOv3 ViT: images -> patch tokens. The trainers key their token cache by its weights' fingerprint."""

    def __init__(self, config: EncoderConfig, vit: nn.Module | None = None):
        super().__init__()
        from transformers import DINOv3ViTModel

        self.config = config
        self.vit = vit if vit is not None else DINOv3ViTModel(_vit_config(config))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    @classmethod
    def from_pretrained(cls, config: EncoderConfig, source: str | None = None) -> DinoEncoder:
        """Load pretrained weights by hub id or local folder (transformers' own loader).

        Without network access the hub must already hold the weights in its local cache
        (`huggingface-cli download <id>` on a machine with internet, or pass a local folder)."""
        from transformers import AutoModel

        source = source or config.hub_id
        if source is None:
            raise ValueError("encoder config has no hub_id: its weights come from a bundle")
        try:
            vit = AutoModel.from_pretrained(source, attn_implementation="sdpa")
        except OSError as err:
            raise OSError(
                f"could not load the DINOv3 encoder {source!r}: {err}\nThe weights must be downloaded first "
                f"(gated on the hub: accept the licence, then `huggingface-cli download {source}`), or pass a "
                "local folder that holds config.json and model.safetensors."
            ) from err
        got = vit.config.hidden_size, vit.config.patch_size
        if got != (config.hidden_size, config.patch_size):
            raise ValueError(
                f"encoder {source!r} has hidden_size/patch_size {got}; the config expects "
                f"{(config.hidden_size, config.patch_size)}"
            )
        return cls(config, vit)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (B, 3, H, W) float in [0, 1] -> tokens (B, ceil(H/p)*ceil(W/p), hidden) float32."""
        check_tensor("images", images, ("B", 3, "H", "W"))
        p = self.config.patch_size
        x = (images.float() - self.mean) / self.std
        pad_h, pad_w = (-x.shape[2]) % p, (-x.shape[3]) % p
        if pad_h or pad_w:
            x = nn.functional.pad(x, (0, pad_w, 0, pad_h), mode="reflect")
        with torch.no_grad(), autocast(x.device):
            out = self.vit(pixel_values=x).last_hidden_state
        n_patches = (x.shape[2] // p) * (x.shape[3] // p)
        return out[:, out.shape[1] - n_patches :].float()

    def encode_uint8(self, frames: torch.Tensor) -> torch.Tensor:
        """frames: (B, H, W, 3) uint8 -> tokens; resized bilinearly to the config's square image_size."""
        check_tensor("frames", frames, ("B", "H", "W", 3))
        x = frames.permute(0, 3, 1, 2).float() / 255.0
        size = self.config.image_size
        if x.shape[-2:] != (size, size):
            x = nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return self(x)

    def train(self, mode: bool = True) -> DinoEncoder:  # frozen: always eval
        return super().train(False)
