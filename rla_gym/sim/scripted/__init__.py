"""Scripted controllers for the five tasks: no pretrained agents can be downloaded, so demos come from these.

Each script plans tcp waypoints from the simulator's privileged state and turns them into the
robot's absolute joint targets by IK (`kinematics`); the targets are the recorded action. Each has a
`fail` mode (a deliberately wrong push, grasp or stroke) so collections hold failures as well.

    script = make_script("RollBall")
    obs, _ = env.reset(seed=3)
    script.reset(env, rng=3, fail=False)
    action = script.act(env)  # (5,) absolute joint targets for the UR10e
"""

from __future__ import annotations

from rla_gym.sim.scripted.base import ScriptConfig, ScriptedController, Waypoint
from rla_gym.sim.scripted.poke_cube import PokeCubeScript
from rla_gym.sim.scripted.policy import ScriptedPolicy
from rla_gym.sim.scripted.pull_cube import PullCubeScript
from rla_gym.sim.scripted.pull_cube_tool import PullCubeToolScript
from rla_gym.sim.scripted.push_t import PushTScript
from rla_gym.sim.scripted.roll_ball import RollBallScript
from rla_gym.specs.tasks import get_task

SCRIPTS: dict[str, type[ScriptedController]] = {
    cls.task: cls for cls in (PushTScript, RollBallScript, PullCubeScript, PullCubeToolScript, PokeCubeScript)
}


def make_script(task: str, config: ScriptConfig | None = None) -> ScriptedController:
    """The scripted controller of a task (name or env id); unknown tasks raise with the valid names."""
    return SCRIPTS[get_task(task).name](config)


__all__ = [
    "SCRIPTS",
    "PokeCubeScript",
    "PullCubeScript",
    "PullCubeToolScript",
    "PushTScript",
    "RollBallScript",
    "ScriptConfig",
    "ScriptedController",
    "ScriptedPolicy",
    "Waypoint",
    "make_script",
]
