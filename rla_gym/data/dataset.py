"""A folder tree of `traj_*` episodes (ours or the authors'), indexed once, frames loaded lazily.

Discovery reads only each `metadata.h5` (small) and checks the RGB stream exists, so a broken
folder is found and skipped up front, with a warning naming it, instead of failing a run hours in.
"""

from __future__ import annotations

import logging
import os
import re
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from rla_gym.data.episode import Episode, read_episode

logger = logging.getLogger(__name__)

TRAJ_DIR = re.compile(r"^traj_\d+$")


class EpisodeLoadError(RuntimeError):
    """An episode that passed discovery failed to load (e.g. a truncated video)."""


def find_episode_dirs(root: Path) -> list[Path]:
    """All `traj_<digits>` folders under `root` (itself included), sorted; hidden folders skipped. Symlinked folders
    are followed, so a root of links can combine tasks recorded elsewhere (the zoo trains its shared part on such a
    view) without copying them or mixing them into another root's token cache."""
    root = Path(root)
    if TRAJ_DIR.match(root.name) and root.is_dir():
        return [root]
    found: list[Path] = []
    for dirpath, dirnames, _ in os.walk(root, followlinks=True):
        keep = []
        for name in dirnames:
            if TRAJ_DIR.match(name):
                found.append(Path(dirpath) / name)
            elif not name.startswith("."):
                keep.append(name)
        dirnames[:] = sorted(keep)  # never descend into an episode (frame folders live there)
    return sorted(found)


class EpisodeDataset:
    """Episodes under `root` (a split root, a task folder with success/ and fail/, or a whole tree).

    `dataset[i]` is an `Episode` with frames (resized to `size` if given) and, where recorded, the
    foreground mask `episode.mask` (unless `with_mask=False`), kept in a small LRU cache of `cache_size`
    episodes; `dataset.header(i)` is the same without frames or mask, always in memory.
    """

    def __init__(
        self,
        root: Path,
        *,
        size: int | tuple[int, int] | None = None,
        camera: str | None = None,
        cache_size: int = 4,
        with_mask: bool = True,
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"episode root {self.root} is not a folder")
        self.size = size
        self.camera = camera
        self.with_mask = with_mask
        self.cache_size = max(0, int(cache_size))
        self._cache: OrderedDict[int, Episode] = OrderedDict()
        self.paths: list[Path] = []
        self.headers: list[Episode] = []
        self.skipped: list[Path] = []  # folders found broken, at discovery or at load
        for path in find_episode_dirs(self.root):
            try:
                header = read_episode(path, camera=camera, with_frames=False)
            except Exception as exc:  # any broken folder is skipped, never fatal
                logger.warning("skipping corrupt episode %s: %s", path, exc)
                self.skipped.append(path)
                continue
            self.paths.append(path)
            self.headers.append(header)
        if not self.paths:
            logger.warning("no readable traj_* episode under %s", self.root)

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> Episode:
        """The episode with frames; raises EpisodeLoadError (after a warning) if it cannot be read."""
        index = self._check(index)
        if index in self._cache:
            self._cache.move_to_end(index)
            return self._cache[index]
        path = self.paths[index]
        try:
            episode = read_episode(path, self.size, camera=self.camera, with_mask=self.with_mask)
        except Exception as exc:
            logger.warning("skipping corrupt episode %s: %s", path, exc)
            if path not in self.skipped:
                self.skipped.append(path)
            raise EpisodeLoadError(f"{path}: {exc}") from exc
        if self.cache_size:
            self._cache[index] = episode
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return episode

    def __iter__(self) -> Iterator[Episode]:
        """Loadable episodes in order; one that fails is warned about and skipped."""
        for i in range(len(self)):
            episode = self.load(i)
            if episode is not None:
                yield episode

    def load(self, index: int) -> Episode | None:
        """Like `dataset[i]`, but None (after a warning) for an episode that cannot be read."""
        try:
            return self[index]
        except EpisodeLoadError:
            return None

    def header(self, index: int) -> Episode:
        """The episode without frames (`frames is None`): actions, qpos, flags, task, robot."""
        return self.headers[self._check(index)]

    def key(self, index: int) -> str:
        """A stable name for the episode: its folder relative to the root, e.g. `success/traj_000003`."""
        path = self.paths[self._check(index)]
        rel = path.relative_to(self.root).as_posix()
        return path.name if rel == "." else rel

    @property
    def lengths(self) -> np.ndarray:
        """Frames per episode, `(N,) int64`."""
        return np.array([h.num_steps for h in self.headers], dtype=np.int64)

    def _check(self, index: int) -> int:
        n = len(self.paths)
        if not -n <= index < n:
            raise IndexError(f"episode index {index} out of range for {n} episodes")
        return index % n
