"""Collect scripted ManiSkill demonstrations into the paper's on-disk layout (resumable, optionally parallel).

    rla-gym collect --robot ur10e --task RollBall --episodes 100 --size 128 --out data/demos

writes `OUT/<robot uid>/<paper task id>/<success|fail>/traj_XXXXXX/` (reference 8.3) plus each split's
`metadata.json`. Episode `i` is a fixed function of (seed, i): its ManiSkill seed is `seed + i` and
every `fail_every`-th episode runs the script's failure mode (the paper's 2:1 success:fail). A rerun
keeps finished episodes and redoes only missing ones; a folder that does not read back is moved
aside (hidden, `.traj_XXXXXX.corrupt`) and redone. Workers are processes, each owning one env.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from rla_gym.data.episode import METADATA_H5, write_episode
from rla_gym.data.split_metadata import read_split_metadata, write_split_metadata
from rla_gym.data.video import count_frames, find_rgb_stream
from rla_gym.sim.scripted.base import ScriptConfig
from rla_gym.sim.scripted.record import (
    COLLECT_MAX_STEPS,
    COLLECT_OBS_MODE,
    RecordConfig,
    has_segmentation,
    record_episode,
)
from rla_gym.specs.cameras import FRONT_CAMERA
from rla_gym.specs.robots import RobotSpec
from rla_gym.specs.seeds import TRAIN_SEED_BASE, describe_overlap
from rla_gym.specs.tasks import SimTask, check_pair

logger = logging.getLogger(__name__)

SPLITS = ("success", "fail")


@dataclass(frozen=True)
class CollectConfig:
    """One collection run. `fail_every`: every n-th episode (ids n-1, 2n-1, ...) uses the failure mode; 0: none.
    Seeds `seed .. seed + episodes - 1` must not overlap the evaluation ranges (`rla_gym.specs.seeds`) unless
    `allow_eval_seeds`: a policy scored on scenes its world model or BC trained on says nothing."""

    robot: str
    task: str
    episodes: int
    out: Path
    size: int = 128
    seed: int = TRAIN_SEED_BASE
    workers: int = 1
    fail_every: int = 3
    allow_eval_seeds: bool = False
    record: RecordConfig = field(default_factory=RecordConfig)
    script: ScriptConfig = field(default_factory=ScriptConfig)

    def __post_init__(self) -> None:
        check_pair(self.robot, self.task)  # ValueError naming the valid robots / tasks
        if self.episodes < 0:
            raise ValueError(f"episodes must be >= 0; got {self.episodes}")
        if self.workers < 1:
            raise ValueError(f"workers must be >= 1; got {self.workers}")
        if self.size < 16 or self.size % 2:
            raise ValueError(f"size must be an even number of pixels >= 16 (H.264 video); got {self.size}")
        if self.fail_every < 0:
            raise ValueError(f"fail_every must be >= 0; got {self.fail_every}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0; got {self.seed}")
        overlap = describe_overlap(self.seed, self.episodes)
        if overlap and not self.allow_eval_seeds:
            raise ValueError(overlap)
        if overlap:
            logger.warning("%s: collecting evaluation scenes on purpose (allow_eval_seeds)", overlap.split(";")[0])
        _check_out_folder(Path(self.out))

    @property
    def spec(self) -> RobotSpec:
        return check_pair(self.robot, self.task)[0]

    @property
    def sim_task(self) -> SimTask:
        return check_pair(self.robot, self.task)[1]

    @property
    def root(self) -> Path:
        """`OUT/<robot uid>/<paper task id>`, the folder holding `success/` and `fail/`."""
        return Path(self.out) / self.spec.maniskill_uid / self.sim_task.paper_id

    def is_fail_slot(self, traj_id: int) -> bool:
        return self.fail_every > 0 and traj_id % self.fail_every == self.fail_every - 1

    def episode_seed(self, traj_id: int) -> int:
        return self.seed + traj_id


def _check_out_folder(out: Path) -> None:
    """`out` must be a folder or creatable as one: a file there (or above it) would fail only at mkdir."""
    for path in (out, *out.parents):
        if path.exists():
            if not path.is_dir():
                where = "is" if path == out else f"lies under {path}, which is"
                raise ValueError(f"out {out} {where} a file; expected a folder (existing or new) for the dataset")
            return


@dataclass(frozen=True)
class EpisodeResult:
    traj_id: int
    success: bool
    num_steps: int
    seconds: float


@dataclass
class CollectReport:
    """What a run did: `new` episodes recorded now, `kept` ones (ids asked for) found finished on disk,
    `beyond` finished ones with ids past this run's `--episodes` (id -> success). The success rate
    counts every finished episode in the folder, not only the ids this run asked for."""

    root: Path
    new: list[EpisodeResult]
    kept: dict[int, bool]
    seconds: float
    corrupt: list[Path] = field(default_factory=list)
    beyond: dict[int, bool] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return sum(r.num_steps for r in self.new)

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def episodes_per_minute(self) -> float:
        return 60.0 * len(self.new) / self.seconds if self.seconds > 0 else 0.0

    @property
    def successes(self) -> int:
        """Successful episodes on disk after the run (new, kept and beyond)."""
        return sum(r.success for r in self.new) + sum(self.kept.values()) + sum(self.beyond.values())

    @property
    def total(self) -> int:
        """Finished episodes on disk after the run."""
        return len(self.new) + len(self.kept) + len(self.beyond)

    @property
    def success_rate(self) -> float:
        return self.successes / self.total if self.total else 0.0

    def summary(self) -> str:
        new_ok = sum(r.success for r in self.new)
        more = f", {len(self.beyond)} more with higher ids" if self.beyond else ""
        lines = [
            f"{self.root}: {len(self.new)} new episodes, {len(self.kept)} already on disk{more}",
            f"throughput: {self.frames} frames in {self.seconds:.1f} s = {self.frames_per_second:.1f} frames/s, "
            f"{self.episodes_per_minute:.1f} episodes/min",
            f"success rate ({self.root.name}): {100 * self.success_rate:.1f} % ({self.successes}/{self.total} on disk; "
            f"{new_ok}/{len(self.new)} of this run)",
        ]
        if self.corrupt:
            lines.append(f"moved aside {len(self.corrupt)} corrupt folders: {', '.join(p.name for p in self.corrupt)}")
        return "\n".join(lines)


# -- what is on disk --------------------------------------------------------------------------- #


def episode_is_complete(path: Path) -> bool:
    """A cheap check that `traj_*` reads back: metadata.h5 opens with a target_qpos of num_steps rows
    and the front camera's RGB stream is whole with that many frames (read from the video's index,
    not decoded), so a truncated video is recorded again."""
    try:
        import h5py

        with h5py.File(path / METADATA_H5, "r") as f:
            rows = f["target_qpos"].shape[0]
            if int(f.attrs.get("num_steps", rows)) != rows or rows == 0:
                return False
        stream = find_rgb_stream(path, FRONT_CAMERA)
        return stream is not None and count_frames(stream) == rows
    except (OSError, KeyError, ValueError):
        return False


def scan_finished(root: Path) -> tuple[dict[int, bool], list[Path]]:
    """Finished episodes under `root` (traj id -> success); broken `traj_*` folders are moved aside."""
    finished: dict[int, bool] = {}
    corrupt: list[Path] = []
    for split in SPLITS:
        folder = root / split
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("traj_*")):
            suffix = path.name[len("traj_") :]
            if not (path.is_dir() and suffix.isdigit()):
                continue
            if episode_is_complete(path):
                finished[int(suffix)] = split == "success"
                continue
            aside = path.with_name(f".{path.name}.corrupt")
            if aside.exists():
                shutil.rmtree(aside)
            path.rename(aside)
            corrupt.append(aside)
            logger.warning("%s does not read back; moved it to %s and will record it again", path, aside.name)
    return finished, corrupt


def write_metadata(config: CollectConfig) -> None:
    """Each split's `metadata.json`; refuses to mix frame sizes in one folder."""
    from rla_gym.sim.robots.maniskill_agents import agent_class

    cls = agent_class(config.spec)
    joints = list(getattr(cls, "arm_joint_names", []) or []) + list(getattr(cls, "gripper_joint_names", []) or [])
    urdf = cls.generated_urdf_path() if hasattr(cls, "generated_urdf_path") else getattr(cls, "urdf_path", None) or ""
    extra = {
        "task": config.sim_task.name,
        "env_id": config.sim_task.env_id,
        "source": "scripted",
        "seed": config.seed,  # episode i ran ManiSkill seed `seed + i`: replays start from the same scene
        "camera": FRONT_CAMERA,
        "size": config.size,
    }
    for split in SPLITS:
        previous = (read_split_metadata(config.root / split) or {}).get("rla_gym", {})
        if previous.get("size") not in (None, config.size):
            raise ValueError(
                f"{config.root / split} holds {previous['size']} px episodes; this run asks for {config.size} px. "
                "Use another --out or the same --size."
            )
        write_split_metadata(config.root / split, config.spec, extra=extra, urdf_path=str(urdf), joint_names=joints)


