"""Transition batches (s_t, actions t..t+h-1, s_{t+h}) from in-memory tokens, for the RLA, RLA-WM and regression
trainers: the shared pair sampler (interaction-biased starts, reference 3) drawing from the loop's generator."""

from __future__ import annotations

import numpy as np
import torch

from rla_gym.data.pairs import PairBatch, PairIndex, PairSampler, PairSamplerConfig
from rla_gym.specs import RobotSpec
from rla_gym.train.data import TrainingData


class TransitionSampler:
    def __init__(self, data: TrainingData, config: PairSamplerConfig, robot: RobotSpec | None) -> None:
        """`robot`: whose joints the batches carry as `qpos`; None for a trainer that sees tokens only (the RLA
        autoencoder, trained on every robot's episodes)."""
        self.data, self.robot = data, robot
        self.sampler = PairSampler(data.targets, data.interaction, config, seed=0)

    def sample(self, rng: np.random.Generator, batch_size: int) -> dict[str, torch.Tensor]:
        self.sampler.rng = rng  # the loop's registered generator: saved and restored with each checkpoint
        return self.collate(self.sampler.sample_index(batch_size))

    def fixed(self, count: int, horizon: int, seed: int) -> dict[str, torch.Tensor]:
        """A reproducible evaluation batch of `count` pairs at one horizon (shorter where an episode is)."""
        self.sampler.rng = np.random.default_rng(seed)
        index = self.sampler.sample_index(count)
        h = np.minimum(np.full(count, horizon), self.sampler.lengths[index.episode] - 1)
        t = np.array(
            [self.sampler.rng.integers(self.sampler.lengths[e] - hh) for e, hh in zip(index.episode, h)],
            dtype=np.int64,
        )
        return self.collate(PairIndex(index.episode, t, h.astype(np.int64)))

    def collate(self, index: PairIndex) -> dict[str, torch.Tensor]:
        batch: PairBatch = self.sampler.collate(index, self.data.tokens)
        out = {"s_t": batch.states_t, "s_next": batch.states_next, "lengths": batch.lengths}
        if self.robot is not None:
            qpos = self.robot.to_full_qpos(batch.actions[..., : self.robot.action_dim])  # (B, max_h, J)
            out["qpos"] = qpos * batch.mask[..., None]  # zero padding past h, as the authors pad the buffer
        return out


def token_loss(pred: torch.Tensor, target: torch.Tensor, s_t: torch.Tensor, motion_weight: float = 0.0) -> torch.Tensor:
    """L1 + MSE on predicted tokens (B, L, C). `motion_weight` w > 0 weighs each token 1 + w * (its change from
    s_t to the target / the batch's mean change), normalised by the mean weight: the few tokens where the ball
    moves decide the task, the static background fills the mean (design notes: w = 8 tripled the outcome test
    in a fine-tune probe)."""
    per_token = (pred - target).abs().mean(-1) + (pred - target).pow(2).mean(-1)  # (B, L)
    if motion_weight <= 0:
        return per_token.mean()
    change = (target.float() - s_t.float()).abs().mean(-1)  # (B, L)
    weights = 1.0 + motion_weight * change / change.mean().clamp_min(1e-8)
    return (per_token * weights).mean() / weights.mean()


def token_l1(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().mean())


EVAL_HORIZON = 10  # the world model's rollout chunk in the paper's ManiSkill protocol


class PairTask:
    """Shared by the RLA, RLA-WM and regression trainers: batches from a `TransitionSampler`, and a held-out
    evaluation of `predict(module, batch)` at h = 10 against copying s_t on a fixed set of 256 pairs."""

    name = "pairs"
    module: torch.nn.Module

    def __init__(self, train: TransitionSampler, heldout: TransitionSampler | None) -> None:
        self.train_pairs, self.heldout = train, heldout

    def sample_batch(self, rng: np.random.Generator, batch_size: int) -> dict[str, torch.Tensor]:
        return self.train_pairs.sample(rng, batch_size)

    def predict(self, module: torch.nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def evaluate(self, module: torch.nn.Module, device: torch.device) -> dict[str, float]:
        if self.heldout is None:
            return {}
        batch = {k: v.to(device) for k, v in self.heldout.fixed(256, EVAL_HORIZON, seed=1234).items()}
        pred = self.predict(module, batch)
        return {"l1_h10": token_l1(pred, batch["s_next"]), "copy_l1_h10": token_l1(batch["s_t"], batch["s_next"])}
