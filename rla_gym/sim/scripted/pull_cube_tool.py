"""PullCubeTool (Panda): grasp the L tool's handle, slide the hook behind the cube, pull it back.

Tool frame (reference 8.2): handle x in [0, 0.2], y in [-0.025, 0.025]; hook x in [0.15, 0.2],
y in [0, 0.1]. The cube has to end up in the pocket between handle and hook, at about (0.125, 0.062)
in the tool frame. Lifting the tool does not work: held by the tail it pivots in the fingers and
the hook droops onto the cube. So it slides on the table: back off, sidestep so the hook passes
beside the cube, advance, step sideways to take the cube into the pocket, pull it toward the base
until it is within 0.55 m (success: 0.6 m). Cubes far out (> ~0.8 m from the base) are beyond the
Panda's top-down reach and are only pushed aside.
Failure modes: the last sidestep is skipped (the hook pulls past the cube), or the pull stops short.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from rla_gym.sim.scripted.base import ScriptedController, Waypoint, at, xy

GRASP_X = 0.015  # m along the handle from the tool's tail where the fingers close
POCKET = np.array([0.125, 0.062])  # cube centre in the tool frame while pulling
PASS_Y = 0.14  # cube's y in the tool frame while the hook passes it
CUBE_HALF = 0.02
HOOK_FRONT = 0.2
GRASP_Z = 0.028
SLIDE_Z = 0.031
HOVER_Z = 0.10
OPEN, CLOSED = 0.04, 0.0


class PullCubeToolScript(ScriptedController):
    robot = "panda"
    task = "PullCubeTool"
    gripper_open = OPEN

    def waypoints(self, u) -> Iterator[Waypoint]:
        tool = xy(u.l_shape_tool)
        grasp = tool + (GRASP_X, 0.0)
        yield Waypoint(at(*grasp, HOVER_Z), speed=0.04, tol=0.02)
        yield Waypoint(at(*grasp, GRASP_Z), speed=0.03, tol=0.008)
        yield Waypoint(at(*grasp, GRASP_Z), gripper=CLOSED, hold=4)
        # from here the tool moves with the hand; plan in tool-origin coordinates
        tool, cube = xy(u.l_shape_tool), xy(u.cube)
        grip = self.tcp(u)[:2] - tool  # hand relative to the tool origin (tool yaw stays ~0)

        def hand(tool_xy: np.ndarray) -> np.ndarray:
            return at(*(tool_xy + grip), SLIDE_Z)

        clear_x = cube[0] - CUBE_HALF - 0.04 - HOOK_FRONT  # hook front safely short of the cube
        if tool[0] > clear_x:
            yield Waypoint(hand(np.array([clear_x, tool[1]])), speed=0.03, tol=0.02)
            tool = np.array([clear_x, tool[1]])
        pocket = POCKET + self.jitter()
        yield Waypoint(hand(np.array([tool[0], cube[1] - PASS_Y])), speed=0.03, tol=0.02)
        yield Waypoint(hand(np.array([cube[0] - pocket[0], cube[1] - PASS_Y])), speed=0.03, tol=0.015)
        skip_sidestep = self.fail and self.rng.random() < 0.5
        pocket_y = PASS_Y if skip_sidestep else pocket[1]
        yield Waypoint(hand(np.array([cube[0] - pocket[0], cube[1] - pocket_y])), speed=0.02, tol=0.012)
        # pull until the cube is 0.55 m from the base (or, as a failure, only a little)
        base = u.agent.robot.pose.p[0, :2].cpu().numpy().astype(np.float64)
        cube = xy(u.cube)
        goal_x = base[0] + np.sqrt(max(0.55**2 - (cube[1] - base[1]) ** 2, 0.0))
        pull = cube[0] - goal_x + 0.02
        if self.fail and not skip_sidestep:
            pull = float(self.rng.uniform(0.03, 0.08))
        end = self.tcp(u) - at(max(pull, 0.0), 0.0, 0.0)
        end[2] = SLIDE_Z
        yield Waypoint(end, speed=float(self.rng.uniform(0.016, 0.022)), tol=0.02)
        yield Waypoint(end, hold=200)