# -- recording --------------------------------------------------------------------------------- #


def _single_thread() -> None:
    """The CPU simulator's small per-step tensors only pay for torch's thread hand-offs."""
    import torch

    torch.set_num_threads(1)


def collect_one(env, script, config: CollectConfig, traj_id: int) -> EpisodeResult:
    """Record episode `traj_id` and write it into its split; returns what happened."""
    start = time.perf_counter()
    episode = record_episode(
        env,
        script,
        config.episode_seed(traj_id),
        fail=config.is_fail_slot(traj_id),
        rng=_script_rng(config, traj_id),
        config=config.record,
    )
    split = config.root / ("success" if episode.success else "fail")
    write_episode(split, traj_id, episode, overwrite=True)
    return EpisodeResult(traj_id, episode.success, episode.num_steps, time.perf_counter() - start)


def _script_rng(config: CollectConfig, traj_id: int):
    import numpy as np

    return np.random.default_rng([config.seed, traj_id])


_WORKER: dict = {}


def make_collect_env(config: CollectConfig):
    """The simulator env a collection records from: segmentation on (the foreground mask), and a time
    limit that lets a failure run the authors' 150 steps."""
    from rla_gym.sim.make import make_sim_env

    limit = config.record.max_steps or COLLECT_MAX_STEPS
    return make_sim_env(config.robot, config.task, size=config.size, obs_mode=COLLECT_OBS_MODE, max_episode_steps=limit)


