"""One play session: a world-model world and, when the simulator runs, a ManiSkill env, driven by the same chunks.

    env = RLAWorldModelVectorEnv(robot="ur10e", autoreset_mode="Disabled")  # one world, the embedded default
    session = PlaySession(env, sim=ManiSkillWorld("ur10e", "RollBall", 128))
    session.start("demo", demo=0, frame=0, seed=0)
    session.step(targets)  # (A,) joint targets held for one chunk of K rows, in both worlds
    session.act("bc")      # the BC policy's chunk (it sees the ManiSkill frame through encoder -> UNet, as in
                           # evaluation; the world model's frame when there is no simulator)
    session.save_video()   # ManiSkill (or the demo's time-synced frame) | world model, one frame per chunk

The world model steps through the env itself, so reward, goal error, success and whatever else the env's info
carries (an `uncertainty`, where the env offers one) are the env's numbers. A start is a demo frame (the world model
starts from it; ManiSkill replays the demo's targets up to that frame in the scene of `seed`: the bundle does not
record which scene a demo came from, so the arm matches and the objects may not) or a ManiSkill scene (`seed`; the
world model starts from the simulator's frame, rewarded against the chosen demo). Bad requests raise `PlayError`,
whose message the page shows; a refused request changes nothing. `TabLock` keeps one browser tab per session."""

from __future__ import annotations

import logging
import math
import numbers
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rla_gym.envs.vector import RLAWorldModelVectorEnv
from rla_gym.eval.policies import Policy, make_policy
from rla_gym.eval.recording import write_side_by_side
from rla_gym.play.simulator import ManiSkillWorld, SimFrame
from rla_gym.sim.evaluate import stack_preprocess
from rla_gym.specs.robots import RobotSpec

log = logging.getLogger(__name__)

START_KINDS = ("demo", "seed")  # a demo frame, or a ManiSkill scene
SOURCES = ("keys", "hold", "demo", "bc", "rl")  # where a chunk came from: the page's targets, or a policy
TAB_TIMEOUT_S = 20.0  # a tab not heard from for this long (the page pings every 5 s) gives the session up
VIDEO_FPS = 4.0
VIDEO_MIN_SIZE = 256  # world-model frames are upscaled (whole pixels) to at least this size in the video


class PlayError(ValueError):
    """A request the session refuses; the message is what the page shows, and nothing has changed."""


