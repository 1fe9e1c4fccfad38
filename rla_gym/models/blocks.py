"""Transformer building blocks shared by the RLA autoencoder and RLA-WM.

Module and parameter names match the released checkpoints (reference section 2): `attn` is a packed
`nn.MultiheadAttention`, `mlp` is Linear-GELU-Linear, adaLN `modulation` is SiLU-Linear(C, 6C).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm32(nn.LayerNorm):
    """LayerNorm computed in float32 and cast back, so bf16/fp16 activations normalise stably."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.float()).type(x.dtype)


def _mlp(channels: int, mlp_ratio: float) -> nn.Sequential:
    hidden = int(channels * mlp_ratio)
    return nn.Sequential(nn.Linear(channels, hidden), nn.GELU(), nn.Linear(hidden, channels))


def _modulation(channels: int) -> nn.Sequential:
    return nn.Sequential(nn.SiLU(), nn.Linear(channels, 6 * channels))


def _chunk6(mod: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(B, 6C) or (B, L, 6C) -> six tensors broadcastable over tokens:
    shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp."""
    if mod.dim() == 2:
        mod = mod.unsqueeze(1)
    return mod.chunk(6, dim=-1)


def _self_attention(attn: nn.MultiheadAttention, h: torch.Tensor) -> torch.Tensor:
    return attn(h, h, h, need_weights=False)[0]


class AttentionBlock(nn.Module):
    """Pre-norm self-attention block; with `cond_channels` it is adaLN-modulated by a condition vector."""

    def __init__(self, channels: int, num_heads: int, mlp_ratio: float = 4.0, cond_channels: int | None = None):
        super().__init__()
        self.norm1 = LayerNorm32(channels, elementwise_affine=False, eps=1e-5)
        self.norm2 = LayerNorm32(channels, elementwise_affine=False, eps=1e-5)
        self.attn = nn.MultiheadAttention(channels, num_heads, batch_first=True)
        self.mlp = _mlp(channels, mlp_ratio)
        self.use_condition = cond_channels is not None
        if cond_channels is not None:
            self.cond_proj = nn.Linear(cond_channels, channels)
            self.modulation = _modulation(channels)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, L, C); cond: (B, Cc) or (B, L, Cc) when conditioned."""
        if not self.use_condition:
            x = x + _self_attention(self.attn, self.norm1(x))
            return x + self.mlp(self.norm2(x))
        assert cond is not None, "this block is conditioned: pass cond"
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = _chunk6(self.modulation(self.cond_proj(cond)))
        h = self.norm1(x) * (1 + scale_msa) + shift_msa
        x = x + _self_attention(self.attn, h) * gate_msa
        h = self.norm2(x) * (1 + scale_mlp) + shift_mlp
        return x + self.mlp(h) * gate_mlp


class ModCrossAttentionBlock(nn.Module):
    """Flow block: modulated self-attention over latent tokens, plain cross-attention to the condition
    queries (ungated, affine norm), modulated MLP."""

    def __init__(self, channels: int, num_heads: int, mlp_ratio: float, cond_channels: int):
        super().__init__()
        self.norm1 = LayerNorm32(channels, elementwise_affine=False, eps=1e-5)
        self.norm2 = LayerNorm32(channels, elementwise_affine=True, eps=1e-5)
        self.norm3 = LayerNorm32(channels, elementwise_affine=False, eps=1e-5)
        self.self_attn = nn.MultiheadAttention(channels, num_heads, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(
            channels, num_heads, batch_first=True, kdim=cond_channels, vdim=cond_channels
        )
        self.mlp = _mlp(channels, mlp_ratio)
        self.modulation = _modulation(channels)

    def cond_kv(self, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Cross-attention keys and values of the condition queries, (B, heads, Lc, head_dim) each.

        The condition is fixed across Euler steps, so the sampler projects it once per transition
        instead of once per step (the projection is most of a flow step's FLOPs at paper size)."""
        attn = self.cross_attn
        c = attn.embed_dim
        if attn._qkv_same_embed_dim:
            wk, wv = attn.in_proj_weight[c : 2 * c], attn.in_proj_weight[2 * c :]
        else:
            wk, wv = attn.k_proj_weight, attn.v_proj_weight
        bk, bv = attn.in_proj_bias[c : 2 * c], attn.in_proj_bias[2 * c :]
        return self._heads(F.linear(cond, wk, bk)), self._heads(F.linear(cond, wv, bv))

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        h = self.cross_attn.num_heads
        return x.view(b, n, h, c // h).transpose(1, 2)

    def _cross_attention(self, x: torch.Tensor, kv: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        attn = self.cross_attn
        c = attn.embed_dim
        w = attn.in_proj_weight[:c] if attn._qkv_same_embed_dim else attn.q_proj_weight
        q = self._heads(F.linear(x, w, attn.in_proj_bias[:c]))
        out = F.scaled_dot_product_attention(q, kv[0].to(q.dtype), kv[1].to(q.dtype))
        out = out.transpose(1, 2).reshape(x.shape)
        return attn.out_proj(out)

    def forward(
        self, x: torch.Tensor, mod: torch.Tensor, cond: torch.Tensor | tuple[torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        """x: (B, Nz, C) latent tokens; mod: (B, C) time embedding; cond: (B, Lc, Cc) condition
        queries, or their precomputed `cond_kv`."""
        kv = self.cond_kv(cond) if isinstance(cond, torch.Tensor) else cond
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = _chunk6(self.modulation(mod))
        h = self.norm1(x) * (1 + scale_msa) + shift_msa
        x = x + _self_attention(self.self_attn, h) * gate_msa
        x = x + self._cross_attention(self.norm2(x), kv)
        h = self.norm3(x) * (1 + scale_mlp) + shift_mlp
        return x + self.mlp(h) * gate_mlp


class TimestepEmbedder(nn.Module):
    """Sinusoidal features (cos first, 256 wide) followed by an MLP, as the released flow network uses."""

    def __init__(self, hidden: int, frequency_embedding_size: int = 256):
        super().__init__()
        self.frequency_embedding_size = frequency_embedding_size
        self.mlp = nn.Sequential(nn.Linear(frequency_embedding_size, hidden), nn.SiLU(), nn.Linear(hidden, hidden))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """t: (B,) float timesteps (already scaled) -> (B, hidden)."""
        half = self.frequency_embedding_size // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
        args = t.float()[:, None] * freqs[None]
        features = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        return self.mlp(features.to(self.mlp[0].weight.dtype))


def xavier_init(module: nn.Module) -> None:
    """Training-from-scratch init the released models used: xavier-uniform linears, zero bias."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
