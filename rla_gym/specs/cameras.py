"""The workspace's fixed cameras (reference 8.2): look-at poses and vertical field of view. No simulator import.

`front_lower_camera` is the one the paper's world model sees: 32 degrees below horizontal, looking
along -x at the table from the far side of the robot base.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FRONT_CAMERA = "front_lower_camera"


@dataclass(frozen=True)
class CameraSpec:
    """A fixed camera: SAPIEN look-at eye and target (world, m) and vertical field of view (rad)."""

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    fov: float


CAMERAS: dict[str, CameraSpec] = {
    "base_camera": CameraSpec((0.3, 0.0, 0.6), (-0.1, 0.0, 0.1), math.pi / 2),
    FRONT_CAMERA: CameraSpec((0.8, 0.0, 0.6), (-0.048, 0.0, 0.07), 1.0),
    "front_right_camera": CameraSpec((0.5016, 1.2687, 0.7413), (0.0307, 0.4532, 0.4049), 0.856),
    "rear_left_camera": CameraSpec((-0.5635, 0.7759, 0.6371), (-0.1395, 0.0415, 0.1071), 1.165),
    "rear_camera": CameraSpec((-1.3752, 0.0, 0.8034), (-0.4717, 0.0, 0.3747), 0.934),
    "rear_right_camera": CameraSpec((-0.6571, -0.8381, 0.7590), (-0.2331, -0.1037, 0.2290), 0.941),
    "front_left_camera": CameraSpec((0.5449, -1.2437, 0.7413), (0.0740, -0.4282, 0.4049), 0.792),
}
HUMAN_CAMERA = CameraSpec((1.2, 1.2, 1.0), (0.0, 0.0, 0.2), 1.0)  # env.render(), 512 x 512
