"""Demo frames kept as the H.264 streams they were recorded in, so a bundle can carry every successful demo.

The 279 successful RollBall training demos are 9 058 frames: 111 MB as 64 px uint8, 222 MB as fp16 DINO tokens, and
2.7 MB as the episodes' own H.264 streams. The streams are copied, not re-encoded (`ffmpeg -c copy` into Annex-B
form), joined into one stream (each episode starts with its parameter sets and an IDR frame) and decoded by one
ffmpeg process; H.264 decoding is bit-exact, so the frames equal what training read from the episode files.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rla_gym.data.video import MP4_EXTENSIONS, VideoReadError, ffmpeg_reason, resize_frames

_DECODED: OrderedDict[tuple, np.ndarray] = OrderedDict()  # (stream sha256, frames, size) -> read-only frames
_DECODED_MAX = 2


def _ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def is_h264_file(path: Path) -> bool:
    """Whether `path` is an mp4/mov file (a frame folder or another container is not joined)."""
    path = Path(path)
    return path.is_file() and path.suffix.lower() in MP4_EXTENSIONS


def join_h264(paths: Sequence[Path]) -> bytes:
    """The H.264 streams of `paths` (mp4 files), copied without re-encoding and joined as one Annex-B stream."""
    parts = []
    for path in paths:
        cmd = [_ffmpeg(), "-v", "error", "-i", str(path), "-map", "0:v:0", "-c:v", "copy"]
        cmd += ["-bsf:v", "h264_mp4toannexb", "-f", "h264", "-"]
        done = subprocess.run(cmd, capture_output=True)
        if done.returncode != 0 or not done.stdout:
            reason = ffmpeg_reason(done.stderr.decode(errors="replace")) or "no H.264 stream"
            raise VideoReadError(f"{path}: cannot copy its H.264 stream: {reason}")
        parts.append(done.stdout)
    return b"".join(parts)


def decode_h264(stream: bytes, height: int, width: int, frames: int) -> np.ndarray:
    """Every frame of an Annex-B H.264 stream -> (frames, height, width, 3) uint8. The count is checked: raw frames
    carry no size, so a stream of another size shows up as another count (or a byte count no frame size divides)."""
    cmd = [_ffmpeg(), "-v", "error", "-f", "h264", "-i", "-", "-fps_mode", "passthrough"]
    cmd += ["-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    done = subprocess.run(cmd, input=bytes(stream), capture_output=True)
    if done.returncode != 0:
        raise VideoReadError(f"cannot decode the demo stream: {ffmpeg_reason(done.stderr.decode(errors='replace'))}")
    size = height * width * 3
    if len(done.stdout) % size:
        raise VideoReadError(f"the demo stream's frames are not {height}x{width} ({len(done.stdout)} bytes decoded)")
    out = np.frombuffer(done.stdout, np.uint8).reshape(-1, height, width, 3)
    if out.shape[0] != frames:
        raise VideoReadError(f"the demo stream decodes to {out.shape[0]} frames; its episodes list {frames}")
    return out.copy()  # writable


def demo_frames(stream: bytes, height: int, width: int, frames: int, size: int | None) -> np.ndarray:
    """`decode_h264` resized to `size` (None: as decoded) with the training data's resize, (frames, S, S, 3) uint8.

    The last two streams decoded stay in memory (read-only, keyed by their sha256): an env or a test that loads
    the same bundle again pays a copy, not the ~5 s of decoding and resizing 9k frames on 2 CPU cores."""
    key = (hashlib.sha256(stream).hexdigest(), height, width, frames, size)
    if key not in _DECODED:
        out = decode_h264(stream, height, width, frames)
        out = resize_frames(out, size) if size is not None else out
        out.setflags(write=False)
        _DECODED[key] = out
        while len(_DECODED) > _DECODED_MAX:
            _DECODED.popitem(last=False)
    _DECODED.move_to_end(key)
    return _DECODED[key].copy()
