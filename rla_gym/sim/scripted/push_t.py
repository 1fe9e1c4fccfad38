"""PushT (UR10e + stick): greedy point pushes planned with a quasi-static pushing model.

T frame (origin at the centre of mass, reference 8.2): bar x in [-0.1, 0.1], y in [-0.0625, -0.0125];
stem x in [-0.025, 0.025], y in [-0.0125, 0.1375]. Before each push the script scores candidate
pushes (contact points around the T's outline, directions inside the friction cone, lengths up to
12 cm) with the sticking-contact model of quasi-static pushing (Lynch, Maekawa & Tanie 1992) and
executes the one that brings the T closest to the goal pose. A push is: hover over a point just
outside the T (or slide there if the way is clear), lower the stick, push, step back.
Success needs 90 % overlap with the goal T (about 4 mm and 3 degrees together) and 100 steps allow
five to seven pushes: measured here 9 of 20 success slots succeed; every episode moves the T.
Failure mode: every push aimed 40-80 degrees off.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rla_gym.sim.scripted.base import ScriptedController, Waypoint, at, xy, yaw_of

BAR = (-0.1, 0.1, -0.0625, -0.0125)  # x0, x1, y0, y1 in the T frame
STEM = (-0.025, 0.025, -0.0125, 0.1375)
OUTLINE = np.array(  # counter-clockwise corners of the T, T frame
    [(-0.1, -0.0625), (0.1, -0.0625), (0.1, -0.0125), (0.025, -0.0125), (0.025, 0.1375), (-0.025, 0.1375)]
    + [(-0.025, -0.0125), (-0.1, -0.0125)]
)
STICK_RADIUS = 0.008
GAP = 0.012  # m between the stick's surface and the T before a push
HOVER_Z = 0.065  # tip clears the 4 cm T
PUSH_Z = 0.02
LIMIT_C = 0.066  # m, limit-surface length of the T: mean distance of its area from the centre of mass
ROT_SCALE = 0.09  # m of position error that weigh like one radian of yaw error
CONE = np.deg2rad((-25.0, 0.0, 25.0))  # push directions around the inward normal
LENGTHS = np.arange(0.005, 0.121, 0.005)  # m of push after contact
PUSH_SPEED = (0.018, 0.024)  # m per step while in contact
DONE_POS, DONE_YAW = 0.003, np.deg2rad(2.0)


def _inside(p: np.ndarray, margin: float = 0.0) -> bool:
    return any(
        x0 - margin <= p[0] <= x1 + margin and y0 - margin <= p[1] <= y1 + margin for x0, x1, y0, y1 in (BAR, STEM)
    )


def _path_clear(a: np.ndarray, b: np.ndarray, pos: np.ndarray, rot: np.ndarray, margin: float = 0.015) -> bool:
    """Can the stick slide from `a` to `b` (world xy) at table level without touching the T at `pos`?"""
    return not any(_inside(rot.T @ (a + (b - a) * t - pos), margin) for t in np.linspace(0.0, 1.0, 25))


def _wrap(angle: float) -> float:
    return float((angle + np.pi) % (2 * np.pi) - np.pi)


def _rot(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


def _contacts() -> list[tuple[np.ndarray, np.ndarray]]:
    """(contact point, outward normal) every ~1 cm along the outline, T frame, away from corners."""
    out = []
    for a, b in zip(OUTLINE, np.roll(OUTLINE, -1, axis=0)):
        edge = b - a
        length = float(np.linalg.norm(edge))
        normal = np.array([edge[1], -edge[0]]) / length  # outward for a counter-clockwise outline
        for t in np.arange(0.006, length - 0.005, 0.01):
            point = a + edge * (t / length)
            if not _inside(point + normal * (STICK_RADIUS + GAP), STICK_RADIUS + 0.002):
                out.append((point, normal))
    return out


CONTACTS = _contacts()


def _simulate(contact: np.ndarray, direction: np.ndarray, yaw: float, lengths: np.ndarray) -> np.ndarray:
    """Quasi-static sticking push: T displacement (world dx, dy, dyaw) after each of `lengths` of push.

    `contact` is in the T frame, `direction` the pusher's world direction; the contact point moves
    with the T. Returns (len(lengths), 3).
    """
    c2 = LIMIT_C**2
    step = 0.005
    dx = np.zeros(2)
    dyaw = 0.0
    out, travelled, k = [], 0.0, 0
    while k < len(lengths):
        r = _rot(yaw + dyaw)
        vp = r.T @ direction * step  # pusher displacement in the T frame
        x, y = contact
        den = c2 + x * x + y * y
        vx = ((c2 + x * x) * vp[0] + x * y * vp[1]) / den
        vy = (x * y * vp[0] + (c2 + y * y) * vp[1]) / den
        dx = dx + r @ np.array([vx, vy])
        dyaw += (x * vy - y * vx) / c2
        travelled += step
        while k < len(lengths) and travelled >= lengths[k] - 1e-9:
            out.append((dx[0], dx[1], dyaw))
            k += 1
    return np.array(out)


class PushTScript(ScriptedController):
    robot = "ur10e"
    task = "PushT"
    point_down_only = True

    def waypoints(self, u) -> Iterator[Waypoint]:
        goal, goal_yaw = xy(u.goal_tee), yaw_of(u.goal_tee)
        low = False  # is the stick down at table level (so it may slide to the next push)?
        while True:
            pos, yaw = xy(u.tee), yaw_of(u.tee)
            err, dyaw = goal - pos, _wrap(goal_yaw - yaw)
            if np.linalg.norm(err) < DONE_POS and abs(dyaw) < DONE_YAW:
                yield Waypoint(at(*self.tcp(u)[:2], HOVER_Z), speed=0.02, hold=200)
                return
            rot = _rot(yaw)
            start, direction, length = self._best_push(pos, yaw, err, dyaw)
            if self.fail:
                off = self.rng.choice([-1.0, 1.0]) * np.deg2rad(self.rng.uniform(40.0, 80.0))
                direction = _rot(off) @ direction
            start = start + self.jitter()
            end = start + direction * length
            back = end - direction * 0.012  # step off the T before lifting: friction 3 drags it up
            if not (low and _path_clear(self.tcp(u)[:2], start, pos, rot)):
                if low:
                    yield Waypoint(at(*self.tcp(u)[:2], HOVER_Z), speed=0.04, tol=0.03)
                yield Waypoint(at(*start, HOVER_Z), speed=0.05, tol=0.025)
            yield Waypoint(at(*start, PUSH_Z), speed=0.04, tol=0.015)
            yield Waypoint(at(*end, PUSH_Z), speed=float(self.rng.uniform(*PUSH_SPEED)), tol=0.004)
            yield Waypoint(at(*back, PUSH_Z), speed=0.02, tol=0.02)
            low = True

    def _best_push(
        self, pos: np.ndarray, yaw: float, err: np.ndarray, dyaw: float
    ) -> tuple[np.ndarray, np.ndarray, float]:
        """(start point, world direction, travel) of the push whose predicted outcome is closest to the goal."""
        rot = _rot(yaw)
        best, best_cost = None, np.inf
        for point, normal in CONTACTS:
            for angle in CONE:
                direction = rot @ (_rot(angle) @ -normal)  # world
                moves = _simulate(point, direction, yaw, LENGTHS)  # (L, 3)
                cost = np.sum((err - moves[:, :2]) ** 2, axis=1) + (ROT_SCALE * (dyaw - moves[:, 2])) ** 2
                i = int(np.argmin(cost))
                if cost[i] < best_cost:
                    best_cost, best = cost[i], (point, normal, direction, LENGTHS[i])
        point, normal, direction, push = best
        start_local = point + normal * (STICK_RADIUS + GAP)
        approach = float(np.dot(rot @ -normal, direction))  # the gap closes at this rate
        return pos + rot @ start_local, direction, push + GAP / max(approach, 0.5)