def _init_worker(config: CollectConfig) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from rla_gym.sim.scripted import make_script

    _single_thread()
    _WORKER["env"] = make_collect_env(config)
    _WORKER["script"] = make_script(config.task, config.script)
    _WORKER["config"] = config


def _worker_collect(traj_id: int) -> EpisodeResult:
    return collect_one(_WORKER["env"], _WORKER["script"], _WORKER["config"], traj_id)


def collect(config: CollectConfig, env=None, progress: bool = True) -> CollectReport:
    """Run a collection (see the module docstring). `env`: an env of this robot/task/size to reuse
    (serial runs only; tests); otherwise each process makes its own."""
    from tqdm.auto import tqdm

    if env is not None and not has_segmentation(env):
        raise ValueError(
            f"the env given to collect observes {env.unwrapped.obs_mode!r}; expected segmentation for the "
            f"foreground mask: make it with obs_mode={COLLECT_OBS_MODE!r} (or let collect make it)"
        )
    start = time.perf_counter()
    config.root.mkdir(parents=True, exist_ok=True)
    write_metadata(config)
    finished, corrupt = scan_finished(config.root)
    kept = {i: ok for i, ok in finished.items() if i < config.episodes}
    beyond = {i: ok for i, ok in finished.items() if i >= config.episodes}
    todo = [i for i in range(config.episodes) if i not in kept]
    if kept:
        logger.info(
            "%s: %d of %d episodes already recorded; %d to go", config.root, len(kept), config.episodes, len(todo)
        )
    results: list[EpisodeResult] = []
    bar = tqdm(total=len(todo), desc=f"collect {config.task}", unit="ep", disable=not progress or not todo)

    def done(result: EpisodeResult) -> None:
        results.append(result)
        ok = sum(r.success for r in results)
        bar.set_postfix(success=f"{ok}/{len(results)}", steps=result.num_steps)
        bar.update(1)

    try:
        if todo and (config.workers == 1 or env is not None):
            from rla_gym.sim.scripted import make_script

            _single_thread()
            own = env is None
            env = env if env is not None else make_collect_env(config)
            script = make_script(config.task, config.script)
            try:
                for traj_id in todo:
                    done(collect_one(env, script, config, traj_id))
            finally:
                script.close()
                if own:
                    env.close()
        elif todo:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            workers = min(config.workers, len(todo))
            ctx = mp.get_context("spawn")  # SAPIEN / Vulkan state must not be forked
            with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(config,)) as pool:
                futures = [pool.submit(_worker_collect, i) for i in todo]
                try:
                    for future in as_completed(futures):
                        done(future.result())
                except BaseException:
                    pool.shutdown(wait=False, cancel_futures=True)
                    raise
    finally:
        bar.close()
    results.sort(key=lambda r: r.traj_id)
    return CollectReport(config.root, results, kept, time.perf_counter() - start, corrupt, beyond)