# ---------------------------------------------------------------------------------------------- one tab
class TabLock:
    """One browser tab holds a session. Another tab is refused, unless it takes the session over (the first tab is
    then told so on its next request) or the holder has not been heard from for `timeout_s` (a closed tab)."""

    def __init__(self, timeout_s: float = TAB_TIMEOUT_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s, self.clock = timeout_s, clock
        self.holder: str | None = None
        self._seen = 0.0
        self._ousted: set[str] = set()

    def claim(self, tab: str, take_over: bool = False) -> None:
        _check_tab(tab)
        now = self.clock()
        free = self.holder in (None, tab) or now - self._seen > self.timeout_s
        if not free and not take_over:
            raise PlayError(
                "this session is open in another browser tab: use that one, or press Take over here "
                "(the other tab then stops)"
            )
        if self.holder not in (None, tab):
            self._ousted.add(self.holder)
        self._ousted.discard(tab)
        self.holder, self._seen = tab, now

    def check(self, tab: str) -> None:
        """Refuse a request from a tab that does not hold the session; a request from the holder keeps it alive."""
        _check_tab(tab)
        if tab != self.holder:
            if tab in self._ousted:
                raise PlayError("another browser tab took this session over; press Take over to take it back")
            raise PlayError("this tab does not hold the session; reload the page or press Take over")
        self._seen = self.clock()

    def release(self, tab: str) -> None:
        if tab == self.holder:
            self.holder = None


def _check_tab(tab: object) -> None:
    if not isinstance(tab, str) or not 8 <= len(tab) <= 64:
        raise PlayError(f"a request must name its tab (a token of 8-64 characters); got {tab!r}")


# ---------------------------------------------------------------------------------------------- one chunk
@dataclass
class Outcome:
    """What one chunk did, in both worlds."""

    source: str  # one of SOURCES
    reward: float  # the env's reward
    reward_l1: float  # token L1 to the reward's reference frame
    goal_l1: float  # token L1 to the demo's last frame
    success: bool  # the env's success (only a finished episode succeeds)
    uncertainty: float | None  # info["uncertainty"], where the env offers one
    clipped: int  # targets the env clipped into the joint limits (a policy's chunk)
    sim_reward: float | None  # ManiSkill's reward summed over the chunk (None: no simulator)
    sim_success: bool | None  # ManiSkill's own success after the chunk
    ms: dict[str, float] = field(default_factory=dict)  # latency: policy, world_model, simulator, total


class PlaySession:
    """See the module docstring. `env`: a one-world `RLAWorldModelVectorEnv` with autoreset "Disabled" (the session
    ends episodes); `sim`: a `ManiSkillWorld` of the same robot and task, or None with `sim_note` saying why;
    `policies`: kind -> folder to load on first use ("bc", "rl"); videos go to `out`."""

    def __init__(
        self,
        env: RLAWorldModelVectorEnv,
        sim: ManiSkillWorld | None = None,
        sim_note: str | None = None,
        policies: dict[str, Path | None] | None = None,
        out: Path = Path("out/play"),
    ) -> None:
        if env.num_envs != 1:
            raise ValueError(f"a play session drives one world; the env has num_envs={env.num_envs}")
        self.env, self.sim, self.out = env, sim, Path(out)
        self.sim_note = sim_note if sim is None else None
        self.spec: RobotSpec = env.robot
        self.k: int = env.cfg.chunk_size
        self.low = np.asarray(self.spec.action_low, np.float32)
        self.high = np.asarray(self.spec.action_high, np.float32)
        self.policy_paths: dict[str, Path | None] = {"bc": None, "rl": None, **(policies or {})}
        self._policies: dict[str, Policy] = {}
        self.lock = TabLock()
        self.videos: list[Path] = []
        self.start_options: dict[str, Any] = {}
        self.targets = np.zeros(self.spec.action_dim, np.float32)
        self.wm_frame: np.ndarray | None = None  # (S, S, 3) the world model's current frame
        self.sim_frame: SimFrame | None = None
        self.last: Outcome | None = None
        self.ended: str | None = None  # why the episode ended; steps are refused until the next start
        self.chunks = 0
        self.rewards: list[float] = []
        self.reference: tuple[int, int] | None = None  # (demo, frame) the reward compares the next chunk with
        self._video: list[tuple[np.ndarray, np.ndarray]] = []  # (left: sim or demo frame, world model) per chunk

    # ------------------------------------------------------------------ starts
    def start(self, kind: str = "demo", demo: Any = 0, frame: Any = 0, seed: Any = 0) -> None:
        """Start from demo `demo` at `frame` (kind "demo") or from ManiSkill's scene `seed` (kind "seed", rewarded
        against `demo`); `seed` also seeds the world model's flow noise."""
        if kind not in START_KINDS:
            raise PlayError(f"start: expected one of {', '.join(START_KINDS)}; got {kind!r}")
        demo, frame, seed = _count("demo", demo), _count("frame", frame), _count("seed", seed)
        if kind == "seed" and self.sim is None:
            raise PlayError(f"a ManiSkill start needs the simulator, and it is off here: {self.sim_note}")
        ref = self.env.reference
        options = {"demo": demo, "frame": frame if kind == "demo" else 0}
        try:  # the env checks demo and frame first: a refusal changes nothing
            obs, _ = self.env.reset(seed=seed, options=options)
        except ValueError as err:
            raise PlayError(f"start: {err}") from None
        first = int(ref.starts[demo])
        if kind == "demo":
            sim = self.sim.reset(seed, ref.targets[first : first + frame].cpu().numpy()) if self.sim else None
            wm = obs[0].cpu().numpy()
            qpos = ref.qpos[first + frame].cpu().numpy()
        else:  # the same reset again, the world starting from ManiSkill's frame (a render, as every other)
            sim = self.sim.reset(seed)
            obs, _ = self.env.reset(seed=seed, options={**options, "start_frames": sim.seen[None]})
            wm, qpos = obs[0].cpu().numpy(), sim.qpos
        self.start_options = {"kind": kind, "demo": demo, "frame": frame, "seed": seed}
        self.reference = (demo, options["frame"])
        self.targets = np.clip(targets_from_qpos(self.spec, qpos), self.low, self.high)
        self.wm_frame, self.sim_frame = np.ascontiguousarray(wm), sim
        self.last, self.ended, self.chunks, self.rewards = None, None, 0, []
        self._video = [(self._left(), self.wm_frame)]

    def reset(self) -> None:
        """Start again where the last start did (the first start: demo 0, frame 0, seed 0)."""
        self.start(**(self.start_options or {"kind": "demo"}))

    # ------------------------------------------------------------------ chunks
    def step(self, targets: Any, source: str = "keys") -> Outcome:
        """Hold joint targets `targets` (A,) for one chunk of K rows in both worlds. Targets outside the robot's joint
        limits, of the wrong length or not finite are refused with a message naming the joint."""
        if source not in ("keys", "hold"):
            raise PlayError(f"step: source {source!r}; expected keys or hold (policies act through act())")
        values = self._checked_targets(targets)
        return self._run(np.tile(values, (self.k, 1)), source)

    def act(self, source: str) -> Outcome:
        """One chunk from `source`: "demo" (the reference demo's own next chunk), "bc" or "rl" (the policy's chunk
        for the current frame: ManiSkill's through encoder -> UNet where the simulator runs, else the world
        model's). A policy's targets outside the joint limits are clipped, as the env clips them."""
        self._check_running()
        start = time.perf_counter()
        if source == "demo":
            chunk = self.env.demo_actions()[0].cpu().numpy()
        elif source in ("bc", "rl"):
            policy = self.policy(source)
            if self.sim_frame is not None and policy.preprocess:  # as ManiSkill evaluation shows it the frame
                seen = torch.from_numpy(stack_preprocess(self.env.stack)(self.sim_frame.raw[None]))
            elif self.sim_frame is not None:
                seen = torch.from_numpy(self.sim_frame.raw[None])
            else:
                seen = torch.from_numpy(self.wm_frame[None])
            with torch.no_grad():
                chunk = policy.act(seen.to(self.env.device))[0].float().cpu().numpy()
            if chunk.shape != (self.k, self.spec.action_dim):
                raise PlayError(
                    f"the {source} policy returned a chunk of shape {chunk.shape}; this world model steps "
                    f"({self.k}, {self.spec.action_dim}) (K, joint targets)"
                )
        else:
            raise PlayError(f"act: expected one of demo, bc, rl; got {source!r}")
        ms = 1000 * (time.perf_counter() - start)
        return self._run(np.clip(chunk, self.low, self.high), source, policy_ms=ms, clipped=_outside(chunk, self))

    def _run(self, chunk: np.ndarray, source: str, policy_ms: float | None = None, clipped: int = 0) -> Outcome:
        """Step both worlds with `chunk` (K, A) float32 inside the joint limits."""
        self._check_running()
        t0 = time.perf_counter()
        obs, reward, terminated, truncated, info = self.env.step(torch.from_numpy(chunk.astype(np.float32))[None])
        t1 = time.perf_counter()
        sim = self.sim.step(chunk) if self.sim is not None else None
        t2 = time.perf_counter()
        ms = {"world_model": 1000 * (t1 - t0)}
        if sim is not None:
            ms["simulator"] = 1000 * (t2 - t1)
        if policy_ms is not None:
            ms["policy"] = policy_ms
        ms["total"] = sum(ms.values())
        uncertainty = info.get("uncertainty")
        outcome = Outcome(
            source=source,
            reward=float(reward[0]),
            reward_l1=float(info["reward_l1"][0]),
            goal_l1=float(info["goal_l1"][0]),
            success=bool(info["success"][0]),
            uncertainty=None if uncertainty is None else float(uncertainty[0]),
            clipped=clipped,
            sim_reward=None if sim is None else sim.reward,
            sim_success=None if sim is None else sim.success,
            ms=ms,
        )
        self.wm_frame, self.sim_frame = obs[0].cpu().numpy(), sim
        self.targets = chunk[-1].copy()
        self.last, self.chunks = outcome, self.chunks + 1
        self.reference = (int(info["demo"][0]), int(info["frame"][0]))
        self.rewards.append(outcome.reward)
        self._video.append((self._left(), self.wm_frame))
        if bool(terminated[0]):
            self.ended = f"the reference demo ran out after {self.chunks} chunk(s)"
        elif bool(truncated[0]):
            self.ended = f"truncated after {self.chunks} chunk(s) (the env's max_chunk_steps)"
        return outcome

    def _checked_targets(self, targets: Any) -> np.ndarray:
        a = self.spec.action_dim
        if not isinstance(targets, (list, tuple, np.ndarray)) or len(targets) != a:
            got = f"{len(targets)} values" if isinstance(targets, (list, tuple, np.ndarray)) else repr(targets)
            raise PlayError(f"targets: expected {a} joint targets for {self.spec.name}; got {got}")
        values = []
        for j, value in enumerate(targets):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
                raise PlayError(f"joint {j + 1}: expected a finite number (radians); got {value!r}")
            lo, hi = float(self.low[j]), float(self.high[j])
            if not lo <= value <= hi:
                raise PlayError(
                    f"joint {j + 1}: target {value:.4g} is outside its range [{lo:.4g}, {hi:.4g}]; nothing was sent"
                )
            values.append(value)
        return np.asarray(values, np.float32)

    def _check_running(self) -> None:
        if self.wm_frame is None:
            raise PlayError("pick a start first (demo and frame, or a ManiSkill seed)")
        if self.ended is not None:
            raise PlayError(f"the episode ended ({self.ended}); press Reset or pick a new start to play on")

    # ------------------------------------------------------------------ policies
    def policy(self, kind: str) -> Policy:
        """The "bc" or "rl" policy, loaded on first use from its folder."""
        if kind not in self._policies:
            path = self.policy_paths.get(kind)
            if path is None:
                what = "RL checkpoint: enter its folder first" if kind == "rl" else "BC policy beside this bundle"
                raise PlayError(f"no {what}")
            self._policies[kind] = self._load(kind, Path(path))
        return self._policies[kind]

    def load_policy(self, kind: str, path: Any) -> None:
        """Load the `kind` policy ("bc" or "rl") from folder `path` now, replacing the one before."""
        if kind not in ("bc", "rl"):
            raise PlayError(f"policy: expected bc or rl; got {kind!r}")
        if not isinstance(path, str) or not path.strip():
            raise PlayError(f"{kind} checkpoint: expected a folder; got {path!r}")
        folder = Path(path.strip()).expanduser()
        self._policies[kind] = self._load(kind, folder)
        self.policy_paths[kind] = folder

    def _load(self, kind: str, folder: Path) -> Policy:
        what = {"bc": "BC policy", "rl": "RL checkpoint"}[kind]
        if not folder.is_dir():
            raise PlayError(f"{what}: no folder at {folder}")
        try:
            policy = make_policy(kind, path=folder, robot=self.spec.name, device=self.env.device)
        except (OSError, ValueError, KeyError, RuntimeError) as err:
            raise PlayError(f"cannot load the {what} at {folder}: {err}") from None
        if policy.chunk != self.k:
            raise PlayError(f"the {what} at {folder} acts in chunks of {policy.chunk}; this world model steps {self.k}")
        return policy

    # ------------------------------------------------------------------ video
    def save_video(self) -> Path:
        """The session so far as an mp4: ManiSkill (or, without it, the demo's time-synced frame) | world model."""
        if len(self._video) < 2:
            raise PlayError("nothing to save yet: play at least one chunk")
        left = [frame for frame, _ in self._video]
        wm = np.stack([frame for _, frame in self._video])
        scale = max(1, -(-VIDEO_MIN_SIZE // wm.shape[1]))
        wm = np.kron(wm, np.ones((1, scale, scale, 1), np.uint8))  # whole pixels: the model's own resolution
        path = self.out / f"play-{datetime.now():%Y%m%d-%H%M%S-%f}.mp4"
        try:
            write_side_by_side(path, left, wm, VIDEO_FPS)
        except OSError as err:
            raise PlayError(f"cannot write the video to {path}: {err}") from None
        self.videos.append(path)
        log.info("wrote %s (%d chunks)", path, len(left) - 1)
        return path

    def _left(self) -> np.ndarray:
        return self.sim_frame.raw if self.sim_frame is not None else self.demo_frame()

    # ------------------------------------------------------------------ views
    def demo_frame(self) -> np.ndarray:
        """The reference demo's time-synced frame (what the aligned reward compares with): (S, S, 3) uint8."""
        return self.env.demo_frames()[0].cpu().numpy()

    def summary(self) -> dict[str, Any]:
        """Everything the page shows but the frames, as plain JSON values."""
        ref = self.env.reference
        demo, frame = self.reference or (None, None)
        return {
            "robot": self.spec.name,
            "task": self.env.task,
            "bundle": str(self.env.bundle.path),
            "chunk": self.k,
            "joints": [{"low": float(lo), "high": float(hi)} for lo, hi in zip(self.low, self.high)],
            "demo_lengths": [int(n) for n in ref.episode_lengths],
            "reward_mode": self.env.cfg.reward_mode,
            "success_threshold": float(ref.success_threshold),
            "simulator": self.sim.label if self.sim is not None else None,
            "simulator_note": self.sim_note,
            "policies": {kind: None if p is None else str(p) for kind, p in self.policy_paths.items()},
            "start": self.start_options,
            "reference": {"demo": demo, "frame": frame},
            "targets": [float(t) for t in self.targets],
            "chunks": self.chunks,
            "rewards": self.rewards,
            "last": None if self.last is None else asdict(self.last),
            "ended": self.ended,
            "videos": [p.name for p in self.videos],
        }

    def close(self) -> None:
        if self.sim is not None:
            self.sim.close()
        self.env.close()


def targets_from_qpos(spec: RobotSpec, qpos: np.ndarray) -> np.ndarray:
    """The joint targets that hold a full qpos (J,) where it is: (A,) float32, the inverse of `to_full_qpos` on
    the commanded joints (the arm's, and the gripper's first mimic joint)."""
    qpos = np.asarray(qpos, np.float32)
    targets = list(qpos[: spec.arm_dof])
    if spec.action_dim > spec.arm_dof:
        targets.append(qpos[spec.arm_dof] / spec.gripper_mimic[0])
    return np.asarray(targets, np.float32)


def _count(name: str, value: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 0:
        raise PlayError(f"{name}: expected an integer >= 0; got {value!r}")
    return int(value)


def _outside(chunk: np.ndarray, session: PlaySession) -> int:
    return int(((chunk < session.low) | (chunk > session.high)).sum())
