"""URDF of the paper's UR10e with a 10 cm stick end effector, written at run time.

The kinematic chain, limits, stick and tcp follow the reference (section 8.1). The visual meshes are
ManiSkill's own UR10e meshes (`<ASSET_DIR>/robots/ur10e/assets/*.obj`, downloaded by ManiSkill); they
are referenced by absolute path and never copied, so the URDF is generated into a cache folder for
the mesh folder at hand. Collisions are primitive cylinders (the base has none). No simulator import.
"""

from __future__ import annotations

import hashlib
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from rla_gym.specs.robots import UR10E

HALF_PI = math.pi / 2
STICK_RADIUS = 0.008
STICK_LENGTH = 0.1

# URDF material name -> rgba (the colours of ManiSkill's UR10e MJCF)
MATERIALS: dict[str, tuple[float, float, float, float]] = {
    "black": (0.033, 0.033, 0.033, 1.0),
    "jointgray": (0.278, 0.278, 0.278, 1.0),
    "linkgray": (0.82, 0.82, 0.82, 1.0),
    "urblue": (0.49, 0.678, 0.8, 1.0),
}


@dataclass(frozen=True)
class Cylinder:
    """A cylinder along its local z axis, centred at `xyz` (link frame)."""

    radius: float
    length: float
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Inertial:
    mass: float
    diag: tuple[float, float, float]
    xyz: tuple[float, float, float] = (0.0, 0.0, 0.0)
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Link:
    name: str
    inertial: Inertial | None
    meshes: tuple[tuple[str, str], ...] = ()  # (mesh file in the asset folder, material)
    collisions: tuple[Cylinder, ...] = ()
    stick: Cylinder | None = None  # visual and collision primitive


@dataclass(frozen=True)
class Joint:
    name: str
    parent: str
    child: str
    xyz: tuple[float, float, float]
    rpy: tuple[float, float, float] = (0.0, 0.0, 0.0)
    axis: tuple[float, float, float] | None = None  # None: fixed joint
    effort: float = 0.0


# Masses, inertias and collision capsules come from ManiSkill's ur10e.xml; capsules became cylinders
# whose length covers the capsule's straight part plus one radius.
# fmt: off
LINKS: tuple[Link, ...] = (
    Link("base_link", Inertial(4.0, (0.0061063308908, 0.0061063308908, 0.01125)),
         meshes=(("base_0.obj", "black"), ("base_1.obj", "jointgray"))),
    Link("shoulder_link", Inertial(7.778, (0.0314743, 0.0314743, 0.0218756)),
         meshes=(("shoulder_0.obj", "urblue"), ("shoulder_1.obj", "black"), ("shoulder_2.obj", "jointgray")),
         collisions=(Cylinder(0.078, 0.198, (0.0, 0.0, -0.04)),)),
    Link("upper_arm_link", Inertial(12.93, (0.423074, 0.423074, 0.0363656), (0.0, 0.0, 0.3065)),
         meshes=(("upperarm_0.obj", "black"), ("upperarm_1.obj", "jointgray"),
                 ("upperarm_2.obj", "urblue"), ("upperarm_3.obj", "linkgray")),
         collisions=(Cylinder(0.078, 0.238, (0.0, -0.05, 0.0), (HALF_PI, 0.0, 0.0)),
                     Cylinder(0.06, 0.66, (0.0, 0.0, 0.3)))),
    Link("forearm_link", Inertial(3.87, (0.11059, 0.11059, 0.0108844), (0.0, 0.0, 0.2855)),
         meshes=(("forearm_0.obj", "urblue"), ("forearm_1.obj", "black"),
                 ("forearm_2.obj", "jointgray"), ("forearm_3.obj", "linkgray")),
         collisions=(Cylinder(0.058, 0.188, (0.0, 0.08, 0.0), (HALF_PI, 0.0, 0.0)),
                     Cylinder(0.043, 0.603, (0.0, 0.0, 0.29)))),
    Link("wrist_1_link",
         Inertial(1.96, (0.0055125, 0.00510825, 0.00510825), (0.0, 0.135, 0.0), (HALF_PI, -HALF_PI, 0.0)),
         meshes=(("wrist1_0.obj", "black"), ("wrist1_1.obj", "urblue"), ("wrist1_2.obj", "jointgray")),
         collisions=(Cylinder(0.05, 0.19, (0.0, 0.06, 0.0), (HALF_PI, 0.0, 0.0)),)),
    Link("wrist_2_link",
         Inertial(1.96, (0.0055125, 0.00510825, 0.00510825), (0.0, 0.0, 0.12), (HALF_PI, -HALF_PI, 0.0)),
         meshes=(("wrist2_0.obj", "black"), ("wrist2_1.obj", "urblue"), ("wrist2_2.obj", "jointgray")),
         collisions=(Cylinder(0.046, 0.176, (0.0, 0.0, 0.05)),
                     Cylinder(0.046, 0.132, (0.0, 0.028, 0.12), (HALF_PI, 0.0, 0.0)))),
    Link("wrist_3_link",
         Inertial(0.202, (0.000204525, 0.000144346, 0.000144346), (0.0, 0.092, 0.0), (math.pi, 0.0, -HALF_PI)),
         meshes=(("wrist3.obj", "linkgray"),),
         collisions=(Cylinder(0.046, 0.04, (0.0, 0.097, 0.0), (HALF_PI, 0.0, 0.0)),)),
    Link("attachment_link", Inertial(0.01, (1e-5, 1e-5, 1e-5))),
    Link("stick_link", Inertial(0.1, (1e-4, 1e-4, 1e-5), (0.0, 0.0, STICK_LENGTH / 2)),
         stick=Cylinder(STICK_RADIUS, STICK_LENGTH, (0.0, 0.0, STICK_LENGTH / 2))),
    Link("tcp", None),
)
# fmt: on

