"""RGB streams on disk: H.264 mp4 via imageio's ffmpeg, or a folder of frame images.

The authors store each camera as `<camera>_rgb.mp4` (libx264, yuv420p, 30 fps, crf 23, preset fast;
reference 8.3); their `maniskill_jpgs` variant stores a folder `<camera>_rgb/` of images instead.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


def write_video(path: Path, frames: np.ndarray, *, fps: float = 30, crf: int = 23, preset: str = "fast") -> None:
    """Write `frames (T, H, W, 3) uint8` as H.264 (yuv420p) with the authors' codec settings."""
    import imageio.v2 as iio

    _check_frames(frames)
    t, h, w, _ = frames.shape
    if h % 2 or w % 2:
        raise ValueError(f"frames are {h}x{w}; H.264 yuv420p needs even height and width")
    writer = iio.get_writer(
        str(path),
        format="FFMPEG",
        mode="I",
        fps=fps,
        codec="libx264",
        pixelformat="yuv420p",
        quality=None,  # rate control by crf below, not imageio's qscale
        macro_block_size=1,  # never let imageio rescale the frames
        ffmpeg_log_level="error",
        output_params=["-crf", str(int(crf)), "-preset", preset],
    )
    try:
        for frame in frames:
            writer.append_data(frame)
    finally:
        writer.close()


def read_video(path: Path) -> np.ndarray:
    """All frames of a video file or a frame-image folder -> `(T, H, W, 3) uint8`."""
    path = Path(path)
    if path.is_dir():
        return _read_frame_dir(path)
    import imageio.v2 as iio

    reader = iio.get_reader(str(path), format="FFMPEG")
    try:
        # iterate: the reader reports nframes=inf, so list(reader) would try to preallocate it
        frames = [np.asarray(f) for f in reader.iter_data()]
    finally:
        reader.close()
    if not frames:
        raise ValueError(f"{path} holds no frames")
    return _to_rgb(np.stack(frames))


def find_rgb_stream(traj_dir: Path, camera: str, suffix: str = "_rgb") -> Path | None:
    """The `<camera><suffix>` stream of an episode folder (RGB by default): a video file or a folder of images."""
    stem = f"{camera}{suffix}"
    folder = traj_dir / stem
    if folder.is_dir() and _frame_files(folder):
        return folder
    for ext in VIDEO_EXTENSIONS:
        candidate = traj_dir / f"{stem}{ext}"
        if candidate.is_file():
            return candidate
    return None


def list_rgb_cameras(traj_dir: Path) -> list[str]:
    """Cameras with an RGB stream in an episode folder (the `.wo_robot` variants excluded)."""
    cams = set()
    for entry in traj_dir.iterdir():
        name = entry.name
        stem = name if entry.is_dir() else entry.stem
        if entry.is_file() and entry.suffix.lower() not in VIDEO_EXTENSIONS:
            continue
        if stem.endswith("_rgb"):
            cams.add(stem[: -len("_rgb")])
    return sorted(cams)


def resize_frames(frames: np.ndarray, size: int | tuple[int, int]) -> np.ndarray:
    """Bilinear resize `(T, H, W, 3) uint8` to `size` (int = square, or (H, W)).

    Pillow's bilinear filter widens its support when shrinking (antialiased), so 512 -> 64 does not
    alias the way plain 2x2 bilinear sampling would.
    """
    from PIL import Image

    out_h, out_w = (size, size) if isinstance(size, int) else size
    if frames.shape[1:3] == (out_h, out_w):
        return frames
    out = np.empty((frames.shape[0], out_h, out_w, 3), dtype=np.uint8)
    for i, frame in enumerate(frames):
        out[i] = np.asarray(Image.fromarray(frame).resize((out_w, out_h), Image.BILINEAR))
    return out


def _check_frames(frames: np.ndarray) -> None:
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be uint8 (T, H, W, 3); got {frames.dtype} {tuple(frames.shape)}")
    if frames.shape[0] == 0:
        raise ValueError("frames must hold at least one frame; got T = 0")


def _frame_files(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS]

    def natural(p: Path) -> tuple:
        return tuple(int(s) if s.isdigit() else s.lower() for s in re.split(r"(\d+)", p.name))

    return sorted(files, key=natural)


def _read_frame_dir(folder: Path) -> np.ndarray:
    import imageio.v3 as iio

    files = _frame_files(folder)
    if not files:
        raise ValueError(f"{folder} holds no frame images ({', '.join(IMAGE_EXTENSIONS)})")
    return _to_rgb(np.stack([np.asarray(iio.imread(p)) for p in files]))


def _to_rgb(frames: np.ndarray) -> np.ndarray:
    if frames.ndim == 3:  # grayscale images
        frames = np.repeat(frames[..., None], 3, axis=-1)
    return np.ascontiguousarray(frames[..., :3]).astype(np.uint8, copy=False)
