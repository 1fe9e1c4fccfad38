"""Training pairs (s_t, s_{t+h}) with the action chunk that drives the transition.

Which rows condition a transition (reference 4.4): the authors sample a window of H frames
t .. t+H-1 (target x_T = frame t+H-1), take the H target_qpos rows of those frames and drop the
last, keeping H-1 rows. With h = H-1 steps that is rows t .. t+h-1: the h absolute targets
commanded from frames t .. t+h-1, one per simulator step (frame t is the observation *before*
action t, 8.3). Row t+h is commanded *from* the target frame and cannot have shaped it. Here h counts
steps, so a pair is (frame t, frame t+h) with h rows. The released WM pads those rows into a buffer
of 15 (its `max_horizon`), so h <= 15; the authors trained with h <= 14 (H in [2, 15]).

Start frames follow the paper's bias (reference 3): with probability `interaction_prob` (0.9) the
start is drawn uniformly among the episode's interaction frames (`object_moved`) that leave room
for h steps, else uniformly among all valid starts. An episode is drawn with probability
proportional to its number of steps, i.e. a frame is drawn uniformly over the whole data set.
How the authors draw h within its range is unverified; here it is uniform.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from rla_gym.specs.robots import WM_ACTION_BUFFER

if TYPE_CHECKING:
    import torch

    from rla_gym.data.dataset import EpisodeDataset

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PairSamplerConfig:
    """Horizon range in steps (target frame = start + h) and the interaction bias."""

    min_horizon: int = 1
    max_horizon: int = 15  # the released RLA-WM's action buffer (max_horizon 15)
    interaction_prob: float = 0.9  # the authors' interaction_prob

    def __post_init__(self) -> None:
        if not 1 <= self.min_horizon <= self.max_horizon:
            raise ValueError(f"horizon range [{self.min_horizon}, {self.max_horizon}]; expected 1 <= min <= max")
        if not 0.0 <= self.interaction_prob <= 1.0:
            raise ValueError(f"interaction_prob is {self.interaction_prob}; expected a value in [0, 1]")


WORLD_MODEL = PairSamplerConfig(min_horizon=1, max_horizon=WM_ACTION_BUFFER)
RLA_AUTOENCODER = PairSamplerConfig(min_horizon=1, max_horizon=99)  # authors' H in [2, 100] frames


@dataclass(frozen=True)
class PairIndex:
    """Which pairs were drawn; all `(B,) int64`."""

    episode: np.ndarray
    t: np.ndarray  # start frame
    h: np.ndarray  # steps; the target is frame t + h


@dataclass
class PairBatch:
    """A batch of transitions.

    states_t / states_next: `(B, L, C)` float32 when the states are cached tokens (`tokens_t`), or
    `(B, H, W, 3)` uint8 when they are raw frames; states_next is frame t + h.
    actions: `(B, max_h, A)` float32, rows t .. t+h-1 of target_qpos, zeros after row h (A is the
    widest action among the episodes; narrower robots are zero padded on the right).
    lengths: `(B,)` int64 = h.  mask: `(B, max_h)` bool, True on the h real rows.
    """

    states_t: torch.Tensor
    states_next: torch.Tensor
    actions: torch.Tensor
    lengths: torch.Tensor
    mask: torch.Tensor
    index: PairIndex


class _Unavailable(Exception):
    def __init__(self, episode: int, cause: Exception) -> None:
        super().__init__(f"episode {episode}: {cause}")
        self.episode = episode


class PairSampler:
    """Draws pairs over a set of episodes; deterministic for a seed (one numpy Generator).

    `actions[i]` is episode i's target_qpos `(T_i, A_i)`; `interaction[i]` its `(T_i,)` bool flags.
    """

    def __init__(
        self,
        actions: Sequence[np.ndarray],
        interaction: Sequence[np.ndarray],
        config: PairSamplerConfig = WORLD_MODEL,
        seed: int = 0,
    ) -> None:
        if len(actions) != len(interaction):
            raise ValueError(f"{len(actions)} action arrays but {len(interaction)} interaction arrays")
        self.config = config
        self.rng = np.random.default_rng(seed)
        self.actions = [np.asarray(a, dtype=np.float32) for a in actions]
        self.lengths = np.array([a.shape[0] for a in self.actions], dtype=np.int64)
        self.action_dim = max((a.shape[1] for a in self.actions), default=0)
        self.interaction_frames = []
        for i, (a, flags) in enumerate(zip(self.actions, interaction)):
            flags = np.asarray(flags, dtype=bool)
            if flags.shape != (a.shape[0],):
                raise ValueError(f"episode {i}: interaction flags {flags.shape}; expected ({a.shape[0]},)")
            self.interaction_frames.append(np.flatnonzero(flags))
        steps = np.maximum(self.lengths - 1, 0)
        self._weights = np.where(steps >= config.min_horizon, steps, 0).astype(np.float64)
        if self._weights.sum() == 0:
            raise ValueError(
                f"no episode has the {config.min_horizon + 1} frames a pair needs "
                f"(lengths {self.lengths.tolist()[:10]})"
            )

    @classmethod
    def from_dataset(
        cls, dataset: EpisodeDataset, config: PairSamplerConfig = WORLD_MODEL, seed: int = 0
    ) -> PairSampler:
        headers = [dataset.header(i) for i in range(len(dataset))]
        return cls([h.target_qpos for h in headers], [h.object_moved for h in headers], config, seed)

    def exclude(self, episode: int) -> None:
        """Never draw this episode again (it failed to load)."""
        self._weights[episode] = 0.0
        if self._weights.sum() == 0:
            raise RuntimeError("every episode has been excluded; nothing left to sample")

    def sample_index(self, batch_size: int) -> PairIndex:
        cfg = self.config
        rng = self.rng
        episode = rng.choice(len(self.lengths), size=batch_size, p=self._weights / self._weights.sum())
        h = rng.integers(cfg.min_horizon, cfg.max_horizon + 1, size=batch_size)
        h = np.minimum(h, self.lengths[episode] - 1)  # feasible horizon in a short episode
        biased = rng.random(batch_size) < cfg.interaction_prob
        t = np.empty(batch_size, dtype=np.int64)
        for b in range(batch_size):
            last_start = self.lengths[episode[b]] - 1 - h[b]  # inclusive
            frames = self.interaction_frames[episode[b]]
            k = int(np.searchsorted(frames, last_start, side="right"))  # interaction starts that fit
            if biased[b] and k > 0:
                t[b] = frames[rng.integers(k)]
            else:
                t[b] = rng.integers(last_start + 1)
        return PairIndex(episode=episode.astype(np.int64), t=t, h=h.astype(np.int64))

    def sample(self, batch_size: int, states: Sequence[Any], max_retries: int = 8) -> PairBatch:
        """Draw and collate a batch; an episode whose states fail to load is excluded and redrawn."""
        last: Exception | None = None
        for _ in range(max_retries + 1):
            index = self.sample_index(batch_size)
            try:
                return self.collate(index, states)
            except _Unavailable as exc:
                logger.warning("excluding %s from sampling", exc)
                self.exclude(exc.episode)
                last = exc
        raise RuntimeError(f"could not assemble a batch after {max_retries} retries; last failure: {last}")

    def collate(self, index: PairIndex, states: Sequence[Any]) -> PairBatch:
        """Gather `states[e][t]`, `states[e][t + h]` and the action chunk for each drawn pair.

        `states[e]` is anything indexable by frame: tokens `(T, L, C)` or frames `(T, H, W, 3)`, as a
        torch tensor or a numpy array (e.g. in-memory tokens, or dataset frames).
        """
        import torch

        b, max_h = len(index.episode), self.config.max_horizon
        actions = np.zeros((b, max_h, self.action_dim), dtype=np.float32)
        first, second = [], []
        fetched: dict[int, Any] = {}
        for i, (e, t, h) in enumerate(zip(index.episode, index.t, index.h)):
            e, t, h = int(e), int(t), int(h)
            if e not in fetched:
                try:
                    fetched[e] = states[e]
                except Exception as exc:  # any load failure excludes the episode
                    raise _Unavailable(e, exc) from exc
            seq = fetched[e]
            if len(seq) != self.lengths[e]:
                raise ValueError(f"episode {e}: states have {len(seq)} frames; actions have {self.lengths[e]}")
            first.append(_row(seq, t))
            second.append(_row(seq, t + h))
            rows = self.actions[e][t : t + h]  # (h, A_e): the targets that drive frames t -> t+h
            actions[i, :h, : rows.shape[1]] = rows
        states_t, states_next = torch.stack(first), torch.stack(second)
        if states_t.is_floating_point():
            states_t, states_next = states_t.float(), states_next.float()
        lengths = torch.as_tensor(index.h, dtype=torch.int64)
        mask = torch.arange(max_h)[None, :] < lengths[:, None]
        return PairBatch(states_t, states_next, torch.from_numpy(actions), lengths, mask, index)


def _row(seq: Any, t: int) -> torch.Tensor:
    import torch

    row = seq[t]
    return row if isinstance(row, torch.Tensor) else torch.as_tensor(np.asarray(row))


class DatasetFrames(Sequence):
    """`frames[i]` = episode i's frames `(T, H, W, 3)` uint8, loaded through the dataset's cache."""

    def __init__(self, dataset: EpisodeDataset) -> None:
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        frames = self.dataset[index].frames
        assert frames is not None
        return frames
