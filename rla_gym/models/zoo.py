"""The model zoo: where `gym.make("RLAWorldModel-v0", robot=...)` finds a bundle when none is given.

The zoo is the top-level `models/` folder of the repository, shipped inside the package as `rla_gym/zoo` (a link
to it in the source tree, a copy in an installed wheel), so the embedded default is found from a checkout and from
`pip install rla-gym` alike. `$RLA_GYM_MODELS` points elsewhere.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

MODELS_ENV_VAR = "RLA_GYM_MODELS"


def models_dir() -> Path:
    """$RLA_GYM_MODELS, else the zoo shipped with the package."""
    if os.environ.get(MODELS_ENV_VAR):
        return Path(os.environ[MODELS_ENV_VAR])
    return Path(__file__).resolve().parents[1] / "zoo"


def _bundle_robot_task(path: Path) -> tuple[str | None, str | None]:
    try:
        meta = json.loads((path / "config.json").read_text())
        return meta.get("stack", {}).get("robot"), meta.get("task")
    except (OSError, ValueError):
        return None, None


def default_bundle_path(robot: str, task: str | None) -> Path | None:
    """The zoo's bundle for (robot, task): a non-random bundle for the task first, then any for the robot.

    Folders are named `<robot>-<Task>-<scale>` (e.g. `ur10e-RollBall-cpu`); ties go to the first in name order."""
    root = models_dir()
    if not root.is_dir():
        return None
    found = [p for p in sorted(root.iterdir()) if (p / "manifest.json").is_file()]
    mine = [p for p in found if _bundle_robot_task(p)[0] == robot]
    if task is not None:
        same_task = [p for p in mine if _bundle_robot_task(p)[1] == task]
        return same_task[0] if same_task else None
    return mine[0] if mine else None
