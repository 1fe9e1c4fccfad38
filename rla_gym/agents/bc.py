"""The BC policy: a ResNet chunk network plus the action normaliser fitted on its demos, for one robot.

It maps an RGB frame to the next `n_action_steps` absolute joint targets. It is trained (rla_gym/train/bc.py)
on demo frames passed through a bundle's encoder and UNet, and evaluated in ManiSkill with the same
encoder -> UNet preprocessing (reference 7.4), so it sees the same kind of image there as in the world model.
Saved as `bc_policy.json` (robot, network config) + `bc_policy.safetensors` (weights and the normaliser's range).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from rla_gym.agents.normalization import ActionNormalizer
from rla_gym.agents.resnet import ResNetPolicy, ResNetPolicyConfig
from rla_gym.models.bundle import stored
from rla_gym.specs import get_robot

log = logging.getLogger(__name__)

CONFIG_FILE = "bc_policy.json"
WEIGHTS_FILE = "bc_policy.safetensors"
FORMAT = "rla-gym-bc-policy"


class BCPolicy(nn.Module):
    """frames (B, H, W, 3) uint8 -> normalised chunk (B, horizon, A) (`forward`) or joint targets (`act`)."""

    def __init__(self, robot: str, config: ResNetPolicyConfig, normalizer: ActionNormalizer) -> None:
        super().__init__()
        spec = get_robot(robot)
        if config.action_dim != spec.action_dim:
            raise ValueError(
                f"policy predicts {config.action_dim} joint targets per row; {spec.name} expects {spec.action_dim}"
            )
        if normalizer.action_dim != spec.action_dim:
            raise ValueError(
                f"normaliser has {normalizer.action_dim} dimensions; {spec.name} expects {spec.action_dim}"
            )
        self.robot = spec.name
        self.config = config
        self.net = ResNetPolicy(config)
        self.normalizer = normalizer

    @property
    def device(self) -> torch.device:
        return self.normalizer.low.device

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.net(frames)

    def loss(self, frames: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """MSE in the normalised space; targets: (B, horizon, A) absolute joint targets."""
        expected = (frames.shape[0], self.config.horizon, self.config.action_dim)
        if tuple(targets.shape) != expected:
            raise ValueError(f"targets have shape {tuple(targets.shape)}; expected {expected} (B, horizon, A)")
        return nn.functional.mse_loss(self.net(frames), self.normalizer.normalize(targets))

    @torch.no_grad()
    def act(self, frames: torch.Tensor) -> torch.Tensor:
        """(B, H, W, 3) uint8 -> the executed rows (B, n_action_steps, A) as absolute joint targets."""
        training = self.training
        self.eval()  # no dropout: the executed chunk is a function of the frame
        chunk = self.net(frames.to(self.device))[:, : self.config.n_action_steps]
        self.train(training)
        return self.normalizer.unnormalize(chunk)

    # ------------------------------------------------------------------ save / load
    def save_pretrained(self, path: str | os.PathLike, dtype: torch.dtype | None = None) -> Path:
        """`dtype=torch.float16` halves the file (the network's weights only; the action range stays fp32, since
        a joint range of +-6 rad in fp16 would be off by up to 4 mrad). Loading casts back to the modules' fp32."""
        state = {k: v if k.startswith("normalizer.") else stored(v, dtype) for k, v in self.state_dict().items()}
        return write_policy(path, self.robot, self.config, state)

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike, robot: str | None = None, device: str | torch.device = "cpu"
    ) -> BCPolicy:
        """Load a saved policy; `robot`, when given, must be the robot it was trained for."""
        path = Path(path)
        meta = read_policy_meta(path)
        if robot is not None and get_robot(robot).name != meta["robot"]:
            raise ValueError(f"BC checkpoint {path} is for robot {meta['robot']!r}; expected {get_robot(robot).name!r}")
        config = ResNetPolicyConfig(**meta["network"])
        a = config.action_dim
        policy = cls(meta["robot"], config, ActionNormalizer(torch.zeros(a), torch.ones(a)))
        state = load_file(path / WEIGHTS_FILE)
        missing, unexpected = policy.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ValueError(
                f"{path / WEIGHTS_FILE} does not fit its config: missing {missing[:5]}, unexpected {unexpected[:5]}"
            )
        return policy.to(device).eval()


def write_policy(
    path: str | os.PathLike, robot: str, config: ResNetPolicyConfig, state: dict[str, torch.Tensor]
) -> Path:
    """bc_policy.json + bc_policy.safetensors from a state dict (the RL agent saves its base weights this way)."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    meta = {"format": FORMAT, "robot": robot, "network": config.to_dict()}
    (out / CONFIG_FILE).write_text(json.dumps(meta, indent=2) + "\n")
    save_file({k: v.detach().contiguous().cpu() for k, v in state.items()}, out / WEIGHTS_FILE)
    return out


def read_policy_meta(path: Path) -> dict:
    """bc_policy.json of a saved policy folder (errors name the file)."""
    file = Path(path) / CONFIG_FILE
    if not file.is_file():
        raise FileNotFoundError(f"no BC policy at {path}: {CONFIG_FILE} missing")
    meta = json.loads(file.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{file} has format {meta.get('format')!r}; expected {FORMAT!r}")
    return meta


class SimPolicy:
    """Adapts a batched torch policy to `rla_gym.sim.evaluate`: rgb (H, W, 3) uint8, qpos -> (K, A) numpy.

    `act(frames (B, H, W, 3) uint8) -> (B, K, A)` absolute joint targets; qpos is unused (the paper's policy
    sees only the image, `use_state` false). Checks the chunk against the robot so that a policy for the
    wrong robot fails with a clear error before the simulator sees its action."""

    def __init__(self, act: Callable[[torch.Tensor], torch.Tensor], robot: str, device: torch.device) -> None:
        self._act, self.spec, self.device = act, get_robot(robot), device

    def __call__(self, rgb: np.ndarray, qpos: np.ndarray) -> np.ndarray:
        frames = torch.from_numpy(np.ascontiguousarray(rgb))[None].to(self.device)
        with torch.no_grad():
            chunk = self._act(frames)[0].float().cpu().numpy()
        if chunk.ndim != 2 or chunk.shape[1] != self.spec.action_dim:
            raise ValueError(
                f"policy action chunk has shape {chunk.shape}; {self.spec.name} expects (K, {self.spec.action_dim})"
            )
        return chunk
