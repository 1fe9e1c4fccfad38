"""Token -> RGB decoder (released name `DinoToImageDecoderV1`, reference section 5).

A conv stem on the patch grid, then upsampling blocks that each double the resolution and halve the
channels. Output is raw (no activation): callers clamp to [0, 1]."""

from __future__ import annotations

import math

import torch
from torch import nn

from rla_gym.models.checks import check_tensor
from rla_gym.models.configs import UNetConfig


def _group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels), channels)


class ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm1 = _group_norm(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm2 = _group_norm(channels)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.norm1(self.conv1(x)))
        return self.act(self.norm2(self.conv2(h)) + x)


class UpsampleBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.upsample = nn.ConvTranspose2d(in_channels, out_channels, 2, stride=2)
        self.resblock = nn.Sequential(ResBlock(out_channels), ResBlock(out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.resblock(self.upsample(x))


class TokenToImageUNet(nn.Module):
    """(B, L, C) patch tokens on a square (or given) grid -> (B, 3, grid*2^n, grid*2^n) raw RGB."""

    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = c = config
        m = c.model_channels
        self.input_proj = nn.Sequential(
            nn.Conv2d(c.in_channels, m, 3, padding=1), _group_norm(m), nn.GELU(), ResBlock(m), ResBlock(m)
        )
        for i in range(c.num_upsamples):  # attribute names up1..upN as released
            setattr(self, f"up{i + 1}", UpsampleBlock(m >> i, m >> (i + 1)))
        last = m >> c.num_upsamples
        self.out_conv = nn.Sequential(ResBlock(last), nn.Conv2d(last, c.out_channels, 3, padding=1))
        nn.init.zeros_(self.out_conv[1].weight)
        nn.init.zeros_(self.out_conv[1].bias)

    def forward(self, tokens: torch.Tensor, patch_hw: tuple[int, int] | None = None) -> torch.Tensor:
        """tokens: (B, L, C) row-major patch tokens -> (B, out_channels, H, W) float32."""
        c = self.config
        check_tensor("tokens", tokens, ("B", "L", c.in_channels))
        b, n, ch = tokens.shape
        if patch_hw is None:
            side = math.isqrt(n)
            if side * side != n:
                raise ValueError(f"tokens hold {n} patches, not a square grid; pass patch_hw")
            patch_hw = (side, side)
        if patch_hw[0] * patch_hw[1] != n:
            raise ValueError(f"patch_hw {patch_hw} does not match {n} tokens")
        x = tokens.transpose(1, 2).reshape(b, ch, *patch_hw)
        x = self.input_proj(x.to(self.input_proj[0].weight.dtype))
        for i in range(c.num_upsamples):
            x = getattr(self, f"up{i + 1}")(x)
        return self.out_conv(x).float()
