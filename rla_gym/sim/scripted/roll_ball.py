"""RollBall (UR10e + stick): strike the ball along the line to the target and let it roll in.

The stick stands vertically, so its side meets the ball at the ball's equator and the push goes
through the ball's centre. The ball rolls with little resistance, so the direction is what matters:
a ball sent within about atan(0.1 / distance) of the target's centre crosses the target circle.
Failure modes: a push direction turned 35-70 degrees off, or a stroke that passes beside the ball.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rla_gym.sim.scripted.base import ScriptedController, Waypoint, at, xy

BALL_RADIUS = 0.035
STICK_RADIUS = 0.008
HOVER_Z = 0.10  # m, tip height while travelling
PUSH_Z = 0.018  # m, tip height while striking (the stick's side meets the ball's equator)


class RollBallScript(ScriptedController):
    robot = "ur10e"
    task = "RollBall"
    point_down_only = True

    def waypoints(self, u) -> Iterator[Waypoint]:
        ball, goal = xy(u.ball), xy(u.goal_region)
        d = goal - ball
        angle = float(np.arctan2(d[1], d[0]))
        lateral = 0.0
        if self.fail:
            if self.rng.random() < 0.6:
                angle += self.rng.choice([-1.0, 1.0]) * np.deg2rad(self.rng.uniform(35.0, 70.0))
            else:
                lateral = self.rng.choice([-1.0, 1.0]) * self.rng.uniform(0.06, 0.09)
        else:
            angle += self.rng.normal(0.0, np.deg2rad(2.0))
        d = np.array([np.cos(angle), np.sin(angle)])
        side = np.array([-d[1], d[0]]) * lateral
        start = ball - d * (BALL_RADIUS + STICK_RADIUS + 0.05) + side + self.jitter()
        end = ball + d * float(self.rng.uniform(0.04, 0.08)) + side
        yield Waypoint(at(*start, HOVER_Z), speed=0.03, tol=0.02)
        yield Waypoint(at(*start, PUSH_Z), speed=0.02, tol=0.01, hold=1)
        yield Waypoint(at(*end, PUSH_Z), speed=float(self.rng.uniform(0.018, 0.026)), tol=0.03)
        yield Waypoint(at(*end, HOVER_Z), speed=0.02, hold=200)
