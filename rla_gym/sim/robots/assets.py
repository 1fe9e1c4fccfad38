"""Where ManiSkill keeps the robot files we need, and a clear error when they are missing.

The UR10e meshes and the xArm6 URDF are downloaded by ManiSkill (not shipped in its wheel, never
copied into this repo). Without them ManiSkill would prompt or exit deep inside env creation; we
check first and name the command that fetches them.
"""

from __future__ import annotations

import os
from pathlib import Path

from rla_gym.specs.robots import RobotSpec, get_robot


class RobotAssetsMissing(FileNotFoundError):
    """A robot's ManiSkill asset files are not on disk."""


def _needed_files(name: str) -> tuple[str, tuple[str, ...]] | None:
    """(ManiSkill download id, files relative to <ASSET_DIR>/robots/<id>) for our robot `name`."""
    if name == "ur10e":
        from rla_gym.sim.robots.ur10e_stick_urdf import mesh_files

        return "ur10e", tuple(f"assets/{m}" for m in mesh_files())
    if name == "xarm6_robotiq":
        return "xarm6", ("xarm6_robotiq.urdf",)
    return None  # panda ships inside the mani_skill package


def maniskill_asset_dir() -> Path:
    """ManiSkill's data folder (`$MS_ASSET_DIR/data`, default ~/.maniskill/data), as ManiSkill computes it."""
    try:
        from mani_skill import ASSET_DIR  # fixed when mani_skill is first imported

        return Path(ASSET_DIR)
    except ImportError:
        root = os.environ.get("MS_ASSET_DIR", str(Path.home() / ".maniskill"))
        return Path(root) / "data"


def robot_asset_dir(spec: RobotSpec | str, asset_dir: str | Path | None = None) -> Path | None:
    """The folder holding a robot's downloaded ManiSkill files (None for robots that need none)."""
    spec = get_robot(spec) if isinstance(spec, str) else spec
    needed = _needed_files(spec.name)
    if needed is None:
        return None
    base = Path(asset_dir) if asset_dir is not None else maniskill_asset_dir()
    return base / "robots" / needed[0]


def ensure_robot_assets(spec: RobotSpec | str, asset_dir: str | Path | None = None) -> None:
    """Raise `RobotAssetsMissing`, naming ManiSkill's download command, if the robot's files are absent.

    `asset_dir` is ManiSkill's data folder (default: the one ManiSkill uses, from `MS_ASSET_DIR`).
    """
    spec = get_robot(spec) if isinstance(spec, str) else spec
    needed = _needed_files(spec.name)
    if needed is None:
        return
    download_id, files = needed
    folder = robot_asset_dir(spec, asset_dir)
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        shown = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        raise RobotAssetsMissing(
            f"{spec.name} needs ManiSkill's {download_id!r} robot assets in {folder}, but {shown} "
            f"is missing. Download them with `python -m mani_skill.utils.download_asset {download_id}`, "
            f"or point MS_ASSET_DIR at a folder holding data/robots/{download_id} "
            "(offline copy: scripts/setup_assets.sh)."
        )
