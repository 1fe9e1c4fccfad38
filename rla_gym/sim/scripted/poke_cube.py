"""PokeCube (xArm6 + Robotiq): grasp the peg by its tail, line it up with the cube, poke the cube onto the goal.

The peg lies along x with its head 0.08 m short of the cube's face; the goal is 0.1 m beyond the
cube. Success needs the cube within 0.05 m of the goal *and* the arm at rest, so the script stops
the peg head where the cube's near face should end up and then holds still.
Failure modes: the peg passes beside the cube, or the poke stops short / overshoots by 8-12 cm.
"""

from __future__ import annotations

from collections.abc import Iterator

from rla_gym.sim.scripted.base import ScriptedController, Waypoint, at, xy

CUBE_HALF = 0.02
PEG_HALF_LENGTH = 0.12
GRASP_BACK = 0.05  # m behind the peg's centre (toward its tail) where the fingers close
GRASP_Z = 0.015  # tcp height when grasping: the pads around the peg's upper half
CARRY_Z = 0.022  # tcp height while poking (the peg just off the table)
HOVER_Z = 0.07
CLOSED = 0.81  # outer-knuckle target: squeeze (stops on the peg)


class PokeCubeScript(ScriptedController):
    robot = "xarm6_robotiq"
    task = "PokeCube"
    gripper_open = 0.0

    def waypoints(self, u) -> Iterator[Waypoint]:
        peg = xy(u.peg)
        grasp = peg + (-GRASP_BACK, 0.0) + (0.0, self.jitter(1)[0])
        yield Waypoint(at(*grasp, HOVER_Z), speed=0.04, tol=0.02)
        yield Waypoint(at(*grasp, GRASP_Z), speed=0.03, tol=0.008)
        yield Waypoint(at(*grasp, GRASP_Z), gripper=CLOSED, hold=5)
        # re-read: the grasp may have nudged the peg; the head is fixed relative to the fingers now
        peg, cube, goal = xy(u.peg), xy(u.cube), xy(u.goal_region)
        head_offset = peg[0] + PEG_HALF_LENGTH - self.tcp(u)[0]  # head x minus tcp x
        grip_dy = self.tcp(u)[1] - peg[1]
        y = cube[1] + grip_dy
        stop = goal[0] - CUBE_HALF - 0.005
        if self.fail:
            if self.rng.random() < 0.5:
                y += self.rng.choice([-1.0, 1.0]) * self.rng.uniform(0.04, 0.07)  # beside the cube
            else:
                stop += self.rng.choice([-1.0, 1.0]) * self.rng.uniform(0.08, 0.12)  # short or far
        else:
            y += self.jitter(1)[0]
        x0 = self.tcp(u)[0]
        yield Waypoint(at(x0, y, CARRY_Z), speed=0.03, tol=0.01)
        yield Waypoint(at(stop - head_offset, y, CARRY_Z), speed=float(self.rng.uniform(0.016, 0.022)), tol=0.008)
        yield Waypoint(at(stop - head_offset, y, CARRY_Z), hold=200)
