"""Direct-regression world model, the DINO-WM-style baseline the paper says RLA-WM beats.

(s_t, action chunk) -> s_{t+h} in one deterministic forward pass: the same per-robot GRU action token as
RLA-WM's condition network, adaLN-modulated self-attention blocks over the DINO tokens, and a token output
head. Its block count defaults to RLA-WM's condition + flow + RLA-decoder blocks, so the two have comparable
parameters; `benchmarks/prediction_quality.py` prints both models' parameters and FLOPs side by side.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rla_gym.models.blocks import AttentionBlock, xavier_init
from rla_gym.models.checks import check_tensor
from rla_gym.models.configs import StackConfig
from rla_gym.models.rla_wm import RobotActionEncoder


@dataclass
class RegressionConfig:
    robot_qpos_dims: dict[str, int]  # robot id (as str) -> full qpos dim, as in WorldModelConfig
    dino_channels: int
    model_channels: int
    num_blocks: int
    num_heads: int
    max_horizon: int
    mlp_ratio: float = 4.0
    qpos_frame_channels: int = 64
    residual_output: bool = True  # predict s_{t+h} - s_t: the best variant measured here (design notes)

    @classmethod
    def matching(cls, stack: StackConfig, residual_output: bool = True) -> RegressionConfig:
        """The baseline sized like a stack's RLA-WM: same width, heads, action encoder and horizon buffer."""
        wm = stack.world_model
        return cls(
            robot_qpos_dims=dict(wm.robot_qpos_dims),
            dino_channels=wm.dino_channels,
            model_channels=wm.model_channels,
            num_blocks=wm.num_cond_blocks + wm.num_flow_blocks + stack.rla_decoder.num_blocks,
            num_heads=wm.num_heads,
            max_horizon=wm.max_horizon,
            mlp_ratio=wm.mlp_ratio,
            qpos_frame_channels=wm.qpos_frame_channels,
            residual_output=residual_output,
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class RegressionWorldModel(nn.Module):
    """tokens (B, L, C) + full-qpos chunk (B, T, J) -> next tokens (B, L, C)."""

    def __init__(self, config: RegressionConfig):
        super().__init__()
        self.config = c = config
        self.qpos_encoders = nn.ModuleDict(
            {
                rid: RobotActionEncoder(dim, c.model_channels, c.qpos_frame_channels)
                for rid, dim in c.robot_qpos_dims.items()
            }
        )
        self.in_proj = nn.Linear(c.dino_channels, c.model_channels)
        self.blocks = nn.ModuleList(
            AttentionBlock(c.model_channels, c.num_heads, c.mlp_ratio, cond_channels=c.model_channels)
            for _ in range(c.num_blocks)
        )
        self.norm_out = nn.LayerNorm(c.model_channels, eps=1e-5)
        self.out_proj = nn.Linear(c.model_channels, c.dino_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        xavier_init(self)
        for block in self.blocks:  # adaLN gates start closed: every block starts as the identity
            nn.init.zeros_(block.modulation[-1].weight)
            nn.init.zeros_(block.modulation[-1].bias)
        if self.config.residual_output:  # start as "copy s_t"
            nn.init.zeros_(self.out_proj.weight)
            nn.init.zeros_(self.out_proj.bias)
        for enc in self.qpos_encoders.values():
            enc.gru.reset_parameters()

    def forward(
        self, tokens: torch.Tensor, qpos: torch.Tensor, lengths: torch.Tensor, robot: str | int
    ) -> torch.Tensor:
        """tokens: (B, L, dino_channels); qpos: (B, T <= max_horizon, qpos_dim) zero-padded past `lengths` (B,)."""
        c = self.config
        key = str(robot)
        if key not in self.qpos_encoders:
            raise ValueError(f"robot id {key!r} has no action encoder; this model has {sorted(self.qpos_encoders)}")
        check_tensor("tokens", tokens, ("B", "L", c.dino_channels))
        if not 1 <= qpos.shape[1] <= c.max_horizon:
            raise ValueError(f"qpos has {qpos.shape[1]} rows; expected 1..{c.max_horizon} (max_horizon)")
        action = self.qpos_encoders[key](qpos, lengths)  # (B, C)
        h = self.in_proj(tokens)
        for block in self.blocks:
            h = block(h, action.to(h.dtype))
        out = self.out_proj(self.norm_out(h))
        return tokens + out if c.residual_output else out

    def loss(
        self, tokens: torch.Tensor, qpos: torch.Tensor, lengths: torch.Tensor, robot: str | int, target: torch.Tensor
    ):
        """L1 + MSE on the predicted tokens, the RLA autoencoder's reconstruction loss."""
        pred = self(tokens, qpos, lengths, robot)
        return nn.functional.l1_loss(pred, target) + nn.functional.mse_loss(pred, target)


WEIGHTS_FILE, CONFIG_FILE = "regression.safetensors", "regression.json"  # a trainer's export and a bundle's component


def load_regression(path: str | Path, device: str | torch.device = "cpu") -> RegressionWorldModel:
    """A regression baseline from a trainer's run folder or its `final/` export (a bundle carries it as a component:
    `load_bundle(...).regression`)."""
    import json

    from safetensors.torch import load_file

    from rla_gym.models.state_dicts import load_strict

    root = Path(path)
    if (root / "final" / WEIGHTS_FILE).is_file():
        root = root / "final"
    weights, meta = root / WEIGHTS_FILE, root / CONFIG_FILE
    for f in (weights, meta):
        if not f.is_file():
            raise FileNotFoundError(f"no regression baseline at {root}: {f.name} missing")
    model = RegressionWorldModel(RegressionConfig(**json.loads(meta.read_text())))
    load_strict(model, load_file(weights), source=str(weights))
    return model.to(device).eval()
