"""The paper's five ManiSkill tasks as plain data: robot, episode length, reward mode, success rule, env ids.

No torch, no simulator import: the one source of these facts for every layer."""

from __future__ import annotations

from dataclasses import dataclass

from rla_gym.specs.robots import ROBOTS, RobotSpec, get_robot


@dataclass(frozen=True)
class SimTask:
    """One task of the shared tabletop workspace (reference 8.2)."""

    name: str  # "PushT"
    robot: str  # our robot name (rla_gym.specs.robots)
    env_id: str  # our gymnasium/ManiSkill id, distinct from ManiSkill's own
    upstream_id: str  # the ManiSkill task it is derived from
    paper_id: str  # the paper authors' env id: names the task folder of their released data
    max_episode_steps: int
    wm_reward: str  # reward the world-model env uses: "aligned" (to the demo video) or "goal"
    success_rule: str  # what the simulator's info["success"] checks, in words
    objects: tuple[str, ...] = ()  # ManiSkill actor names of what decides success (segmented and posed at collection)
    success_distance: float | None = None  # success = objects[0] within this xy distance (m) of objects[-1]; None:
    # the rule is not a distance between two of them (PushT's overlap, PullCubeTool's distance to the base)


TASKS: dict[str, SimTask] = {
    t.name: t
    for t in (
        SimTask(
            "PushT",
            "ur10e",
            "RLA-PushT-v1",
            "PushT-v1",
            "PushT-v2",
            100,
            "aligned",
            "T overlaps its goal by >= 90 %",
            ("Tee", "goal_Tee"),
        ),
        SimTask(
            "RollBall",
            "ur10e",
            "RLA-RollBall-v1",
            "RollBall-v1",
            "RollBall-v1",
            80,
            "aligned",
            "ball inside the goal region",
            ("ball", "goal_region"),
            0.1,  # ManiSkill RollBall goal_radius
        ),
        SimTask(
            "PullCube",
            "panda",
            "RLA-PullCube-v1",
            "PullCube-v1",
            "PullCube-v2",
            50,
            "aligned",
            "cube within 0.1 m of the goal",
            ("cube", "goal_region"),
            0.1,
        ),
        SimTask(
            "PullCubeTool",
            "panda",
            "RLA-PullCubeTool-v1",
            "PullCubeTool-v1",
            "PullCubeTool-v1",
            100,
            "aligned",
            "cube pulled to within 0.6 m of the robot base with the tool",
            ("cube", "l_shape_tool"),
        ),
        SimTask(
            "PokeCube",
            "xarm6_robotiq",
            "RLA-PokeCube-v1",
            "PokeCube-v1",
            "PokeCube-v2",
            50,
            "goal",
            "cube within 0.05 m of the goal and the robot static",
            ("cube", "peg", "goal_region"),
            0.05,
        ),
    )
}
assert all(t.name in ROBOTS[t.robot].tasks for t in TASKS.values()), "TASKS disagrees with the robot specs"


def get_task(name: str) -> SimTask:
    """Look a task up by name ("PushT") or env id ("RLA-PushT-v1"); the error lists the valid names."""
    if name in TASKS:
        return TASKS[name]
    for task in TASKS.values():
        if name == task.env_id:
            return task
    raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(TASKS)}")


def tasks_of(robot: str | RobotSpec) -> tuple[SimTask, ...]:
    """The paper's tasks for one robot."""
    spec = get_robot(robot)
    return tuple(TASKS[name] for name in spec.tasks)


def check_pair(robot: str | RobotSpec, task: str | SimTask) -> tuple[RobotSpec, SimTask]:
    """Validate a (robot, task) pair; errors name the valid robots, tasks, or the robot's own tasks."""
    spec = get_robot(robot)
    sim_task = get_task(task) if isinstance(task, str) else task
    if sim_task.robot != spec.name:
        raise ValueError(
            f"task {sim_task.name} runs with robot {sim_task.robot}, not {spec.name}; "
            f"{spec.name} runs: {', '.join(spec.tasks)}"
        )
    return spec, sim_task
