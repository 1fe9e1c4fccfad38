"""The model zoo: where `gym.make("RLAWorldModel-v0", robot=...)` finds a bundle when none is given.

The zoo is the top-level `models/` folder of the repository, shipped inside the package as `rla_gym/zoo` (a link
to it in the source tree, a copy in an installed wheel), so the embedded default is found from a checkout and from
`pip install rla-gym` alike. `$RLA_GYM_MODELS` points elsewhere. A bundle there is a whole folder or the task folder
of a layered zoo (shared and per-robot parts beside it: `rla_gym.models.layered`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from rla_gym.specs.robots import ROBOTS

MODELS_ENV_VAR = "RLA_GYM_MODELS"


def models_dir() -> Path:
    """$RLA_GYM_MODELS, else the zoo shipped with the package."""
    if os.environ.get(MODELS_ENV_VAR):
        return Path(os.environ[MODELS_ENV_VAR])
    return Path(__file__).resolve().parents[1] / "zoo"


def bundle_robot_task(path: Path) -> tuple[str | None, str | None]:
    """(robot, task) a bundle folder's config.json names, read without loading any weight; (None, None) if unreadable
    or not a bundle (a layered zoo's shared and dynamics parts are not: `rla_gym.models.layered`)."""
    try:
        meta = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return None, None
    if not isinstance(meta, dict) or meta.get("format") != "rla-gym-bundle":
        return None, None
    return meta.get("robot") or (meta.get("stack") or {}).get("robot"), meta.get("task")


def default_bundle_path(robot: str, task: str | None) -> Path | None:
    """The zoo's bundle for `robot` and `task`, or None. With no task, the robot's default task's folder
    (`RobotSpec.default_task`: the UR10e's is RollBall, not PushT, which sorts first), else its first in name order.

    Folders are named `<robot>-<Task>-<scale>` (e.g. `ur10e-RollBall-cpu`); each one's config.json is read once."""
    root = models_dir()
    if not root.is_dir():
        return None
    found = []
    for path in sorted(root.iterdir()):
        if not (path / "manifest.json").is_file():
            continue
        bundle_robot, bundle_task = bundle_robot_task(path)
        if bundle_robot == robot and (task is None or bundle_task == task):
            found.append((bundle_task, path))
    if task is None and robot in ROBOTS:  # stable: the default task's folders first, name order otherwise
        found.sort(key=lambda match: match[0] != ROBOTS[robot].default_task)
    return found[0][1] if found else None