# Arm joint order = the spec's action order, then the padded wrist_3.
ARM_JOINTS: tuple[str, ...] = (
    "shoulder_pan_joint",
    "shoulder_lift_joint",
    "elbow_joint",
    "wrist_1_joint",
    "wrist_2_joint",
    "wrist_3_joint",
)
# fmt: off
_Y, _Z = (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)
JOINTS: tuple[Joint, ...] = (
    Joint("shoulder_pan_joint", "base_link", "shoulder_link", (0.0, 0.0, 0.181), axis=_Z, effort=330),
    Joint("shoulder_lift_joint", "shoulder_link", "upper_arm_link", (0.0, 0.176, 0.0), (0.0, HALF_PI, 0.0),
          axis=_Y, effort=330),
    Joint("elbow_joint", "upper_arm_link", "forearm_link", (0.0, -0.137, 0.613), axis=_Y, effort=150),
    Joint("wrist_1_joint", "forearm_link", "wrist_1_link", (0.0, 0.0, 0.571), (0.0, HALF_PI, 0.0),
          axis=_Y, effort=56),
    Joint("wrist_2_joint", "wrist_1_link", "wrist_2_link", (0.0, 0.135, 0.0), axis=_Z, effort=56),
    Joint("wrist_3_joint", "wrist_2_link", "wrist_3_link", (0.0, 0.0, 0.12), axis=_Y, effort=56),
    # the stick axis (attachment z) is the wrist_3 axis, so wrist_3 does not move the tip
    Joint("attachment_joint", "wrist_3_link", "attachment_link", (0.0, 0.1, 0.0), (-HALF_PI, 0.0, 0.0)),
    Joint("stick_joint", "attachment_link", "stick_link", (0.0, 0.0, 0.0)),
    Joint("tcp_joint", "stick_link", "tcp", (0.0, 0.0, STICK_LENGTH)),
)
# fmt: on
JOINT_VELOCITY = 3.14


def joint_limits() -> dict[str, tuple[float, float]]:
    """Arm joint limits: the spec's five action bounds, and wrist_3 as wide as shoulder_pan."""
    lows = (*UR10E.action_low, UR10E.action_low[0])
    highs = (*UR10E.action_high, UR10E.action_high[0])
    return {name: (lo, hi) for name, lo, hi in zip(ARM_JOINTS, lows, highs)}


def mesh_files() -> tuple[str, ...]:
    """Every mesh file the URDF needs from ManiSkill's UR10e asset folder."""
    return tuple(mesh for link in LINKS for mesh, _ in link.meshes)


