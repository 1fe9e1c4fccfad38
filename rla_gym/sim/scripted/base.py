"""The common machinery of the scripted controllers: tcp waypoints in, absolute joint targets out.

A script is a generator of `Waypoint`s. It reads the simulator's privileged state (object poses)
whenever it resumes, so each waypoint is planned from the world as it is when the previous one was
reached: open loop within a motion, closed loop between motions. `ScriptedController.act` moves a
commanded tcp point toward the current waypoint at the waypoint's speed, turns it into joints by IK
and returns the robot's `pd_joint_pos` action, which is what gets recorded and what the world model
is conditioned on.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from rla_gym.sim.scripted.kinematics import TcpKinematics, yaw_matrix
from rla_gym.specs.robots import RobotSpec, get_robot

DOWN = np.array([0.0, 0.0, -1.0])  # tcp z axis pointing at the table


@dataclass(frozen=True)
class ScriptConfig:
    """Knobs shared by every script. Defaults give the successful demos; `fail` asks for a failure."""

    joint_noise: float = 0.003  # rad, Gaussian noise on the commanded arm joints each step
    speed_range: tuple[float, float] = (0.85, 1.15)  # per-episode multiplier of every waypoint speed
    jitter: float = 0.004  # m, per-episode random offset of contact points
    max_wait: int = 12  # steps to wait at a waypoint for the measured tcp to arrive before moving on


@dataclass
class Waypoint:
    """Move the tcp to `pos` (world, m) at up to `speed` m per control step, then hold `hold` steps.

    `gripper`: the gripper command from now on (None keeps it); `yaw`: tcp yaw about world z for
    grippers (None keeps it); `tol`: how close (m) the measured tcp must come before the next one.
    """

    pos: np.ndarray
    speed: float = 0.02
    gripper: float | None = None
    yaw: float | None = None
    hold: int = 0
    tol: float = 0.015
    wait: int | None = None  # steps to wait for the measured tcp to come within `tol` (None: config.max_wait)


class ScriptedController:
    """Base class: subclasses set `robot`, `task` and implement `waypoints`.

    Use: `reset(env, rng, fail)` after `env.reset`, then `act(env)` once per step.
    """

    robot: str = ""
    task: str = ""
    gripper_open: float = 0.0  # the gripper command at the start of an episode
    point_down_only: bool = False  # True for the stick: only the tool axis is constrained

    def __init__(self, config: ScriptConfig | None = None) -> None:
        self.config = config or ScriptConfig()
        self.spec: RobotSpec = get_robot(self.robot)
        self._kin: TcpKinematics | None = None
        self._kin_agent: int | None = None

    # -- episode ------------------------------------------------------------------------------ #
    def reset(self, env, rng: np.random.Generator | int | None = None, fail: bool = False) -> None:
        """Start an episode on the env's current state; `fail` picks one of the script's failure modes."""
        u = env.unwrapped
        if self._kin is None or self._kin_agent != id(u.agent):
            self._kin, self._kin_agent = TcpKinematics(u.agent, self.spec), id(u.agent)
        self.rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        self.fail = bool(fail)
        lo, hi = self.config.speed_range
        self.speed_scale = float(self.rng.uniform(lo, hi))
        self.q_cmd = self._qpos(u)  # (J,) last IK solution, seeds the next one
        self.p_cmd, rot = self._kin.fk(self.q_cmd)  # commanded tcp point, world
        self.yaw = float(np.arctan2(rot[1, 0], rot[0, 0]))
        self.gripper = self.gripper_open
        self.steps = 0
        self._plan: Iterator[Waypoint] = self.waypoints(u)
        self._wp: Waypoint | None = None
        self._held = self._waited = 0

    def waypoints(self, u) -> Iterator[Waypoint]:
        """Yield the episode's waypoints; `u` is the unwrapped env (read object poses from it)."""
        raise NotImplementedError

    def close(self) -> None:
        """Free what the script made for itself (PushT's planning sandbox); the recorded env is the caller's."""

    def act(self, env) -> np.ndarray:
        """The next action: absolute joint targets `(spec.action_dim,)` float32."""
        u = env.unwrapped
        wp = self._current(u)
        if wp is not None:
            step = wp.pos - self.p_cmd
            dist = float(np.linalg.norm(step))
            limit = wp.speed * self.speed_scale
            self.p_cmd = wp.pos.copy() if dist <= limit else self.p_cmd + step * (limit / dist)
        kwargs = {"axis": DOWN} if self.point_down_only else {"rot": yaw_matrix(self.yaw) @ np.diag([1.0, -1.0, -1.0])}
        self.q_cmd = self._kin.ik(self.q_cmd, self.p_cmd, **kwargs)
        self.steps += 1
        arm = self.q_cmd[: self._kin.arm_dof] + self.rng.normal(0.0, self.config.joint_noise, self._kin.arm_dof)
        return self.joint_action(arm, self.gripper)

    # -- helpers ------------------------------------------------------------------------------ #
    def _current(self, u) -> Waypoint | None:
        """The waypoint to move toward now, advancing the plan when the current one is done."""
        while True:
            wp = self._wp
            if wp is not None:
                arrived = np.allclose(self.p_cmd, wp.pos)
                near = np.linalg.norm(self.tcp(u) - wp.pos) <= wp.tol
                patience = self.config.max_wait if wp.wait is None else wp.wait
                if arrived and (near or self._waited >= patience):
                    if self._held >= wp.hold:
                        self._wp = None
                    else:
                        self._held += 1
                        return wp
                else:
                    self._waited += int(arrived)
                    return wp
            nxt = next(self._plan, None)
            if nxt is None:
                return None  # plan finished: hold the last target
            nxt.pos = np.asarray(nxt.pos, dtype=np.float64)
            if nxt.gripper is not None:
                self.gripper = float(nxt.gripper)
            if nxt.yaw is not None:
                self.yaw = float(nxt.yaw)
            self._wp, self._held, self._waited = nxt, 0, 0

    def joint_action(self, arm: np.ndarray, gripper: float) -> np.ndarray:
        """Arm joints + gripper command -> the robot's action, clipped to its limits."""
        parts = [np.asarray(arm, dtype=np.float64)]
        if self.spec.action_dim > len(arm):
            parts.append(np.array([gripper]))
        action = np.concatenate(parts)
        return np.clip(action, self.spec.action_low, self.spec.action_high).astype(np.float32)

    def tcp(self, u) -> np.ndarray:
        """Measured tcp position (3,), world."""
        return u.agent.tcp.pose.p[0].cpu().numpy().astype(np.float64)

    def jitter(self, n: int = 2) -> np.ndarray:
        """A per-call random offset (n,) of std `config.jitter`, for diverse contact points."""
        return self.rng.normal(0.0, self.config.jitter, n)

    @staticmethod
    def _qpos(u) -> np.ndarray:
        return u.agent.robot.get_qpos()[0].cpu().numpy().astype(np.float64)


def xy(actor) -> np.ndarray:
    """An actor's world xy position (2,) in env 0."""
    return actor.pose.p[0, :2].cpu().numpy().astype(np.float64)


def yaw_of(actor) -> float:
    """An actor's yaw about world z (rad), from its wxyz quaternion."""
    w, x, y, z = actor.pose.q[0].cpu().numpy().astype(np.float64)
    return float(np.arctan2(2 * (w * z + x * y), 1 - 2 * (y * y + z * z)))


def at(x: float, y: float, z: float) -> np.ndarray:
    return np.array([x, y, z], dtype=np.float64)
