"""RLA encoder f_enc and decoder f_dec: a token transformer with learnable prefix tokens
(released name `SimpleTokenTransformer`, reference section 2.4)."""

from __future__ import annotations

import torch
from torch import nn

from rla_gym.models.blocks import AttentionBlock, xavier_init
from rla_gym.models.checks import check_tensor
from rla_gym.models.configs import TokenTransformerConfig


class TokenTransformer(nn.Module):
    """Sequence = [prefix tokens, input_layer(x)] -> self-attention blocks -> norm -> out_layer.

    Prefix tokens are the learnable `tokens`, plus `token_proj(tokens)` when external tokens (the RLA
    z) are given. Returns (prefix outputs, input-position outputs)."""

    def __init__(self, config: TokenTransformerConfig):
        super().__init__()
        self.config = c = config
        self.tokens = nn.Parameter(torch.randn(c.num_tokens, c.model_channels) * 0.2)
        if c.token_channels is not None and c.token_channels != c.model_channels:
            self.token_proj = nn.Linear(c.token_channels, c.model_channels)
        else:
            self.token_proj = None
        self.input_layer = nn.Linear(c.in_channels, c.model_channels)
        self.blocks = nn.ModuleList(
            AttentionBlock(c.model_channels, c.num_heads, c.mlp_ratio) for _ in range(c.num_blocks)
        )
        self.norm_out = nn.LayerNorm(c.model_channels, eps=1e-5)
        self.out_layer = nn.Linear(c.model_channels, c.out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        xavier_init(self)
        if self.config.zero_init:
            nn.init.zeros_(self.out_layer.weight)
            nn.init.zeros_(self.out_layer.bias)

    def forward(self, x: torch.Tensor, tokens: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x: (B, L, in_channels); tokens: optional (B, num_tokens, token_channels).
        Returns prefix (B, num_tokens, out_channels) and patches (B, L, out_channels)."""
        c = self.config
        check_tensor("x", x, ("B", "L", c.in_channels))
        h = self.input_layer(x)
        prefix = self.tokens.unsqueeze(0).to(h.dtype)
        if tokens is not None:
            width = c.token_channels or c.model_channels
            check_tensor("tokens", tokens, (x.shape[0], c.num_tokens, width))
            proj = self.token_proj(tokens) if self.token_proj is not None else tokens
            prefix = proj + prefix
        else:
            prefix = prefix.expand(x.shape[0], -1, -1)
        h = torch.cat([prefix, h], dim=1)
        for block in self.blocks:
            h = block(h)
        out = self.out_layer(self.norm_out(h))
        n = c.num_tokens
        prefix_out = out[:, :n]
        if c.norm_output_tokens:
            prefix_out = nn.functional.normalize(prefix_out, dim=-1)
        return prefix_out, out[:, n:]


class RLAAutoencoder(nn.Module):
    """Residual latent action: z = f_enc(s_{t+h} - s_t); s_{t+h} = f_dec(s_t, z)."""

    def __init__(self, encoder: TokenTransformerConfig, decoder: TokenTransformerConfig):
        super().__init__()
        self.encoder = TokenTransformer(encoder)
        self.decoder = TokenTransformer(decoder)

    def encode(self, s_t: torch.Tensor, s_next: torch.Tensor) -> torch.Tensor:
        """s_t, s_next: (B, L, C) DINO tokens -> z: (B, Nz, Dz)."""
        check_tensor("s_next", s_next, tuple(s_t.shape))
        z, _ = self.encoder(s_next - s_t)
        return z

    def decode(self, s_t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """s_t: (B, L, C), z: (B, Nz, Dz) -> predicted s_{t+h}: (B, L, C)."""
        _, s_next = self.decoder(s_t, tokens=z)
        return s_t + s_next if self.decoder.config.residual_output else s_next

    def forward(self, s_t: torch.Tensor, s_next: torch.Tensor) -> torch.Tensor:
        return self.decode(s_t, self.encode(s_t, s_next))
