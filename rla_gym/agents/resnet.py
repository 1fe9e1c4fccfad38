"""ResNet-18 chunk policy network: image -> global feature (512) -> MLP -> a chunk of normalised joint targets.

The authors' BC-ResNet (reference 7.3) is torchvision's ResNet-18 with random init, every BatchNorm replaced by
GroupNorm(C/16), global average pooling and an MLP (1024, 512, 256) to `horizon x A` outputs. torchvision is not
a dependency here, so the backbone is transformers' `ResNetModel` with the ResNet-18 layout (basic blocks,
depths 2-2-2-2, widths 64-128-256-512), its BatchNorms swapped for GroupNorm the same way: GroupNorm has no
running statistics, so the network behaves the same in train and eval mode, batch by batch (which PPO relies on).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from rla_gym.specs.robots import CHUNK_SIZE

GROUP_SIZE = 16  # channels per GroupNorm group, as the authors replace BatchNorm2d(C) by GroupNorm(C // 16, C)


@dataclass
class ResNetPolicyConfig:
    """Network shape. Defaults are the paper's (ResNet-18 at 128 px, MLP 1024-512-256, train 12 rows, run 8)."""

    action_dim: int
    horizon: int = 12  # rows predicted (and trained on)
    n_action_steps: int = CHUNK_SIZE  # rows executed per decision (the world model's chunk)
    image_size: int = 128  # every input is resized to this square
    depths: tuple[int, ...] = (2, 2, 2, 2)
    hidden_sizes: tuple[int, ...] = (64, 128, 256, 512)
    embedding_size: int = 64
    mlp_hidden: tuple[int, ...] = (1024, 512, 256)
    dropout: float = 0.1  # BC training (the authors' recipe); the RL agent sets it to 0

    def __post_init__(self) -> None:
        self.depths, self.hidden_sizes, self.mlp_hidden = (
            tuple(self.depths),
            tuple(self.hidden_sizes),
            tuple(self.mlp_hidden),
        )
        if self.action_dim < 1:
            raise ValueError(f"action_dim must be >= 1, got {self.action_dim}")
        if not 1 <= self.n_action_steps <= self.horizon:
            raise ValueError(f"n_action_steps must be in 1..horizon ({self.horizon}), got {self.n_action_steps}")
        if len(self.depths) != len(self.hidden_sizes):
            raise ValueError(f"depths {self.depths} and hidden_sizes {self.hidden_sizes} differ in length")

    @property
    def feature_dim(self) -> int:
        return self.hidden_sizes[-1]

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


PAPER: dict[str, Any] = {}  # the dataclass defaults
TINY: dict[str, Any] = dict(
    image_size=32, depths=(1, 1, 1, 1), hidden_sizes=(8, 16, 16, 32), embedding_size=8, mlp_hidden=(64, 32)
)
# ResNet-18 at 64 px: the CPU bundle renders 64 px images, so the paper's 128 px input would only upsample them
# at 4x the convolution cost
CPU: dict[str, Any] = dict(image_size=64)
PRESETS: dict[str, dict[str, Any]] = {"paper": PAPER, "cpu": CPU, "tiny": TINY}


def policy_config(preset: str, action_dim: int, **overrides: Any) -> ResNetPolicyConfig:
    """A named preset ("paper", "tiny") for a robot's action size."""
    if preset not in PRESETS:
        raise ValueError(f"unknown policy preset {preset!r}; valid: {', '.join(PRESETS)}")
    return ResNetPolicyConfig(action_dim=action_dim, **{**PRESETS[preset], **overrides})


def _batchnorm_to_groupnorm(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d):
            c = child.num_features
            setattr(module, name, nn.GroupNorm(max(1, c // GROUP_SIZE), c))
        else:
            _batchnorm_to_groupnorm(child)


class ResNetBackbone(nn.Module):
    """uint8 frames (B, H, W, 3) -> global average-pooled feature (B, feature_dim)."""

    def __init__(self, config: ResNetPolicyConfig) -> None:
        super().__init__()
        from transformers import ResNetConfig, ResNetModel

        self.image_size = config.image_size
        hf = ResNetConfig(
            num_channels=3,
            embedding_size=config.embedding_size,
            hidden_sizes=list(config.hidden_sizes),
            depths=list(config.depths),
            layer_type="basic",
            hidden_act="relu",
        )
        self.resnet = ResNetModel(hf)
        _batchnorm_to_groupnorm(self.resnet)

    def preprocess(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> (B, 3, S, S) in [-1, 1] (the image normaliser's [0, 1] -> [-1, 1])."""
        if frames.dim() != 4 or frames.shape[-1] != 3:
            raise ValueError(f"frames have shape {tuple(frames.shape)}; expected (B, H, W, 3) uint8")
        x = frames.permute(0, 3, 1, 2).float() / 255.0
        if x.shape[-2:] != (self.image_size, self.image_size):
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", antialias=True)
        return x * 2 - 1

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        out = self.resnet(pixel_values=self.preprocess(frames))
        return out.pooler_output.flatten(1)


def mlp(sizes: list[int], dropout: float = 0.0) -> nn.Sequential:
    """Linear/ReLU/Dropout between `sizes`, a plain Linear at the end (the authors' ActionMLPDecoder layout)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [nn.ReLU(), nn.Dropout(dropout)]
    return nn.Sequential(*layers)


class ResNetPolicy(nn.Module):
    """frames (B, H, W, 3) uint8 -> normalised chunk (B, horizon, A); `features` exposes the 512-D global feature."""

    def __init__(self, config: ResNetPolicyConfig) -> None:
        super().__init__()
        self.config = config
        self.img_encoder = ResNetBackbone(config)
        self.decoder = mlp([config.feature_dim, *config.mlp_hidden, config.horizon * config.action_dim], config.dropout)

    def features(self, frames: torch.Tensor) -> torch.Tensor:
        return self.img_encoder(frames)

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """(B, feature_dim) -> (B, horizon, A) normalised joint targets."""
        return self.decoder(features).view(-1, self.config.horizon, self.config.action_dim)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(frames))
