"""Calibrate a bundle's world-model success threshold on its own demos.

The paper's threshold (goal-token L1 <= 0.032) is on DINOv3-L's token scale; a small CPU stack's tokens and
prediction errors are on another, and with it `info["success"]` is constant. So the threshold is measured
where the env uses it: each demo is replayed inside the world model from the frame whose episode ends at the
demo's last frame, with the demo's own joint targets (a policy that does the task) and with two that do not:
holding the first target, and random targets within the demos' joint range. The threshold is the cut that best
separates the demo replays from the others' end-of-episode goal-token L1; the separation (AUC, accuracies) says
how much `info["success"]` can mean.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torchmetrics.functional.classification import binary_auroc

from rla_gym.envs.config import WorldModelEnvConfig
from rla_gym.envs.numpy_wrapper import to_numpy
from rla_gym.envs.vector import RLAWorldModelVectorEnv
from rla_gym.models.bundle import Bundle

NEGATIVES = ("hold", "random")  # policies that do not do the task


@dataclass
class SuccessCalibration:
    threshold: float  # goal-token L1 at or under which an episode end counts as success
    demo_goal_l1: list[float]  # end-of-episode goal L1 of the demo replays (should be under the threshold)
    negative_goal_l1: dict[str, list[float]] = field(default_factory=dict)  # per negative policy (over it)

    @property
    def demo_accuracy(self) -> float:
        """Share of demo replays counted as success."""
        return float((np.asarray(self.demo_goal_l1) <= self.threshold).mean())

    def accuracy(self, negative: str) -> float:
        """Share of a negative policy's replays counted as failure."""
        return float((np.asarray(self.negative_goal_l1[negative]) > self.threshold).mean())

    def auc(self, negative: str) -> float:
        """P(a demo replay ends closer to the goal than one of `negative`'s); 0.5 = no separation."""
        return _auc(np.asarray(self.demo_goal_l1), np.asarray(self.negative_goal_l1[negative]))

    def to_metadata(self) -> dict:
        """The summary a bundle's config.json keeps (the per-replay values stay out)."""
        d = {
            "threshold": self.threshold,
            "replays": len(self.demo_goal_l1),
            "demo_goal_l1_median": float(np.median(self.demo_goal_l1)),
            "demo_accuracy": self.demo_accuracy,
        }
        for name, values in self.negative_goal_l1.items():
            d[f"{name}_goal_l1_median"] = float(np.median(values))
            d[f"{name}_accuracy"] = self.accuracy(name)
            d[f"{name}_auc"] = self.auc(name)
        return d

    def describe(self) -> str:
        parts = [
            f"success threshold {self.threshold:.4f} (goal-token L1, {len(self.demo_goal_l1)} replays per policy)",
            f"demo replays: median {np.median(self.demo_goal_l1):.4f}, {self.demo_accuracy:.0%} count as success",
        ]
        for name, values in self.negative_goal_l1.items():
            parts.append(
                f"{name}: median {np.median(values):.4f}, {self.accuracy(name):.0%} count as failure, "
                f"AUC {self.auc(name):.2f}"
            )
        return "; ".join(parts)


def _auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """P(positive < negative) + 0.5 P(tie): the ROC AUC of -goal L1 (lower is better) for positives."""
    scores = torch.as_tensor(np.concatenate([-positives, -negatives]))
    labels = torch.cat([torch.ones(len(positives), dtype=torch.long), torch.zeros(len(negatives), dtype=torch.long)])
    return float(binary_auroc(scores, labels))


def best_threshold(positives: np.ndarray, negatives: np.ndarray) -> float:
    """The cut with the highest balanced accuracy (positives <= cut, negatives > cut), placed halfway between
    neighbouring values; among equal cuts, the middle one."""
    values = np.unique(np.concatenate([positives, negatives]))
    cuts = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    scores = np.array([(positives <= c).mean() + (negatives > c).mean() for c in cuts])
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return float(max(cuts[best[len(best) // 2]], 0.0))


@torch.no_grad()
def _replay(env: RLAWorldModelVectorEnv, bundle: Bundle, starts: np.ndarray, policy: str, seed: int) -> np.ndarray:
    """Goal L1 at the end of one episode per env, env i started at frame `starts[i]` of demo i and driven by
    `policy` ("demo", "hold" or "random"). With next-step autoreset an ended world only resets on the following
    step, so its values come back as they are."""
    n, k = env.num_envs, env.cfg.chunk_size
    demos = bundle.demos
    first, lengths = to_numpy(demos.episode_starts), to_numpy(demos.episode_lengths)
    low, high = demos.targets.min(0).values, demos.targets.max(0).values
    rng = torch.Generator().manual_seed(seed)
    env.reset(seed=seed, options={"demo": np.arange(n), "frame": starts})
    out = np.full(n, np.nan)
    for step in range(env.cfg.max_chunk_steps):
        if policy == "random":
            actions = low + (high - low) * torch.rand(n, k, low.shape[0], generator=rng)
        else:
            rows = []
            for i in range(n):
                t = int(starts[i]) + (np.zeros(k, int) if policy == "hold" else step * k + np.arange(k))
                rows.append(demos.targets[torch.as_tensor(first[i] + np.minimum(t, lengths[i] - 1))])
            actions = torch.stack(rows)
        _, _, terminated, truncated, info = env.step(actions)
        new = (to_numpy(terminated) | to_numpy(truncated)) & np.isnan(out)
        out[new] = to_numpy(info["goal_l1"])[new]
        if not np.isnan(out).any():
            break
    return out


def calibrate_success(
    bundle: Bundle,
    *,
    config: WorldModelEnvConfig | None = None,
    repeats: int = 4,
    seed: int = 0,
    device: str | torch.device = "cpu",
    max_demos: int | None = None,
) -> SuccessCalibration:
    """Replay every demo (or the first `max_demos`) `repeats` times (different flow noise) with its own targets,
    holding still and at random; the cut maximises balanced accuracy between the demo replays and all the others
    (each negative policy has as many replays as the demos, so each weighs the same)."""
    config = config or WorldModelEnvConfig()
    n = bundle.demos.num_episodes if max_demos is None else min(int(max_demos), bundle.demos.num_episodes)
    env = RLAWorldModelVectorEnv(
        num_envs=n, robot=bundle.robot, bundle=bundle, device=device, config=config, autoreset_mode="NextStep"
    )
    try:
        lengths = to_numpy(bundle.demos.episode_lengths)[:n]
        span = config.chunk_size * config.max_chunk_steps
        starts = np.maximum(lengths - 1 - span, 0)  # the episode ends at the demo's last frame

        def replays(policy: str) -> np.ndarray:
            return np.concatenate([_replay(env, bundle, starts, policy, seed + r) for r in range(repeats)])

        demo = replays("demo")
        negatives = {name: replays(name) for name in NEGATIVES}
    finally:
        env.close()
    cut = best_threshold(demo, np.concatenate(list(negatives.values())))
    return SuccessCalibration(cut, demo.tolist(), {k: v.tolist() for k, v in negatives.items()})
