"""BC trainer: the ResNet chunk policy on demo frames as the world model renders them (paper 4.3, A.2).

Each training frame goes through the bundle's encoder and UNet once (cached in memory at the stack's size), so
the policy learns on the same kind of image it meets inside the world model and, with the paper's neural
preprocessing, in ManiSkill. The target of a frame at t is the next `horizon` (12) joint-target rows t..t+11;
past the episode's end the last row repeats, for at most `n_action_steps - 1` rows (the authors' pad_after 7).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from rla_gym.agents.bc import BCPolicy
from rla_gym.agents.normalization import ActionNormalizer
from rla_gym.agents.resnet import policy_config
from rla_gym.models.stack import WorldModelStack
from rla_gym.train.data import TrainingData

log = logging.getLogger(__name__)


@dataclass
class ChunkData:
    """Policy inputs and targets. images[i]: (T, H, W, 3) uint8 UNet decodes; targets[i]: (T, A) float32."""

    images: list[torch.Tensor]
    targets: list[torch.Tensor]
    starts: tuple[np.ndarray, np.ndarray]  # (episode, frame) of every valid chunk start

    def __len__(self) -> int:
        return len(self.starts[0])


@torch.no_grad()
def decoded_chunks(data: TrainingData, stack: WorldModelStack, horizon: int, pad_after: int) -> ChunkData:
    """UNet decodes of every frame's tokens, and the chunk starts that need at most `pad_after` padded rows."""
    images, targets, eps, frames = [], [], [], []
    for i, tokens in enumerate(data.tokens):
        decoded = [stack.render(t.float().to(stack.device)).cpu() for t in tokens.split(64)]
        images.append(torch.cat(decoded))
        targets.append(torch.as_tensor(data.targets[i], dtype=torch.float32))
        last_start = max(0, len(tokens) - horizon + pad_after)
        n = min(len(tokens), last_start + 1)
        eps.append(np.full(n, i))
        frames.append(np.arange(n))
    return ChunkData(images, targets, (np.concatenate(eps), np.concatenate(frames)))


def chunk_targets(targets: torch.Tensor, start: int, horizon: int) -> torch.Tensor:
    """Rows start..start+horizon-1 of (T, A), the last row repeated past the end -> (horizon, A)."""
    idx = torch.clamp(torch.arange(start, start + horizon), max=targets.shape[0] - 1)
    return targets[idx]


class BCModule(nn.Module):
    """forward(batch) -> (MSE in the normalised action space, metrics), as the training loop expects."""

    def __init__(self, policy: BCPolicy) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
        loss = self.policy.loss(batch["images"], batch["targets"])
        return loss, {}


class BCTask:
    """A `rla_gym.train.loop.TrainTask` for the BC policy."""

    name = "bc"

    def __init__(self, policy: BCPolicy, train: ChunkData, heldout: ChunkData | None = None, eval_chunks: int = 256):
        if len(train) == 0:
            raise ValueError("BC training data holds no chunk: episodes need at least one frame")
        self.policy = policy
        self.module = BCModule(policy)
        self.train_data, self.heldout = train, heldout
        self.eval_chunks = eval_chunks

    @property
    def num_samples(self) -> int:
        """Chunks per epoch (one per valid start frame)."""
        return len(self.train_data)

    def steps_per_epoch(self, batch_size: int) -> int:
        return max(1, math.ceil(self.num_samples / batch_size))

    def _batch(self, data: ChunkData, ep: np.ndarray, fr: np.ndarray) -> dict[str, torch.Tensor]:
        h = self.policy.config.horizon
        images = torch.stack([data.images[e][f] for e, f in zip(ep, fr)])
        targets = torch.stack([chunk_targets(data.targets[e], int(f), h) for e, f in zip(ep, fr)])
        return {"images": images, "targets": targets}

    def sample_batch(self, rng: np.random.Generator, batch_size: int) -> dict[str, torch.Tensor]:
        pick = rng.integers(len(self.train_data), size=batch_size)
        return self._batch(self.train_data, self.train_data.starts[0][pick], self.train_data.starts[1][pick])

    def evaluate(self, module: nn.Module, device: torch.device) -> dict[str, float]:
        """Held-out chunk MSE (normalised space) on a fixed set of starts; ManiSkill success is `rla-gym wmrl`'s."""
        if self.heldout is None or len(self.heldout) == 0:
            return {}
        n = len(self.heldout)
        pick = np.random.default_rng(1234).choice(n, size=min(self.eval_chunks, n), replace=False)
        total, count = 0.0, 0
        for s in range(0, len(pick), 64):
            part = pick[s : s + 64]
            batch = self._batch(self.heldout, self.heldout.starts[0][part], self.heldout.starts[1][part])
            loss, _ = module({k: v.to(device) for k, v in batch.items()})
            total += float(loss) * len(part)
            count += len(part)
        return {"mse": total / count}

    def export(self, module: nn.Module, out_dir: Path) -> list[Path]:
        out = module.policy.save_pretrained(out_dir)
        return [out / "bc_policy.json", out / "bc_policy.safetensors"]


def build_bc_task(
    stack: WorldModelStack, train: TrainingData, heldout: TrainingData | None, preset: str = "paper"
) -> BCTask:
    """A fresh BC policy for the stack's robot, its normaliser fitted on the training targets."""
    robot = stack.robot
    config = policy_config(preset, robot.action_dim)
    normalizer = ActionNormalizer.from_targets(torch.cat([torch.as_tensor(t) for t in train.targets]))
    policy = BCPolicy(robot.name, config, normalizer)
    pad = config.n_action_steps - 1
    stack = stack.eval()
    train_chunks = decoded_chunks(train, stack, config.horizon, pad)
    held_chunks = decoded_chunks(heldout, stack, config.horizon, pad) if heldout is not None else None
    log.info("BC: %d training chunks from %d episodes (%s preset)", len(train_chunks), len(train), preset)
    return BCTask(policy, train_chunks, held_chunks)
