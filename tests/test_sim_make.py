"""ManiSkill-side facts that need no simulator: task table, name errors, asset errors, the UR10e URDF."""

from __future__ import annotations

import math
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from rla_gym.sim import make_sim_env
from rla_gym.sim.robots.assets import RobotAssetsMissing, ensure_robot_assets
from rla_gym.sim.robots.ur10e_stick_urdf import ARM_JOINTS, mesh_files, urdf_text, write_urdf
from rla_gym.specs import TASKS, check_pair, get_task
from rla_gym.specs.robots import PANDA, ROBOTS, UR10E, XARM6_ROBOTIQ


def test_task_table_matches_robot_specs():
    assert set(TASKS) == {"PushT", "RollBall", "PullCube", "PullCubeTool", "PokeCube"}
    for spec in ROBOTS.values():
        assert {t.name for t in TASKS.values() if t.robot == spec.name} == set(spec.tasks)
    assert {t.name: t.max_episode_steps for t in TASKS.values()} == {
        "PushT": 100, "RollBall": 80, "PullCube": 50, "PullCubeTool": 100, "PokeCube": 50,
    }  # fmt: skip
    assert {t.name for t in TASKS.values() if t.wm_reward == "goal"} == {"PokeCube"}
    assert {t.wm_reward for t in TASKS.values()} == {"goal", "aligned"}
    assert all(t.env_id.startswith("RLA-") for t in TASKS.values())


def test_unknown_robot_error_lists_valid_robots():
    with pytest.raises(ValueError, match="valid robots: panda, ur10e, xarm6_robotiq"):
        make_sim_env("ur5", "PushT")


def test_unknown_task_error_lists_valid_tasks():
    with pytest.raises(ValueError, match="valid tasks: PushT, RollBall, PullCube, PullCubeTool, PokeCube"):
        make_sim_env("ur10e", "StackCube")


def test_wrong_pair_error_names_the_robots_tasks():
    with pytest.raises(ValueError, match="runs with robot panda.*ur10e runs: PushT, RollBall"):
        check_pair("ur10e", "PullCube")


def test_task_lookup_by_name_or_env_id():
    assert get_task("RLA-PokeCube-v1") is get_task("PokeCube")
    assert check_pair("ur10e_stick", "PushT")[0] is UR10E  # ManiSkill uid accepted too


@pytest.mark.parametrize(("spec", "download_id"), [(UR10E, "ur10e"), (XARM6_ROBOTIQ, "xarm6")])
def test_missing_assets_error_names_download_command(tmp_path, spec, download_id):
    with pytest.raises(RobotAssetsMissing, match=f"python -m mani_skill.utils.download_asset {download_id}"):
        ensure_robot_assets(spec, asset_dir=tmp_path)


def test_panda_needs_no_downloaded_assets(tmp_path):
    ensure_robot_assets(PANDA, asset_dir=tmp_path)


def test_make_sim_env_checks_assets_before_building(tmp_path, monkeypatch):
    import rla_gym.sim.robots.assets as assets

    monkeypatch.setattr(assets, "maniskill_asset_dir", lambda: tmp_path)
    with pytest.raises(RobotAssetsMissing, match="download_asset ur10e"):
        make_sim_env("ur10e", "PushT")


def test_importing_rla_gym_sim_does_not_import_maniskill():
    code = "import sys, rla_gym.sim; sys.exit('mani_skill' in sys.modules or 'sapien' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def _parse(tmp_path):
    root = ET.fromstring(urdf_text(tmp_path / "meshes"))
    joints = {j.get("name"): j for j in root.iter("joint")}
    return root, joints


def test_ur10e_urdf_chain_and_limits_follow_the_spec(tmp_path):
    root, joints = _parse(tmp_path)
    revolute = [n for n, j in joints.items() if j.get("type") == "revolute"]
    assert tuple(revolute) == ARM_JOINTS
    for i, name in enumerate(ARM_JOINTS[:5]):
        limit = joints[name].find("limit")
        assert float(limit.get("lower")) == pytest.approx(UR10E.action_low[i])
        assert float(limit.get("upper")) == pytest.approx(UR10E.action_high[i])
    lift = joints["shoulder_lift_joint"].find("origin")
    assert [float(x) for x in lift.get("rpy").split()] == pytest.approx([0, math.pi / 2, 0])
    assert joints["tcp_joint"].find("origin").get("xyz") == "0 0 0.1"  # tcp = stick tip, 10 cm
    stick = root.find("link[@name='stick_link']/collision/geometry/cylinder")
    assert (float(stick.get("radius")), float(stick.get("length"))) == (0.008, 0.1)
    base = root.find("link[@name='base_link']")
    assert base.find("collision") is None
    assert all(c.find("geometry/cylinder") is not None for c in root.iter("collision"))


def test_ur10e_urdf_points_at_maniskill_meshes_without_copying(tmp_path):
    root, _ = _parse(tmp_path)
    files = [m.get("filename") for m in root.iter("mesh")]
    assert sorted(files) == sorted(str((tmp_path / "meshes" / m).absolute()) for m in mesh_files())
    path = write_urdf(tmp_path / "meshes", cache_dir=tmp_path / "cache")
    assert path.parent == tmp_path / "cache" and path.suffix == ".urdf"
    assert write_urdf(tmp_path / "meshes", cache_dir=tmp_path / "cache") == path  # same content, same file
    assert not list((tmp_path / "cache").glob("*.obj"))
