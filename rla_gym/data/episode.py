"""One recorded episode and its folder on disk, in the paper authors' layout (reference 8.3).

    <split_root>/traj_000123/metadata.h5           attributes + per-step arrays
    <split_root>/traj_000123/<camera>_rgb.mp4      H.264, 30 fps

Recording order: frame t is the observation *before* action t, and `target_qpos[t]` is the absolute
joint target commanded from frame t; the post-step observation of the last action is not stored, so
there are T frames and T action rows. The authors' reader sees our files as its own; our extra
per-step arrays, `object_moved` and `<camera>_foreground_mask`, are datasets it never asks for.

Foreground mask: the paper blacks out ground and sky before DINOv3 (reference 6). The authors keep
it as a lossy H.264 stream `<camera>_foreground_mask.mp4` (0/255, thresholded at 127 on read); we
keep it exact and small in metadata.h5 (`<camera>_foreground_mask`, (T, H, W) uint8 0/1, gzip,
one chunk per frame) and read either form into `Episode.mask`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import pickle
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rla_gym.data.split_metadata import split_robot_uid
from rla_gym.data.video import (
    count_frames,
    find_rgb_stream,
    list_rgb_cameras,
    read_video,
    resize_frames,
    write_video,
)
from rla_gym.specs.cameras import FRONT_CAMERA

logger = logging.getLogger(__name__)

DEFAULT_CAMERA = FRONT_CAMERA  # the one camera the released models were trained on
METADATA_H5 = "metadata.h5"
TRAJ_FORMAT = "traj_{:06d}"
OBJECT_MOVE_THRESHOLD_M = 0.002  # the authors' interaction_detect "movement" value (reference 3)
FORMAT_VERSION = 1
MASK_SUFFIX = "_foreground_mask"  # `<camera>_foreground_mask`, the authors' name for the stream
OBJECT_LABELS_SUFFIX = "_object_labels"  # ours: `<camera>_object_labels`, (T, H, W) uint8, k + 1 = task object k
TASK_OBJECT_POSES = "task_object_poses"  # ours: (T, N, 7) poses of `object_names`, goals included


@dataclass
class Episode:
    """A recorded episode; every per-step array has the same length T.

    `object_moved[t]` is True when some object moves during the step from frame t to t + 1, i.e.
    action t is an interaction; the last frame has no step after it and is False. `mask[t]` is the
    camera's foreground at frame t (the paper multiplies RGB by it before DINOv3).
    """

    frames: np.ndarray | None  # (T, H, W, 3) uint8; None when read with `with_frames=False`
    target_qpos: np.ndarray  # (T, A) float32, absolute joint targets commanded from frame t
    qpos: np.ndarray  # (T, J) float32, full robot qpos observed at frame t
    success: bool
    object_moved: np.ndarray  # (T,) bool
    task: str  # env id, e.g. "PushT-v2"
    robot: str  # our robot name ("ur10e", "panda", ...) or the raw uid when unknown
    camera: str = DEFAULT_CAMERA
    eef_pose: np.ndarray | None = None  # (T, 7) tcp pose, p + wxyz quaternion
    object_poses: np.ndarray | None = None  # (T, N, 7) p + xyzw quaternion, actors sorted by name
    actions: np.ndarray | None = None  # (T, A') raw policy output; None -> target_qpos is written
    root_pose: np.ndarray | None = None  # (T, 7) robot base pose p + wxyz; None -> from the robot spec
    task_description: str = ""
    num_attempts: int = 1
    mask: np.ndarray | None = None  # (T, H, W) bool foreground (robot, objects, table); None: not recorded
    intrinsics: np.ndarray | None = None  # (T, 3, 3) OpenCV K of `frames` (scaled with them on resize)
    extrinsics: np.ndarray | None = None  # (T, 3, 4) world -> camera, OpenCV axes
    object_names: tuple[str, ...] = ()  # the task's objects (SimTask.objects) that the two fields below follow
    object_labels: np.ndarray | None = None  # (T, H, W) uint8: k + 1 where object_names[k] is seen, 0 elsewhere
    task_object_poses: np.ndarray | None = None  # (T, N, 7) p + xyzw of object_names, goals included

    def __post_init__(self) -> None:
        self.target_qpos = np.asarray(self.target_qpos, dtype=np.float32)
        self.qpos = np.asarray(self.qpos, dtype=np.float32)
        self.object_moved = np.asarray(self.object_moved, dtype=bool)
        self.success = bool(self.success)
        t = self.target_qpos.shape[0]
        _expect(self.target_qpos, "target_qpos", (t, None))
        _expect(self.qpos, "qpos", (t, None))
        _expect(self.object_moved, "object_moved", (t,))
        if self.frames is not None:
            self.frames = np.asarray(self.frames)
            if self.frames.dtype != np.uint8:
                raise ValueError(f"frames must be uint8; got {self.frames.dtype}")
            _expect(self.frames, "frames", (t, None, None, 3))
        for name, shape in (
            ("eef_pose", (t, 7)),
            ("object_poses", (t, None, 7)),
            ("actions", (t, None)),
            ("root_pose", (t, 7)),
            ("intrinsics", (t, 3, 3)),
            ("extrinsics", (t, 3, 4)),
            ("task_object_poses", (t, len(self.object_names), 7)),
        ):
            value = getattr(self, name)
            if value is not None:
                value = np.asarray(value, dtype=np.float32)
                _expect(value, name, shape)
                setattr(self, name, value)
        if self.mask is not None:
            mask = np.asarray(self.mask)
            self.mask = mask if mask.dtype == bool else mask > 0
            hw = (None, None) if self.frames is None else tuple(self.frames.shape[1:3])
            _expect(self.mask, "mask", (t, *hw))
        self.object_names = tuple(str(n) for n in self.object_names)
        if self.object_labels is not None:
            self.object_labels = np.asarray(self.object_labels, dtype=np.uint8)
            hw = (None, None) if self.frames is None else tuple(self.frames.shape[1:3])
            _expect(self.object_labels, "object_labels", (t, *hw))
            if int(self.object_labels.max(initial=0)) > len(self.object_names):
                raise ValueError(
                    f"object_labels holds label {int(self.object_labels.max())}; only {len(self.object_names)} "
                    f"object_names ({self.object_names})"
                )

    @property
    def num_steps(self) -> int:
        return int(self.target_qpos.shape[0])

    @property
    def action_dim(self) -> int:
        return int(self.target_qpos.shape[1])

    @property
    def interaction_frames(self) -> np.ndarray:
        """Indices t whose step moves an object, `(K,) int64`."""
        return np.flatnonzero(self.object_moved)


def object_motion_flags(object_poses: np.ndarray, threshold: float = OBJECT_MOVE_THRESHOLD_M) -> np.ndarray:
    """`(T, N, 7)` object poses -> `(T,)` bool: some object's position moves > threshold (m) from t to t+1.

    Used when a recording has no `object_moved` array (the authors' data). Only positions count.
    """
    poses = np.asarray(object_poses, dtype=np.float64)
    if poses.ndim == 2:
        poses = poses[:, None]
    moved = np.zeros(poses.shape[0], dtype=bool)
    if poses.shape[0] > 1 and poses.shape[1] > 0:
        step = np.linalg.norm(np.diff(poses[..., :3], axis=0), axis=-1)  # (T-1, N)
        moved[:-1] = (step > threshold).any(axis=1)
    return moved


def traj_dir_name(traj_id: int) -> str:
    return TRAJ_FORMAT.format(int(traj_id))


def write_episode(
    root: Path,
    traj_id: int,
    episode: Episode,
    *,
    crf: int = 23,
    preset: str = "fast",
    fps: int = 30,
    overwrite: bool = False,
) -> Path:
    """Write `root/traj_%06d/` (metadata.h5 + `<camera>_rgb.mp4`) and return its path.

    Written into a hidden `.partial` folder first and renamed at the end, so a crash never leaves a
    half-written `traj_*` folder for readers to trip on.
    """
    if episode.frames is None:
        raise ValueError("episode.frames is None; write_episode needs the frames (T, H, W, 3)")
    root = Path(root)
    final = root / traj_dir_name(traj_id)
    if final.exists() and not overwrite:
        raise FileExistsError(f"{final} exists; pass overwrite=True to replace it")
    partial = root / f".{final.name}.partial"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir(parents=True)
    try:
        _write_metadata_h5(partial / METADATA_H5, episode)
        write_video(partial / f"{episode.camera}_rgb.mp4", episode.frames, fps=fps, crf=crf, preset=preset)
        if final.exists():
            shutil.rmtree(final)
        partial.rename(final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def read_episode(
    path: Path,
    size: int | tuple[int, int] | None = None,
    *,
    camera: str | None = None,
    with_frames: bool = True,
    with_mask: bool = True,
) -> Episode:
    """Read a `traj_*` folder written by us or by the authors.

    `size` resizes frames bilinearly and the mask nearest (int = square, or (H, W)); intrinsics are
    scaled to match. `camera` picks the stream; by default the one we recorded, else
    `front_lower_camera`, else the only one. The foreground mask is read with the frames (unless
    `with_mask=False`) from metadata.h5 or the authors' `<camera>_foreground_mask` stream. Optional
    arrays that are missing come back as None; the `_pickled` / `elem_i` conventions of the authors'
    writer are decoded. Only read data you trust: pickled values run code when loaded.
    Raises FileNotFoundError / OSError / ValueError (with the path) for a broken folder; a header
    read (`with_frames=False`) still checks the RGB stream's frame count against the metadata.
    """
    path = Path(path)
    h5_path = path / METADATA_H5
    if not h5_path.is_file():
        raise FileNotFoundError(f"{path}: no {METADATA_H5}")
    import h5py

    with h5py.File(h5_path, "r") as f:
        attrs = {k: _attr(v) for k, v in f.attrs.items()}
        target_qpos = _per_step(_read_value(f, "target_qpos"))
        if target_qpos is None:
            raise ValueError(f"{h5_path}: expected a 'target_qpos' dataset; found {sorted(f.keys())}")
        qpos = _per_step(_read_value(f, "full_qpos"))
        if qpos is None:
            qpos = _per_step(_read_value(f, "qpos"))
        if qpos is None:
            raise ValueError(f"{h5_path}: expected 'full_qpos' or 'qpos'; found {sorted(f.keys())}")
        eef_pose = _per_step(_try_read(f, "eef_pose", path))
        object_poses = _try_read(f, "object_poses", path)
        actions = _try_read(f, "actions", path)
        root_pose = _per_step(_try_read(f, "root_poses", path))
        moved = _try_read(f, "object_moved", path)
        cam = _choose_camera(path, camera, attrs.get("camera"))
        intrinsics = _per_camera(_try_read(f, f"{cam}_intrinsics", path))
        extrinsics = _per_camera(_try_read(f, f"{cam}_extrinsics", path))
        mask = None
        if with_frames and with_mask and f"{cam}{MASK_SUFFIX}" in f:
            mask = np.asarray(f[f"{cam}{MASK_SUFFIX}"][()]) > 0
        object_names = tuple(str(n) for n in _as_list(attrs.get("object_names")))
        task_object_poses = _try_read(f, TASK_OBJECT_POSES, path)
        labels = None
        if with_frames and with_mask and f"{cam}{OBJECT_LABELS_SUFFIX}" in f:
            labels = np.asarray(f[f"{cam}{OBJECT_LABELS_SUFFIX}"][()], dtype=np.uint8)

    t = target_qpos.shape[0]
    num_steps = attrs.get("num_steps")
    if num_steps is not None and int(num_steps) != t:
        raise ValueError(f"{h5_path}: num_steps attribute says {num_steps}; target_qpos has {t} rows")
    if object_poses is not None and object_poses.ndim == 2:
        object_poses = object_poses[:, None]
    eef_pose = _optional(eef_pose, "eef_pose", (t, 7), path)
    object_poses = _optional(object_poses, "object_poses", (t, None, 7), path)
    actions = _optional(actions, "actions", (t, None), path)
    root_pose = _optional(root_pose, "root_poses", (t, 7), path)
    intrinsics = _optional(intrinsics, f"{cam}_intrinsics", (t, 3, 3), path)
    extrinsics = _optional(extrinsics, f"{cam}_extrinsics", (t, 3, 4), path)
    task_object_poses = _optional(task_object_poses, TASK_OBJECT_POSES, (t, len(object_names), 7), path)
    if moved is None:  # the authors' data: derive the flags from the object poses
        moved = object_motion_flags(object_poses) if object_poses is not None else np.zeros(t, bool)

    stream = find_rgb_stream(path, cam)
    if stream is None:
        raise FileNotFoundError(f"{path}: no RGB stream for camera {cam!r} ({cam}_rgb.mp4 or {cam}_rgb/)")
    if stream.is_file() and stream.stat().st_size == 0:
        raise ValueError(f"{stream} is empty")
    frames = None
    if not with_frames:  # a header: check the stream's frame count from its index (no decoding)
        count = count_frames(stream)
        if count != t:
            raise ValueError(f"{stream}: {count} frames; metadata.h5 has {t} steps")
    else:
        frames = read_video(stream)
        if frames.shape[0] != t:
            raise ValueError(f"{stream}: {frames.shape[0]} frames; metadata.h5 has {t} steps")
        if mask is None and with_mask:
            mask = _read_mask_stream(path, cam, t)
        if mask is not None and mask.shape != (t, *frames.shape[1:3]):
            raise ValueError(
                f"{path}: {cam} foreground mask has shape {mask.shape}; expected {(t, *frames.shape[1:3])}"
            )
        if labels is not None and labels.shape != (t, *frames.shape[1:3]):
            raise ValueError(
                f"{path}: {cam} object labels have shape {labels.shape}; expected {(t, *frames.shape[1:3])}"
            )
        if size is not None:
            out_h, out_w = (size, size) if isinstance(size, int) else size
            if intrinsics is not None:
                intrinsics = scale_intrinsics(intrinsics, frames.shape[1:3], (out_h, out_w))
            frames = resize_frames(frames, size)
            if mask is not None:
                mask = resize_masks(mask, (out_h, out_w))
            if labels is not None:
                labels = resize_masks(labels, (out_h, out_w))

    robot, task = _robot_and_task(path, attrs)
    return Episode(
        frames=frames,
        target_qpos=target_qpos,
        qpos=qpos,
        success=bool(attrs.get("success", False)),
        object_moved=moved,
        task=task,
        robot=robot,
        camera=cam,
        eef_pose=eef_pose,
        object_poses=object_poses,
        actions=actions,
        root_pose=root_pose,
        task_description=str(attrs.get("task_description", "")),
        num_attempts=int(attrs.get("num_attempts", 1)),
        mask=mask,
        intrinsics=intrinsics,
        extrinsics=extrinsics,
        object_names=object_names,
        object_labels=labels,
        task_object_poses=task_object_poses,
    )


def resize_masks(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest-neighbour resize of `(T, H, W)` masks or label images to `(H', W')`: labels must stay labels."""
    out_h, out_w = size
    t, h, w = mask.shape
    if (h, w) == (out_h, out_w):
        return mask
    rows = np.minimum(((np.arange(out_h) + 0.5) * h / out_h).astype(np.int64), h - 1)
    cols = np.minimum(((np.arange(out_w) + 0.5) * w / out_w).astype(np.int64), w - 1)
    return mask[:, rows][:, :, cols]


def scale_intrinsics(k: np.ndarray, src_hw: tuple[int, int], dst_hw: tuple[int, int]) -> np.ndarray:
    """OpenCV `K (..., 3, 3)` of `src_hw` frames -> K of the same frames resized to `dst_hw` (fx, cx, fy, cy)."""
    k = np.array(k, dtype=np.float32, copy=True)
    k[..., 0, :] *= dst_hw[1] / src_hw[1]
    k[..., 1, :] *= dst_hw[0] / src_hw[0]
    return k


def _read_mask_stream(path: Path, camera: str, t: int) -> np.ndarray | None:
    """The authors' `<camera>_foreground_mask` video/image stream (0/255, lossy) as `(T, H, W)` bool."""
    stream = find_rgb_stream(path, camera, suffix=MASK_SUFFIX)
    if stream is None:
        return None
    values = read_video(stream)
    if values.shape[0] != t:
        raise ValueError(f"{stream}: {values.shape[0]} frames; metadata.h5 has {t} steps")
    return values[..., 0] > 127  # the authors' reader thresholds at 127


# --- metadata.h5 -------------------------------------------------------------------------------


def _write_metadata_h5(path: Path, ep: Episode) -> None:
    import h5py

    t = ep.num_steps
    root_pose = ep.root_pose if ep.root_pose is not None else np.tile(_default_root_pose(ep.robot), (t, 1))
    per_step: dict[str, np.ndarray] = {
        "actions": (ep.actions if ep.actions is not None else ep.target_qpos).astype(np.float32),  # (T, A)
        "qpos": ep.qpos[:, None].astype(np.float32),  # (T, 1, J)
        "full_qpos": ep.qpos[:, None].astype(np.float32),  # (T, 1, J)
        "target_qpos": ep.target_qpos[:, None].astype(np.float32),  # (T, 1, A)
        "root_poses": root_pose[:, None].astype(np.float32),  # (T, 1, 7)
        "object_moved": ep.object_moved.astype(bool),  # (T,) ours; the authors' reader ignores it
    }
    if ep.eef_pose is not None:
        per_step["eef_pose"] = ep.eef_pose.astype(np.float32)  # (T, 7)
    if ep.object_poses is not None:
        per_step["object_poses"] = ep.object_poses.astype(np.float32)  # (T, N, 7)
    if ep.intrinsics is not None:
        per_step[f"{ep.camera}_intrinsics"] = ep.intrinsics[:, None].astype(np.float32)  # (T, 1, 3, 3)
    if ep.extrinsics is not None:
        per_step[f"{ep.camera}_extrinsics"] = ep.extrinsics[:, None].astype(np.float32)  # (T, 1, 3, 4)
    if ep.task_object_poses is not None:
        per_step[TASK_OBJECT_POSES] = ep.task_object_poses.astype(np.float32)  # (T, N, 7)
    with h5py.File(path, "w") as f:
        f.attrs["success"] = np.bool_(ep.success)
        f.attrs["task_description"] = ep.task_description or ep.task
        f.attrs["num_steps"] = np.int64(t)
        f.attrs["num_attempts"] = np.int64(ep.num_attempts)
        # ours, beside the authors' attributes
        f.attrs["task"] = ep.task
        f.attrs["robot"] = ep.robot
        f.attrs["camera"] = ep.camera
        f.attrs["rla_gym_format"] = np.int64(FORMAT_VERSION)
        if ep.object_names:
            f.attrs["object_names"] = list(ep.object_names)
        for key, value in per_step.items():
            ds = f.create_dataset(key, data=value)
            ds.attrs["_frame_aligned"] = True
        if ep.mask is not None:  # ours: exact 0/1, one gzip chunk per frame (a few hundred bytes each)
            meaning = "1: robot, task objects, table; 0: ground and empty background (segmentation id 0)"
            _write_per_frame_image(f, f"{ep.camera}{MASK_SUFFIX}", ep.mask.astype(np.uint8), meaning)
        if ep.object_labels is not None:
            meaning = "k + 1: task object object_names[k] (file attribute) is seen there; 0: anything else"
            _write_per_frame_image(f, f"{ep.camera}{OBJECT_LABELS_SUFFIX}", ep.object_labels, meaning)


def _write_per_frame_image(f: Any, key: str, data: np.ndarray, meaning: str) -> None:
    """A (T, H, W) uint8 image per frame, stored exactly: one gzip chunk per frame."""
    _, h, w = data.shape
    ds = f.create_dataset(key, data=data, chunks=(1, h, w), compression="gzip", compression_opts=4, shuffle=True)
    ds.attrs["_frame_aligned"] = True
    ds.attrs["meaning"] = meaning


def _default_root_pose(robot: str) -> np.ndarray:
    from rla_gym.specs.robots import get_robot

    try:
        xyz = get_robot(robot).base_xyz
    except ValueError:
        xyz = (0.0, 0.0, 0.0)
    return np.array([*xyz, 1.0, 0.0, 0.0, 0.0], dtype=np.float32)  # p + wxyz identity


def _read_value(f: Any, key: str) -> np.ndarray | None:
    """A dataset as an array, decoding the authors' pickled forms; None when the key is absent."""
    if key not in f:
        return None
    node = f[key]
    if hasattr(node, "keys"):  # a group of pickled `elem_i`, one per frame
        n = int(node.attrs.get("_length", len(node)))
        items = []
        for i in range(n):
            name = f"elem_{i}"
            if name in node:
                items.append(pickle.loads(node[name][()].tobytes()))
            else:
                items.append(json.loads(node.attrs[name]))
        return np.asarray(items)
    if node.attrs.get("_pickled", False):
        return np.asarray(pickle.loads(node[()].tobytes()))
    return np.asarray(node[()])


def _try_read(f: Any, key: str, path: Path) -> np.ndarray | None:
    """An optional dataset; one we cannot decode is skipped (logged), not fatal."""
    try:
        return _read_value(f, key)
    except Exception as exc:  # any decoding failure of an optional key
        logger.debug("%s: ignoring unreadable %s: %s", path, key, exc)
        return None


def _per_camera(value: np.ndarray | None) -> np.ndarray | None:
    """The authors' `(T, 1, 3, k)` camera matrices (one camera) -> `(T, 3, k)`."""
    if value is not None and value.ndim == 4 and value.shape[1] == 1:
        return value[:, 0]
    return value


def _per_step(value: np.ndarray | None) -> np.ndarray | None:
    """`(T, 1, D)` (one agent) -> `(T, D)`; `(T, D)` unchanged."""
    if value is None:
        return None
    if value.ndim == 3:
        return value[:, 0]
    return value


def _as_list(value: Any) -> list[Any]:
    """An h5 attribute that holds a list (array of str/bytes) as a list of str; absent -> []."""
    if value is None:
        return []
    items = value.tolist() if isinstance(value, np.ndarray) else ([value] if isinstance(value, (str, bytes)) else value)
    return [v.decode() if isinstance(v, bytes) else v for v in items]


def _attr(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _choose_camera(path: Path, wanted: str | None, recorded: str | None) -> str:
    if wanted:
        return wanted
    if recorded:
        return str(recorded)
    cams = list_rgb_cameras(path)
    if DEFAULT_CAMERA in cams or not cams:
        return DEFAULT_CAMERA
    if len(cams) > 1:
        logger.debug("%s: cameras %s and no %s; using %s", path, cams, DEFAULT_CAMERA, cams[0])
    return cams[0]


def _robot_and_task(path: Path, attrs: dict[str, Any]) -> tuple[str, str]:
    """Ours are attributes; the authors' come from `<robot>/<Task>/<success|fail>/traj_*` and metadata.json."""
    from rla_gym.specs.robots import get_robot

    split = path.parent
    base = split.parent if split.name in ("success", "fail") else split
    task = str(attrs.get("task") or base.name)
    robot = str(attrs.get("robot") or split_robot_uid(split) or base.parent.name)
    with contextlib.suppress(ValueError):  # an unknown robot keeps its raw name
        robot = get_robot(robot).name
    return robot, task


def _optional(value: np.ndarray | None, name: str, shape: tuple[int | None, ...], path: Path) -> np.ndarray | None:
    """An optional array in the expected shape, else None (logged): it must not sink the episode."""
    if value is None:
        return None
    try:
        value = np.asarray(value, dtype=np.float32)
        _expect(value, name, shape)
    except (TypeError, ValueError) as exc:
        logger.debug("%s: ignoring %s: %s", path, name, exc)
        return None
    return value


def _expect(array: np.ndarray, name: str, shape: tuple[int | None, ...]) -> None:
    ok = array.ndim == len(shape) and all(s is None or s == a for s, a in zip(shape, array.shape))
    if not ok:
        want = "(" + ", ".join("·" if s is None else str(s) for s in shape) + ")"
        raise ValueError(f"{name} has shape {tuple(array.shape)}; expected {want}")
