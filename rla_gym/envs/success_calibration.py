"""Calibrate a bundle's world-model success threshold on its own demos.

The paper's threshold (goal-token L1 <= 0.032) is on DINOv3-L's token scale; a small CPU stack's tokens and
prediction errors are on another, and with it `info["success"]` is constant. So the threshold is measured
where the env uses it: each demo is replayed inside the world model from the frame whose episode ends at the
demo's last frame, once with the demo's own joint targets (a policy that does the task) and once holding the
first target (a policy that does nothing). The threshold is the value that best separates the two sets of
end-of-episode goal-token L1, and the separation (AUC, accuracies) says how much `info["success"]` can mean.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from rla_gym.envs.config import WorldModelEnvConfig
from rla_gym.envs.vector import RLAWorldModelVectorEnv
from rla_gym.models.bundle import Bundle


@dataclass
class SuccessCalibration:
    threshold: float  # goal-token L1 at or under which an episode end counts as success
    demo_goal_l1: list[float]  # end-of-episode goal L1 of the demo replays (should be under the threshold)
    hold_goal_l1: list[float]  # ... of the hold-still replays (should be over it)
    auc: float  # P(a demo replay ends closer to the goal than a hold-still replay); 0.5 = no separation
    demo_accuracy: float  # share of demo replays counted as success
    hold_accuracy: float  # share of hold-still replays counted as failure

    def to_metadata(self) -> dict:
        """The summary a bundle's config.json keeps (the per-replay lists stay out)."""
        d = asdict(self)
        for key in ("demo_goal_l1", "hold_goal_l1"):
            values = np.asarray(d.pop(key))
            d[f"{key.split('_')[0]}_goal_l1_median"] = float(np.median(values))
        d["replays"] = len(self.demo_goal_l1)
        return d

    def describe(self) -> str:
        d, h = np.median(self.demo_goal_l1), np.median(self.hold_goal_l1)
        return (
            f"success threshold {self.threshold:.4f} (goal-token L1): demo replays median {d:.4f}, hold-still "
            f"median {h:.4f}; AUC {self.auc:.2f}; {self.demo_accuracy:.0%} of demo replays count as success, "
            f"{self.hold_accuracy:.0%} of hold-still replays as failure ({len(self.demo_goal_l1)} each)"
        )


def _auc(positives: np.ndarray, negatives: np.ndarray) -> float:
    """P(positive < negative) + 0.5 P(tie): lower goal L1 is better."""
    less = (positives[:, None] < negatives[None, :]).mean()
    ties = (positives[:, None] == negatives[None, :]).mean()
    return float(less + 0.5 * ties)


def best_threshold(positives: np.ndarray, negatives: np.ndarray) -> float:
    """The cut with the highest balanced accuracy (positives <= cut, negatives > cut), placed halfway between
    neighbouring values; among equal cuts, the middle one."""
    values = np.unique(np.concatenate([positives, negatives]))
    cuts = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-6]])
    scores = np.array([(positives <= c).mean() + (negatives > c).mean() for c in cuts])
    best = np.flatnonzero(scores >= scores.max() - 1e-12)
    return float(max(cuts[best[len(best) // 2]], 0.0))


def _numpy(x) -> np.ndarray:
    return x.detach().cpu().numpy() if torch.is_tensor(x) else np.asarray(x)


@torch.no_grad()
def _replay(env: RLAWorldModelVectorEnv, bundle: Bundle, starts: np.ndarray, hold: bool, seed: int) -> np.ndarray:
    """Goal L1 at the end of one episode per env, env i started at frame `starts[i]` of demo i. With
    next-step autoreset an ended world only resets on the following step, so its values come back as they are."""
    n, k = env.num_envs, env.cfg.chunk_size
    demos = bundle.demos
    first, lengths = _numpy(demos.episode_starts), _numpy(demos.episode_lengths)
    env.reset(seed=seed, options={"demo": np.arange(n), "frame": starts})
    out = np.full(n, np.nan)
    for step in range(env.cfg.max_chunk_steps):
        rows = []
        for i in range(n):
            t = np.arange(k) * (0 if hold else 1) + int(starts[i]) + (0 if hold else step * k)
            rows.append(demos.targets[torch.as_tensor(first[i] + np.minimum(t, lengths[i] - 1))])
        _, _, terminated, truncated, info = env.step(torch.stack(rows))
        new = (_numpy(terminated) | _numpy(truncated)) & np.isnan(out)
        out[new] = _numpy(info["goal_l1"])[new]
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
) -> SuccessCalibration:
    """Replay every demo `repeats` times (different flow noise) with its own targets and holding still."""
    config = config or WorldModelEnvConfig()
    n = bundle.demos.num_episodes
    env = RLAWorldModelVectorEnv(
        num_envs=n, robot=bundle.robot, bundle=bundle, device=device, config=config, autoreset_mode="NextStep"
    )
    try:
        lengths = _numpy(bundle.demos.episode_lengths)
        span = config.chunk_size * config.max_chunk_steps
        starts = np.maximum(lengths - 1 - span, 0)  # the episode ends at the demo's last frame
        demo = np.concatenate([_replay(env, bundle, starts, False, seed + r) for r in range(repeats)])
        hold = np.concatenate([_replay(env, bundle, starts, True, seed + r) for r in range(repeats)])
    finally:
        env.close()
    cut = best_threshold(demo, hold)
    return SuccessCalibration(
        threshold=cut,
        demo_goal_l1=demo.tolist(),
        hold_goal_l1=hold.tolist(),
        auc=_auc(demo, hold),
        demo_accuracy=float((demo <= cut).mean()),
        hold_accuracy=float((hold > cut).mean()),
    )