def _v(values: tuple[float, ...]) -> str:
    return " ".join(f"{x:.9g}" for x in values)


def _origin(xyz: tuple[float, ...], rpy: tuple[float, ...]) -> str:
    return f'<origin xyz="{_v(xyz)}" rpy="{_v(rpy)}"/>'


def _cylinder(c: Cylinder) -> str:
    return f'{_origin(c.xyz, c.rpy)}<geometry><cylinder radius="{c.radius}" length="{c.length}"/></geometry>'


def _link(link: Link, mesh_dir: Path) -> list[str]:
    out = [f'  <link name="{link.name}">']
    for mesh, material in link.meshes:
        out.append(
            f'    <visual><geometry><mesh filename="{mesh_dir / mesh}"/></geometry>'
            f'<material name="{material}"/></visual>'
        )
    for c in link.collisions:
        out.append(f"    <collision>{_cylinder(c)}</collision>")
    if link.stick is not None:
        out.append(f'    <visual>{_cylinder(link.stick)}<material name="linkgray"/></visual>')
        out.append(f"    <collision>{_cylinder(link.stick)}</collision>")
    if link.inertial is not None:
        i = link.inertial
        out.append(
            f'    <inertial>{_origin(i.xyz, i.rpy)}<mass value="{i.mass}"/>'
            f'<inertia ixx="{i.diag[0]}" ixy="0" ixz="0" iyy="{i.diag[1]}" iyz="0" izz="{i.diag[2]}"/></inertial>'
        )
    out.append("  </link>")
    return out


def _joint(joint: Joint, limits: dict[str, tuple[float, float]]) -> list[str]:
    kind = "fixed" if joint.axis is None else "revolute"
    out = [
        f'  <joint name="{joint.name}" type="{kind}">',
        f'    <parent link="{joint.parent}"/><child link="{joint.child}"/>',
        f"    {_origin(joint.xyz, joint.rpy)}",
    ]
    if joint.axis is not None:
        lo, hi = limits[joint.name]
        out.append(f'    <axis xyz="{_v(joint.axis)}"/>')
        out.append(f'    <limit lower="{lo}" upper="{hi}" effort="{joint.effort}" velocity="{JOINT_VELOCITY}"/>')
    out.append("  </joint>")
    return out


def urdf_text(mesh_dir: str | Path) -> str:
    """The URDF as a string, its visuals pointing at `mesh_dir` (ManiSkill's `robots/ur10e/assets`)."""
    mesh_dir = Path(mesh_dir).absolute()
    limits = joint_limits()
    lines = ['<?xml version="1.0"?>', '<robot name="ur10e_stick">']
    lines += [f'  <material name="{n}"><color rgba="{_v(rgba)}"/></material>' for n, rgba in MATERIALS.items()]
    for link in LINKS:
        lines += _link(link, mesh_dir)
    for joint in JOINTS:
        lines += _joint(joint, limits)
    lines.append("</robot>")
    return "\n".join(lines) + "\n"


def default_cache_dir() -> Path:
    """Where generated files go: `$RLA_GYM_CACHE`, else `$XDG_CACHE_HOME/rla_gym` (~/.cache/rla_gym)."""
    if os.environ.get("RLA_GYM_CACHE"):
        return Path(os.environ["RLA_GYM_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "rla_gym"


def _write_once(path: Path, text: str) -> Path:
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)  # atomic: concurrent processes never read half a file
    return path


def write_urdf(mesh_dir: str | Path, cache_dir: str | Path | None = None) -> Path:
    """Write the URDF for `mesh_dir` once (file named by content hash) and return its path.

    Default folder: `default_cache_dir()/robots`, or the system temp folder if that is not writable.
    """
    text = urdf_text(mesh_dir)
    name = f"ur10e_stick-{hashlib.sha1(text.encode()).hexdigest()[:12]}.urdf"
    if cache_dir is not None:
        return _write_once(Path(cache_dir) / name, text)
    try:
        return _write_once(default_cache_dir() / "robots" / name, text)
    except OSError:
        return _write_once(Path(tempfile.gettempdir()) / "rla_gym" / "robots" / name, text)
