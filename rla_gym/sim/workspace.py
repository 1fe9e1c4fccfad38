"""The shared tabletop workspace every task runs in (reference 8.1 "base placement", 8.2).

`UnifiedWorkspace` is a mixin placed before a ManiSkill task class. It owns what all five tasks
share: robot base placement, the rest pose + N(0, 0.02) noise on every joint after the task has
placed its objects, lighting, cameras and sim settings. The task class keeps its objects, episode
randomisation, success and rewards.

Table: the paper's small table asset (`table-small.glb`) is not available here, so the workspace uses
ManiSkill's own textured `table.glb` (the paper code's `USE_ORIGIN_TABLE` variant): same top plane
(z = 0), same 1.209 m depth along x centred at x = -0.12, but 2.418 m wide along y and standing on a
floor at z = -0.92. Upstream PushT's whitened table is replaced by this textured one, as in the paper.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import sapien
import torch
from mani_skill.envs.sapien_env import BaseEnv
from mani_skill.sensors.camera import CameraConfig
from mani_skill.utils import sapien_utils
from mani_skill.utils.scene_builder.table import TableSceneBuilder
from transforms3d.euler import euler2quat

from rla_gym.specs.cameras import CAMERAS, FRONT_CAMERA, HUMAN_CAMERA, CameraSpec
from rla_gym.specs.robots import RobotSpec, get_robot

TABLE_HEIGHT = 0.9196429  # ManiSkill's table.glb scaled 1.75: top at z = 0


class WorkspaceTable(TableSceneBuilder):
    """ManiSkill's table and floor; `initialize` only resets the table (the workspace places the robot)."""

    def initialize(self, env_idx: torch.Tensor) -> None:
        self.table.set_pose(sapien.Pose(p=[-0.12, 0, -TABLE_HEIGHT], q=euler2quat(0, 0, np.pi / 2)))


@contextmanager
def _tables_replaced(module_name: str) -> Iterator[None]:
    """While an upstream task's `_load_scene` runs, its module-level table builders build our table.

    Upstream tasks create their table inline (`TableSceneBuilder(...)`, PushT's `WhiteTableSceneBuilder`);
    swapping the names for the duration of that one call reuses their object-building code unchanged.
    """
    module = sys.modules[module_name]
    names = [n for n in ("TableSceneBuilder", "WhiteTableSceneBuilder") if hasattr(module, n)]
    saved = {n: getattr(module, n) for n in names}
    try:
        for n in names:
            setattr(module, n, WorkspaceTable)
        yield
    finally:
        for n, builder in saved.items():
            setattr(module, n, builder)


def _first_defining(cls: type, attr: str, after: type) -> type:
    mro = cls.__mro__
    for klass in mro[mro.index(after) + 1 :]:
        if attr in klass.__dict__:
            return klass
    raise TypeError(f"no class after {after.__name__} in {cls.__name__}'s MRO defines {attr}")


class UnifiedWorkspace:
    """Mixin for `class Task(UnifiedWorkspace, UpstreamTaskEnv)`; see the module docstring.

    Keyword arguments (besides ManiSkill's): `camera_width`, `camera_height` (default 128),
    `camera_names` (default just the front camera), `shader_pack` ("minimal", fastest),
    `robot_init_high` (start from the `rest_high` keyframe), `robot_init_qpos_noise` (0.02 rad).
    """

    DEFAULT_ROBOT: str = "panda"  # our robot name; tasks set their own

    def __init__(
        self,
        *args,
        robot_uids: str | None = None,
        camera_width: int = 128,
        camera_height: int = 128,
        camera_names: tuple[str, ...] | list[str] = (FRONT_CAMERA,),
        shader_pack: str = "minimal",
        robot_init_high: bool = False,
        robot_init_qpos_noise: float = 0.02,
        **kwargs,
    ) -> None:
        unknown = [c for c in camera_names if c not in CAMERAS]
        if unknown:
            raise ValueError(f"unknown camera(s) {unknown}; valid cameras: {', '.join(CAMERAS)}")
        self.robot_spec: RobotSpec = get_robot(robot_uids or self.DEFAULT_ROBOT)
        self.camera_width, self.camera_height = int(camera_width), int(camera_height)
        self.camera_names = tuple(camera_names)
        self.shader_pack = shader_pack
        self.robot_init_high = robot_init_high
        super().__init__(
            *args,
            robot_uids=self.robot_spec.maniskill_uid,
            robot_init_qpos_noise=robot_init_qpos_noise,
            **kwargs,
        )

    # -- loading ------------------------------------------------------------------------------ #
    def _load_agent(self, options: dict) -> None:
        BaseEnv._load_agent(self, options, sapien.Pose(p=list(self.robot_spec.base_xyz)))

    def _load_scene(self, options: dict) -> None:
        task_cls = _first_defining(type(self), "_load_scene", UnifiedWorkspace)
        with _tables_replaced(task_cls.__module__):
            super()._load_scene(options)

    def _load_lighting(self, options: dict) -> None:
        self.scene.set_ambient_light([0.6, 0.6, 0.6])
        for y in (0.5, -0.5):
            self.scene.add_point_light([0.5, y, 1.0], [0.75, 0.75, 0.75], shadow=False)

    @property
    def _default_sim_config(self):
        config = super()._default_sim_config
        config.spacing = 50
        config.gpu_memory_config.found_lost_pairs_capacity = 2**25
        config.gpu_memory_config.max_rigid_patch_count = 2**21
        config.gpu_memory_config.max_rigid_contact_count = 2**23
        config.scene_config.enable_ccd = True
        return config

    def _camera(self, uid: str, cam: CameraSpec, width: int, height: int) -> CameraConfig:
        pose = sapien_utils.look_at(eye=list(cam.eye), target=list(cam.target))
        return CameraConfig(uid, pose, width, height, cam.fov, 0.01, 100, shader_pack=self.shader_pack)

    @property
    def _default_sensor_configs(self) -> list[CameraConfig]:
        return [self._camera(n, CAMERAS[n], self.camera_width, self.camera_height) for n in self.camera_names]

    @property
    def _default_human_render_camera_configs(self) -> CameraConfig:
        return self._camera("render_camera", HUMAN_CAMERA, 512, 512)

    # -- episodes ----------------------------------------------------------------------------- #
    def _initialize_episode(self, env_idx: torch.Tensor, options: dict) -> None:
        with torch.device(self.device):
            self._initialize_objects(env_idx, options)
            self._initialize_agent(env_idx)

    def _initialize_objects(self, env_idx: torch.Tensor, options: dict) -> None:
        """The task's own episode set-up (objects, goals). Override to change its randomisation."""
        super()._initialize_episode(env_idx, options)

    def _initialize_agent(self, env_idx: torch.Tensor) -> None:
        """Rest (or rest_high) keyframe + N(0, noise) on every joint, then the robot's base pose."""
        keyframe = self.agent.keyframes["rest_high" if self.robot_init_high else "rest"]
        rest = torch.as_tensor(np.asarray(keyframe.qpos), dtype=torch.float32)
        qpos = rest + torch.randn(len(env_idx), rest.numel()) * self.robot_init_qpos_noise  # (B, qpos_dim)
        self.agent.reset(qpos)
        self.agent.robot.set_pose(sapien.Pose(p=list(self.robot_spec.base_xyz)))
