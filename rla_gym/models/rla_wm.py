"""RLA-WM: flow matching in the residual latent action space (paper section 3, reference section 4).

The condition network runs once per transition over the current DINO tokens, modulated by an action
token from a per-robot GRU over the (padded) full-qpos chunk. The flow network then integrates a small
latent `(Nz, Dz)` from noise (t = 1) to data (t = 0), cross-attending to the condition queries.
"""

from __future__ import annotations

import torch
from torch import nn

from rla_gym.models.blocks import AttentionBlock, ModCrossAttentionBlock, TimestepEmbedder, xavier_init
from rla_gym.models.checks import check_tensor
from rla_gym.models.configs import WorldModelConfig


class RobotActionEncoder(nn.Module):
    """Per-frame MLP then a GRU over the chunk; the hidden state after the last real frame is the action token."""

    def __init__(self, qpos_dim: int, model_channels: int, frame_channels: int = 64):
        super().__init__()
        self.qpos_dim = qpos_dim
        self.per_frame_mlp = nn.Sequential(
            nn.Linear(qpos_dim, frame_channels), nn.GELU(), nn.Linear(frame_channels, frame_channels)
        )
        self.gru = nn.GRU(frame_channels, model_channels, num_layers=1, batch_first=True)

    def forward(self, qpos: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """qpos: (B, T, qpos_dim) zero-padded; lengths: (B,) in [1, T] -> (B, model_channels).

        Reading the GRU output at `lengths - 1` equals the final hidden state of a packed sequence."""
        steps = qpos.shape[1] if lengths.is_meta else int(lengths.max())  # meta: shape-only dry run
        out, _ = self.gru(self.per_frame_mlp(qpos[:, :steps].float()))
        idx = (lengths.long() - 1).clamp(min=0).to(out.device)
        return out[torch.arange(out.shape[0], device=out.device), idx]


class RLAWorldModel(nn.Module):
    """Released name `RLAWM`. forward_cond once, then forward_flow per Euler step."""

    def __init__(self, config: WorldModelConfig):
        super().__init__()
        self.config = c = config
        flow_c = c.flow_channels
        self.xt_proj = (
            nn.Identity() if c.dino_channels == c.model_channels else nn.Linear(c.dino_channels, c.model_channels)
        )
        self.qpos_encoders = nn.ModuleDict(
            {
                rid: RobotActionEncoder(dim, c.model_channels, c.qpos_frame_channels)
                for rid, dim in c.robot_qpos_dims.items()
            }
        )
        self.cond_blocks = nn.ModuleList(
            AttentionBlock(c.model_channels, c.num_heads, c.mlp_ratio, cond_channels=c.model_channels)
            for _ in range(c.num_cond_blocks)
        )
        self.flow_latent_proj = nn.Linear(c.token_dim, flow_c)
        self.flow_time_embedder = TimestepEmbedder(flow_c)
        self.flow_blocks = nn.ModuleList(
            ModCrossAttentionBlock(flow_c, c.num_heads, c.mlp_ratio, cond_channels=c.model_channels)
            for _ in range(c.num_flow_blocks)
        )
        self.flow_norm_out = nn.LayerNorm(flow_c, eps=1e-5)
        self.flow_out_proj = nn.Linear(flow_c, c.token_dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        xavier_init(self)
        for block in [*self.cond_blocks, *self.flow_blocks]:
            nn.init.zeros_(block.modulation[-1].weight)
            nn.init.zeros_(block.modulation[-1].bias)
        nn.init.zeros_(self.flow_out_proj.weight)
        nn.init.zeros_(self.flow_out_proj.bias)
        for layer in (self.flow_time_embedder.mlp[0], self.flow_time_embedder.mlp[2]):
            nn.init.normal_(layer.weight, std=0.02)
        for enc in self.qpos_encoders.values():
            enc.gru.reset_parameters()

    def _encoder_for(self, robot: str | int) -> RobotActionEncoder:
        key = str(robot)
        if key not in self.qpos_encoders:
            raise ValueError(f"robot id {key!r} has no action encoder; this model has {sorted(self.qpos_encoders)}")
        return self.qpos_encoders[key]

    def forward_cond(
        self, tokens: torch.Tensor, qpos: torch.Tensor, lengths: torch.Tensor, robot: str | int
    ) -> torch.Tensor:
        """tokens: (B, L, dino_channels); qpos: (B, T <= max_horizon, qpos_dim) full-qpos chunk,
        zero-padded past `lengths` (B,) -> condition queries (B, L, model_channels)."""
        c = self.config
        encoder = self._encoder_for(robot)
        check_tensor("tokens", tokens, ("B", "L", c.dino_channels))
        b = tokens.shape[0]
        check_tensor("qpos", qpos, (b, "T", encoder.qpos_dim))
        check_tensor("lengths", lengths, (b,))
        if qpos.shape[1] > c.max_horizon or qpos.shape[1] == 0:
            raise ValueError(f"qpos has {qpos.shape[1]} rows; expected 1..{c.max_horizon} (max_horizon)")
        if not lengths.is_meta and (bool((lengths < 1).any()) or bool((lengths > qpos.shape[1]).any())):
            raise ValueError(f"lengths must lie in [1, {qpos.shape[1]}], got {lengths.tolist()}")
        action = encoder(qpos, lengths)  # (B, C)
        h = self.xt_proj(tokens)
        for block in self.cond_blocks:
            h = block(h, action.to(h.dtype))
        return h

    def prepare_cond(self, cond: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Per flow block, the cross-attention keys/values of the condition: computed once per
        transition and reused by every Euler step."""
        check_tensor("cond", cond, ("B", "L", self.config.model_channels))
        return [block.cond_kv(cond) for block in self.flow_blocks]

    def forward_flow(
        self, cond: torch.Tensor | list[tuple[torch.Tensor, torch.Tensor]], latent: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        """cond: (B, L, model_channels) condition queries (or `prepare_cond(cond)`); latent:
        (B, Nz, token_dim) noisy latent; t: (B,) in [0, 1] -> predicted velocity (B, Nz, token_dim)."""
        c = self.config
        kvs = self.prepare_cond(cond) if isinstance(cond, torch.Tensor) else cond
        b = kvs[0][0].shape[0] if kvs else latent.shape[0]
        check_tensor("latent", latent, (b, "Nz", c.token_dim))
        check_tensor("t", t, (b,))
        f = self.flow_latent_proj(latent)
        mod = self.flow_time_embedder(t * 1000).to(f.dtype)
        for block, kv in zip(self.flow_blocks, kvs):
            f = block(f, mod, kv)
        return self.flow_out_proj(self.flow_norm_out(f))

    def forward(
        self,
        tokens: torch.Tensor,
        qpos: torch.Tensor,
        lengths: torch.Tensor,
        robot: str | int,
        latent: torch.Tensor,
        t: torch.Tensor,
    ) -> torch.Tensor:
        return self.forward_flow(self.forward_cond(tokens, qpos, lengths, robot), latent, t)

    @torch.no_grad()
    def sample(self, cond: torch.Tensor, noise: torch.Tensor, steps: int) -> torch.Tensor:
        """Euler from t = 1 (noise) to t = 0: x <- x - v(x, t_i) / steps with t_i = 1 - i / steps."""
        if steps < 1:
            raise ValueError(f"euler steps must be >= 1, got {steps}")
        check_tensor("noise", noise, (cond.shape[0], "Nz", self.config.token_dim))
        kvs = self.prepare_cond(cond)
        x = noise
        ones = torch.ones(noise.shape[0], device=noise.device, dtype=torch.float32)
        for i in range(steps):
            v = self.forward_flow(kvs, x, ones * (1.0 - i / steps))
            x = x - v.to(x.dtype) / steps
        return x

    def flow_matching_loss(self, *args, **kwargs) -> torch.Tensor:
        """MSE + L1 on the velocity (1 - sigma_min) eps - x0, t ~ logit-normal(0, 1) (reference 4.4): the loss of
        `flow_matching_terms`, same arguments. x0 is the normalised target latent z / latent_scale, (B, Nz, token_dim)."""
        return self.flow_matching_terms(*args, **kwargs)[0]

    def flow_matching_terms(
        self,
        tokens: torch.Tensor,
        qpos: torch.Tensor,
        lengths: torch.Tensor,
        robot: str | int,
        x0: torch.Tensor,
        sigma_min: float = 1e-5,
        generator: torch.Generator | None = None,
        t1_prob: float = 0.0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The flow-matching loss and the one-step estimate of x0 the predicted velocity implies,
        x_t - t v = x0 + sigma_min eps when v is exact: a trainer can score that estimate in token space.

        `t1_prob` (not the reference): the share of samples drawn at t = 1, the only time a one-Euler-step sampler
        evaluates. Logit-normal time draws t > 0.95 0.2 % of the time, so the map that one step applies from pure
        noise is barely trained, and its prediction depends on the noise (Panda: where the arm holds, one fixed
        noise for every start halved the error of fresh draws)."""
        b = x0.shape[0]
        t = torch.sigmoid(torch.randn(b, device=x0.device, generator=generator))
        if t1_prob > 0:  # drawn only then: the reference's random stream is unchanged
            t = torch.where(torch.rand(b, device=x0.device, generator=generator) < t1_prob, torch.ones_like(t), t)
        eps = torch.randn(x0.shape, device=x0.device, generator=generator)
        tt = t[:, None, None]
        x_t = (1 - tt) * x0 + (sigma_min + (1 - sigma_min) * tt) * eps
        target = (1 - sigma_min) * eps - x0
        v = self(tokens, qpos, lengths, robot, x_t, t)
        loss = nn.functional.mse_loss(v, target) + nn.functional.l1_loss(v, target)
        return loss, x_t - tt * v
