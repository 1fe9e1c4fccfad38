"""What decides the task, measured on held-out episodes for each dynamics of a bundle (RLA-WM, regression, copy):

- reconstruction and prediction object pixels (`object_pixels`): is the ball still there, in its colour;
- object positions read from tokens by a probe fitted on training episodes (`object_probe`), at t+10/20/30
  (copy-first = "the object did not move"), and success read from the predicted final tokens against the
  simulator's, as agreement;
- outcome discrimination (`outcome`) against counterfactual frames rendered by the simulator (`sim_outcomes`;
  optional: needs ManiSkill; skipped with the reason otherwise);
- sharpness and sample collapse (`sharpness`);
- `compare`: paired tests of two reports on the same episodes (a candidate against a baseline).

Episodes are read at their recorded size and resized to the stack's with antialiasing, the one frame pipeline.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rla_gym.data.dataset import EpisodeDataset
from rla_gym.data.episode import Episode, resize_masks
from rla_gym.data.video import resize_frames
from rla_gym.eval.object_pixels import object_pixels
from rla_gym.eval.object_probe import ObjectProbe, fit_probe, position_error_cm, success_from_positions, xy_positions
from rla_gym.eval.open_loop import rollout as open_loop_rollout
from rla_gym.eval.outcome import outcome_score
from rla_gym.eval.sharpness import sample_collapse, sharpness_ratio
from rla_gym.models.bundle import Bundle
from rla_gym.models.dynamics import Dynamics
from rla_gym.specs.tasks import SimTask, get_task

log = logging.getLogger(__name__)

HORIZONS = (10, 20, 30)  # steps: three chunks of 10 recorded targets, as the prediction benchmark rolls
CHUNK = 10


@dataclass(frozen=True)
class ObjectFidelityConfig:
    task: str = "RollBall"
    dynamics: tuple[str, ...] = ("rla-wm", "regression", "copy")
    draws: int = 4  # noise draws per rollout (outcome test and collapse)
    max_outcomes: int = 24  # held-out successes replayed for the outcome test
    seed: int = 0


@dataclass
class HeldoutEpisode:
    path: Path
    frames: np.ndarray  # (T, S, S, 3) uint8 at the stack's size
    labels: np.ndarray  # (T, S, S) uint8
    targets: np.ndarray  # (T, A)
    positions: np.ndarray  # (T, 2 N) objects' xy
    success: bool
    names: tuple[str, ...] = ()  # the task objects the labels and positions follow
    tokens: torch.Tensor | None = None  # (T, L, C)

    @property
    def visible(self) -> np.ndarray:
        """(T, N) bool: object k is seen in frame t. A ball that rolled off the table lies metres away, out of
        view: no probe can read its position from the image, so it is neither fitted nor scored there."""
        return np.stack([(self.labels == k + 1).any(axis=(1, 2)) for k in range(len(self.names))], axis=1)


def load_episodes(root: Path, size: int, limit: int | None = None) -> list[HeldoutEpisode]:
    """Episodes with task-object segmentation and poses under `root`, frames and labels at `size` px."""
    dataset = EpisodeDataset(root, cache_size=0)
    out = []
    for i in range(len(dataset)):
        ep: Episode = dataset[i]
        if ep.object_labels is None or ep.task_object_poses is None:
            raise ValueError(
                f"{dataset.paths[i]} has no task-object segmentation or poses: collect it again with this version"
            )
        out.append(
            HeldoutEpisode(
                dataset.paths[i],
                resize_frames(ep.frames, size),
                resize_masks(ep.object_labels, (size, size)),
                ep.target_qpos,
                xy_positions(ep.task_object_poses),
                ep.success,
                ep.object_names,
            )
        )
        if limit is not None and len(out) >= limit:
            break
    return out


def encode_all(bundle: Bundle, episodes: Sequence[HeldoutEpisode], batch: int = 64) -> None:
    with torch.no_grad():
        for ep in episodes:
            frames = torch.from_numpy(ep.frames)
            ep.tokens = torch.cat(
                [bundle.stack.encode(frames[i : i + batch]).cpu() for i in range(0, len(frames), batch)]
            )


def rollout(
    dynamics: Dynamics, start: torch.Tensor, targets: np.ndarray, draws: int, generator: torch.Generator
) -> list[torch.Tensor]:
    """Open loop (`open_loop.rollout`) from `start` (L, C) over `targets` (T, A) in chunks of CHUNK (the last may be
    shorter), `draws` noise draws at once -> the predicted tokens after each chunk, each (draws, L, C)."""
    device = dynamics.device
    chunks = [
        torch.as_tensor(targets[t : t + CHUNK], dtype=torch.float32, device=device)[None].expand(draws, -1, -1)
        for t in range(0, len(targets), CHUNK)
    ]
    starts = start.to(device)[None].expand(draws, *start.shape).contiguous()
    return [step.cpu() for step in open_loop_rollout(dynamics, starts, chunks, generator=generator).unbind(1)]


@dataclass
class ObjectFidelityReport:
    task: str
    reconstruction: list[dict[str, Any]]  # per object
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # dynamics name -> metrics
    probe: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "reconstruction": self.reconstruction,
            "models": self.models,
            "probe": self.probe,
            "notes": self.notes,
        }


def fit_task_probe(train: Sequence[HeldoutEpisode]) -> ObjectProbe:
    """The probe on the encoded training frames (`encode_all`) where every task object is in view."""
    seen = np.concatenate([ep.visible.all(1) for ep in train])
    tokens = torch.cat([ep.tokens for ep in train])[torch.from_numpy(seen)]
    pos = torch.from_numpy(np.concatenate([ep.positions for ep in train])[seen])
    groups = np.concatenate([np.full(len(ep.positions), i) for i, ep in enumerate(train)])[seen]
    return fit_probe(tokens, pos, groups)


def sim_outcomes(
    task: str, robot: str, size: int
) -> Callable[[HeldoutEpisode], tuple[np.ndarray, np.ndarray, bool]] | None:
    """`measure`'s `outcomes`: the simulator's (real, counterfactual, success) per held-out episode at the stack's
    `size`, replayed from the episode's seed; None (and a warning saying why) where ManiSkill cannot render."""
    from rla_gym.sim.vulkan import vulkan_problem

    problem = vulkan_problem("cpu")
    if problem is not None:
        log.warning("outcome test skipped: %s", problem)
        return None
    from rla_gym.data.split_metadata import episode_seed
    from rla_gym.sim.counterfactual import replay_outcome
    from rla_gym.sim.make import make_sim_env

    env = make_sim_env(robot, task, size=128, obs_mode="rgb", max_episode_steps=100_000)

    def outcome(ep: HeldoutEpisode) -> tuple[np.ndarray, np.ndarray, bool]:
        o = replay_outcome(env, task, episode_seed(ep.path), ep.targets[:-1])
        frames = resize_frames(np.stack([o.real, o.counterfactual]), size)
        return frames[0], frames[1], o.success

    return outcome


