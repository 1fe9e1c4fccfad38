"""`metadata.json` at a split root (`.../<Task>/success/`, `.../fail/`): the robot that made the data.

The authors' reader turns each `robot_infos` item into its `RobotInfo(uid, urdf_path, urdf_config,
joint_names, action_space, action_mapping)` with `**item`, so items carry exactly those six keys;
anything of ours goes beside `robot_infos`, never inside an item (reference 8.3).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from rla_gym.specs.robots import RobotSpec, get_robot

logger = logging.getLogger(__name__)

METADATA_JSON = "metadata.json"


def robot_info(
    robot: RobotSpec | str,
    *,
    urdf_path: str = "",
    urdf_config: dict[str, Any] | None = None,
    joint_names: list[str] | tuple[str, ...] = (),
    action_mapping: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One `robot_infos` item for a robot spec; `action_space` is `[low, high, shape]` (pd_joint_pos)."""
    spec = get_robot(robot) if isinstance(robot, str) else robot
    return {
        "uid": spec.maniskill_uid,
        "urdf_path": urdf_path,
        "urdf_config": dict(urdf_config or {}),
        "joint_names": list(joint_names),
        "action_space": [list(spec.action_low), list(spec.action_high), [spec.action_dim]],
        "action_mapping": dict(action_mapping or {}),
    }


def write_split_metadata(
    split_root: Path,
    robot: RobotSpec | str,
    *,
    control_mode: str = "pd_joint_pos",
    extra: dict[str, Any] | None = None,
    **info_kwargs: Any,
) -> Path:
    """Write (or update) `<split_root>/metadata.json`; other top-level keys already there are kept.

    `info_kwargs` go to `robot_info` (urdf_path, urdf_config, joint_names, action_mapping).
    """
    spec = get_robot(robot) if isinstance(robot, str) else robot
    split_root = Path(split_root)
    split_root.mkdir(parents=True, exist_ok=True)
    path = split_root / METADATA_JSON
    data = read_split_metadata(split_root) or {}
    data["robot_infos"] = [robot_info(spec, **info_kwargs)]  # replace, as the authors' writer does
    data["rla_gym"] = {"robot": spec.name, "control_mode": control_mode, **(extra or {})}
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)
    return path


def read_split_metadata(split_root: Path) -> dict[str, Any] | None:
    """The parsed `metadata.json` of a split root, or None when absent or unreadable."""
    path = Path(split_root) / METADATA_JSON
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        logger.warning("ignoring unreadable %s: %s", path, exc)
        return None
    return data if isinstance(data, dict) else None


def split_robot_uid(split_root: Path) -> str | None:
    """The first robot uid named by a split root's `metadata.json`, if any."""
    data = read_split_metadata(split_root)
    infos = (data or {}).get("robot_infos") or []
    if isinstance(infos, list) and infos and isinstance(infos[0], dict):
        uid = infos[0].get("uid")
        return str(uid) if uid else None
    return None


def episode_seed(traj_dir: Path, seed_base: int | None = None) -> int:
    """ManiSkill seed of a collected episode: the collection's seed (recorded in its split's metadata.json) + the
    id of its `traj_<id>` folder; `seed_base` for data collected before the seed was recorded."""
    meta = (read_split_metadata(Path(traj_dir).parent) or {}).get("rla_gym", {})
    base = meta.get("seed", seed_base)
    if base is None:
        raise ValueError(f"{Path(traj_dir).parent}/metadata.json records no collection seed; pass seed_base")
    return int(base) + int(Path(traj_dir).name.split("_")[-1])
