"""PullCube (Panda): reach over the cube, lower the closed fingers behind it, drag it back to the target.

The target lies 0.2 m on the robot's side of the cube (-x), and success needs the cube within 0.1 m
of it, so a straight pull of 0.15-0.25 m succeeds. Failure modes: the fingers come down beside the
cube and sweep past it, or the pull stops after a few centimetres.
"""

from __future__ import annotations

from collections.abc import Iterator

from rla_gym.sim.scripted.base import ScriptedController, Waypoint, at, xy

CUBE_HALF = 0.02
FINGER_HALF = 0.012  # m, half the closed fingers' thickness along x
HOVER_Z = 0.09
PULL_Z = 0.022  # tcp height while pulling (finger tips just above the table)


class PullCubeScript(ScriptedController):
    robot = "panda"
    task = "PullCube"
    gripper_open = 0.0  # closed fingers: one solid pusher

    def waypoints(self, u) -> Iterator[Waypoint]:
        cube = xy(u.obj)
        behind = cube[0] + CUBE_HALF + FINGER_HALF + 0.015
        y = cube[1] + self.jitter(1)[0]
        pull = float(self.rng.uniform(0.17, 0.24))
        if self.fail:
            if self.rng.random() < 0.5:
                y += self.rng.choice([-1.0, 1.0]) * self.rng.uniform(0.035, 0.07)  # beside the cube, at most grazing it
            else:
                pull = float(self.rng.uniform(0.03, 0.08))  # stops well short of the target
        yield Waypoint(at(behind, y, HOVER_Z), speed=0.035, tol=0.02)
        yield Waypoint(at(behind, y, PULL_Z), speed=0.025, tol=0.01)
        yield Waypoint(at(behind - pull - 0.01, y, PULL_Z), speed=float(self.rng.uniform(0.016, 0.024)), tol=0.02)
        yield Waypoint(at(behind - pull - 0.01, y, HOVER_Z), speed=0.02, hold=200)