def _masked(errors: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """Per-object errors (N,) with NaN where the object is out of view."""
    return np.where(visible, errors, np.nan)


def _windows(episodes: Sequence[HeldoutEpisode]) -> list[tuple[int, int]]:
    """(episode, t0) starts with room for 30 steps: the start, and 10 steps before the object first moves."""
    out = []
    for i, ep in enumerate(episodes):
        moved = np.flatnonzero(np.abs(np.diff(ep.positions, axis=0)).max(1) > 2e-3)
        starts = {0} | ({max(0, int(moved[0]) - 10)} if len(moved) else set())
        out += [(i, t0) for t0 in sorted(starts) if t0 + HORIZONS[-1] < len(ep.targets)]
    return out


def measure(
    bundle: Bundle,
    heldout: Sequence[HeldoutEpisode],
    probe: ObjectProbe,
    config: ObjectFidelityConfig,
    outcomes: Callable[[HeldoutEpisode], tuple[np.ndarray, np.ndarray, bool]] | None = None,
) -> ObjectFidelityReport:
    """The report (see the module docstring). `outcomes(ep)` -> (real final frame, counterfactual frame, success),
    both at the stack's size, for held-out successes (None: no simulator, the outcome test is skipped)."""
    task: SimTask = get_task(config.task)
    names = heldout[0].names
    n_obj = len(names)
    distance = task.success_distance if names == task.objects else None
    stack = bundle.stack
    with torch.no_grad():
        frames = np.concatenate([ep.frames for ep in heldout])
        labels = np.concatenate([ep.labels for ep in heldout])
        recon = torch.cat([stack.render(ep.tokens.to(stack.device)).cpu() for ep in heldout]).numpy()
    report = ObjectFidelityReport(config.task, [o.row() for o in object_pixels(frames, recon, labels, names)])
    real_pos = torch.from_numpy(np.concatenate([ep.positions for ep in heldout]))
    real_tok = torch.cat([ep.tokens for ep in heldout])
    real_seen = np.concatenate([ep.visible for ep in heldout])
    real_err = _masked(position_error_cm(probe(real_tok), real_pos, n_obj), real_seen)
    report.probe = {
        "ridge": probe.ridge,
        "real_tokens_error_cm": np.nanmean(real_err, 0).tolist(),
        "frames_in_view": real_seen.mean(0).tolist(),
    }

    windows = _windows(heldout)
    cf_cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    successes = [i for i, ep in enumerate(heldout) if ep.success][: config.max_outcomes]
    if outcomes is None:
        report.notes.append("outcome test not measured: no simulator (ManiSkill with a Vulkan driver) here")
    else:
        for i in successes:
            real_frame, cf_frame, sim_success = outcomes(heldout[i])
            if not sim_success:
                report.notes.append(f"{heldout[i].path.name}: the replay did not succeed; left out of the outcome test")
                continue
            with torch.no_grad():
                enc = stack.encode(torch.from_numpy(np.stack([real_frame, cf_frame]))).cpu()
            cf_cache[i] = (enc[0], enc[1])

    for name in config.dynamics:
        try:
            dyn = bundle.dynamics(name)
        except Exception as err:  # a bundle without the regression baseline: say so, measure the rest
            report.notes.append(f"{name}: not measured ({err})")
            continue
        gen = torch.Generator().manual_seed(config.seed)
        draws = config.draws if dyn.noise_shape is not None else 1
        metrics: dict[str, Any] = {}
        # windows: token L1, probe position error, object pixels and sharpness at t+30, collapse
        errs = {h: [] for h in HORIZONS}
        copy_errs = {h: [] for h in HORIZONS}
        still_errs = {h: [] for h in HORIZONS}
        l1 = {h: [] for h in HORIZONS}
        pred30, real30, frames30, labels30, samples30 = [], [], [], [], []
        for i, t0 in windows:
            ep = heldout[i]
            steps = rollout(dyn, ep.tokens[t0], ep.targets[t0 : t0 + HORIZONS[-1]], draws, gen)
            for h, tok in zip(HORIZONS, steps):
                true = torch.from_numpy(ep.positions[t0 + h])[None]
                seen = ep.visible[t0 + h]
                errs[h].append(_masked(position_error_cm(probe(tok[:1]), true, n_obj)[0], seen))
                copy_errs[h].append(_masked(position_error_cm(probe(ep.tokens[t0][None]), true, n_obj)[0], seen))
                start = torch.from_numpy(ep.positions[t0])[None]
                still_errs[h].append(_masked(position_error_cm(start, true, n_obj)[0], seen))
                l1[h].append(float((tok[:1] - ep.tokens[t0 + h]).abs().mean()))
            pred30.append(steps[-1][0])
            samples30.append(steps[-1])
            real30.append(ep.tokens[t0 + HORIZONS[-1]])
            frames30.append(ep.frames[t0 + HORIZONS[-1]])
            labels30.append(ep.labels[t0 + HORIZONS[-1]])
        metrics["windows"] = len(windows)
        metrics["token_l1"] = {f"t+{h}": float(np.mean(l1[h])) for h in HORIZONS}
        # means over the windows whose object is in view at t0 + h (NaN kept per window for paired tests)
        metrics["probe_error_cm"] = {f"t+{h}": np.nanmean(errs[h], 0).tolist() for h in HORIZONS}
        metrics["per_window_object0_error_cm_t+30"] = [float(e[0]) for e in errs[HORIZONS[-1]]]
        metrics["probe_error_cm_copy_tokens"] = {f"t+{h}": np.nanmean(copy_errs[h], 0).tolist() for h in HORIZONS}
        metrics["object_did_not_move_cm"] = {f"t+{h}": np.nanmean(still_errs[h], 0).tolist() for h in HORIZONS}
        with torch.no_grad():
            renders = stack.render(torch.stack(pred30).to(stack.device)).cpu()
            real_renders = stack.render(torch.stack(real30).to(stack.device)).cpu()
        pix = object_pixels(np.stack(frames30), renders.numpy(), np.stack(labels30), names)
        metrics["object_pixels_t+30"] = [o.row() for o in pix]
        metrics["sharpness_t+30"] = sharpness_ratio(
            renders.permute(0, 3, 1, 2) / 255, real_renders.permute(0, 3, 1, 2) / 255
        )
        if draws > 1:
            metrics["collapse_t+30"] = sample_collapse(torch.stack(samples30, 1), torch.stack(real30))
        # whole episodes from frame 0: success read by the probe; the outcome test on the replayed successes
        agree, resolved_pred, reals, cfs = [], [], [], []
        for i, ep in enumerate(heldout):
            steps = rollout(dyn, ep.tokens[0], ep.targets[: len(ep.targets) - 1], draws, gen)
            final = steps[-1]  # (draws, L, C): predicted frame T - 1
            if distance is not None:
                read = success_from_positions(probe(final[:1]), distance, 0, n_obj - 1)[0]
                agree.append(bool(read) == ep.success)
            if i in cf_cache:
                resolved_pred.append(final)
                reals.append(cf_cache[i][0])
                cfs.append(cf_cache[i][1])
        if agree:
            metrics["probe_success_agreement"] = float(np.mean(agree))
        if resolved_pred:
            score = outcome_score(torch.stack(resolved_pred), torch.stack(reals), torch.stack(cfs))
            metrics["outcome"] = {**score.summary(), "per_rollout": score.resolved.tolist()}
        report.models[name] = metrics
    if distance is not None:
        real_final = torch.stack([ep.tokens[-1] for ep in heldout])
        read = success_from_positions(probe(real_final), distance, 0, n_obj - 1)
        report.probe["success_agreement_real_tokens"] = float(np.mean(read == np.array([ep.success for ep in heldout])))
    return report


def compare(report: dict, baseline: dict) -> list[str]:
    """Paired tests of each model against the same model in `baseline` (both `ObjectFidelityReport.to_dict()` of
    the same episodes, windows and draws): outcome resolved per episode, its noise draws averaged (the draws of one
    episode share its scene: they are not independent units; higher is better), and the first object's probed
    error at t+30 per window (lower is better; windows where either run's object is out of view left out)."""
    from rla_gym.eval.paired import paired_signed_rank

    lines = []
    for name, m in report["models"].items():
        base = baseline.get("models", {}).get(name)
        if base is None:
            continue
        ours_o, theirs_o = m.get("outcome", {}), base.get("outcome", {})
        episodes = ours_o.get("episodes") or theirs_o.get("episodes")
        pairs = [
            ("outcome resolved", _per_episode(ours_o, episodes), _per_episode(theirs_o, episodes), 1),
            ("object error t+30", m.get("per_window_object0_error_cm_t+30"), base.get("per_window_object0_error_cm_t+30"), -1),
        ]  # fmt: skip
        for label, ours, theirs, sign in pairs:
            if ours is None or theirs is None or len(ours) != len(theirs):
                continue
            ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
            keep = ~(np.isnan(ours) | np.isnan(theirs))
            ours, theirs = ours[keep], theirs[keep]
            result = paired_signed_rank(sign * ours, sign * theirs)
            lines.append(
                f"{name}, {label}: {float(np.mean(ours)):.3f} vs baseline {float(np.mean(theirs)):.3f}: "
                + result.verdict(a="this run", b="the baseline")
            )
    return lines


def _per_episode(outcome: dict, episodes: float | None) -> np.ndarray | None:
    """A report's per-rollout outcome (episode-major) averaged over each episode's draws; None without it."""
    rollouts = outcome.get("per_rollout")
    if rollouts is None or not episodes or len(rollouts) % int(episodes):
        return None
    return np.asarray(rollouts, float).reshape(int(episodes), -1).mean(1)
