"""RGB streams on disk: H.264 mp4 via imageio's ffmpeg, or a folder of frame images.

The authors store each camera as `<camera>_rgb.mp4` (libx264, yuv420p, 30 fps, crf 23, preset fast;
reference 8.3); their `maniskill_jpgs` variant stores a folder `<camera>_rgb/` of images instead.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
MP4_EXTENSIONS = (".mp4", ".mov")  # ISO base media files: the frame count is in the moov box


class VideoReadError(ValueError):
    """A video file cannot be read (truncated, corrupt, not a video); the message is one line naming it."""


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

    try:
        reader = iio.get_reader(str(path), format="FFMPEG")
        try:
            # iterate: the reader reports nframes=inf, so list(reader) would try to preallocate it
            frames = [np.asarray(f) for f in reader.iter_data()]
        finally:
            reader.close()
    except (OSError, RuntimeError, ValueError) as err:  # imageio puts ffmpeg's whole banner in the message
        raise VideoReadError(f"{path}: cannot read video: {ffmpeg_reason(str(err))}") from None
    if not frames:
        raise VideoReadError(f"{path} holds no frames")
    return _to_rgb(np.stack(frames))


def count_frames(stream: Path) -> int:
    """Frames in an RGB stream without decoding it: the mp4 index (a few KB read), the number of
    images in a frame folder, else ffmpeg's packet count. Raises VideoReadError for a truncated file."""
    stream = Path(stream)
    if stream.is_dir():
        return len(_frame_files(stream))
    if stream.suffix.lower() in MP4_EXTENSIONS:
        return mp4_frame_count(stream)
    import imageio_ffmpeg

    try:
        return int(imageio_ffmpeg.count_frames_and_secs(str(stream))[0])
    except (OSError, RuntimeError, ValueError) as err:
        raise VideoReadError(f"{stream}: cannot read video: {ffmpeg_reason(str(err))}") from None


def mp4_frame_count(path: Path) -> int:
    """Samples of the video track of an mp4/mov file, read from its `moov` index (no decoding).

    The file must be whole: every top-level box must end inside the file and the index must exist
    (an interrupted writer leaves `mdat` short or no `moov` at all)."""
    path = Path(path)
    size = path.stat().st_size
    with open(path, "rb") as f:
        top = list(_mp4_boxes(f, 0, size, path))
        if not top or top[-1][2] != size:
            raise VideoReadError(f"{path}: truncated mp4 ({size} bytes; its boxes declare {top[-1][2] if top else 0})")
        moov = [box for box in top if box[0] == b"moov"]
        if not moov:
            raise VideoReadError(f"{path}: no moov box (an interrupted write); cannot read video")
        for trak in _mp4_children(f, moov[0], b"trak", path):
            mdia = _mp4_child(f, trak, b"mdia", path)
            hdlr = _mp4_child(f, mdia, b"hdlr", path)
            f.seek(hdlr[1] + 8)  # version/flags, pre_defined
            if f.read(4) != b"vide":
                continue
            stbl = _mp4_child(f, _mp4_child(f, mdia, b"minf", path), b"stbl", path)
            stsz = _mp4_child(f, stbl, b"stsz", path)
            f.seek(stsz[1] + 8)  # version/flags, sample_size
            return int(struct.unpack(">I", f.read(4))[0])
    raise VideoReadError(f"{path}: no video track in the mp4")


def _mp4_boxes(f, start: int, end: int, path: Path):
    """(type, payload start, box end) of the boxes between `start` and `end`."""
    pos = start
    while pos < end:
        f.seek(pos)
        header = f.read(8)
        if len(header) < 8:
            raise VideoReadError(f"{path}: truncated mp4 (a box header at byte {pos} is cut off)")
        box_size, kind = struct.unpack(">I4s", header)
        payload = pos + 8
        if box_size == 1:  # 64-bit size follows
            box_size = struct.unpack(">Q", f.read(8))[0]
            payload += 8
        elif box_size == 0:  # extends to the end of the file
            box_size = end - pos
        if box_size < payload - pos:
            raise VideoReadError(f"{path}: corrupt mp4 (box {kind!r} at byte {pos} has size {box_size})")
        yield kind, payload, pos + box_size
        pos += box_size


def _mp4_children(f, box: tuple[bytes, int, int], kind: bytes, path: Path) -> list[tuple[bytes, int, int]]:
    return [child for child in _mp4_boxes(f, box[1], box[2], path) if child[0] == kind]


def _mp4_child(f, box: tuple[bytes, int, int], kind: bytes, path: Path) -> tuple[bytes, int, int]:
    found = _mp4_children(f, box, kind, path)
    if not found:
        raise VideoReadError(f"{path}: corrupt mp4 ({box[0].decode(errors='replace')} box has no {kind.decode()})")
    return found[0]


def ffmpeg_reason(text: str) -> str:
    """The one informative line of an ffmpeg error (e.g. "moov atom not found"), without its banner."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    logged = [m.group(1) for line in lines if (m := re.match(r"^\[[^\]]*@ 0x[0-9a-f]+\]\s*(.+)$", line))]
    keywords = ("not found", "error", "invalid", "truncat", "corrupt")
    for candidates in (logged, lines):
        errors = [line for line in candidates if any(k in line.lower() for k in keywords)]
        if errors:
            return errors[0][:200]
    return (logged or lines or ["unknown ffmpeg error"])[-1][:200]


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
