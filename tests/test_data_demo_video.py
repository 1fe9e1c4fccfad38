"""Every successful demo fits a bundle: the demo frames are stored as the episodes' own H.264 streams (copied and
joined, not re-encoded) and decode bit-exactly to the frames training read from the episode files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors import safe_open

from rla_gym.data import synthetic_episode, write_episode
from rla_gym.data.demo_set import DemoSet
from rla_gym.data.demo_video import decode_h264, demo_frames, join_h264
from rla_gym.data.video import VideoReadError, read_video, resize_frames
from rla_gym.models.bundle import BundleError, load_bundle, save_bundle
from rla_gym.models.random_bundle import make_random_bundle
from rla_gym.train.assemble import demo_set

SIZE = 64  # recorded frames; the tiny stack sees 48 px, so loading resizes


@pytest.fixture(scope="module")
def episodes(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo-video")
    for s in range(3):
        episode = synthetic_episode(12 + 3 * s, SIZE, robot="ur10e", task="RollBall-v1", seed=s)
        episode.mask = episode.frames.max(-1) > 100  # a foreground mask, recorded as ManiSkill's segmentation is
        write_episode(root / "success", s, episode)
    failed = synthetic_episode(10, SIZE, robot="ur10e", task="RollBall-v1", success=False, seed=9)
    write_episode(root / "fail", 9, failed)
    return root


def files(root):
    return sorted(root.glob("success/traj_*/*_rgb.mp4"))


def test_joined_streams_decode_to_the_frames_each_file_gives(episodes):
    per_file = [read_video(f) for f in files(episodes)]
    joined = decode_h264(join_h264(files(episodes)), SIZE, SIZE, sum(len(v) for v in per_file))
    assert joined.shape == (12 + 15 + 18, SIZE, SIZE, 3)
    assert np.array_equal(joined, np.concatenate(per_file))  # bit-exact: what training read


def test_a_stream_of_another_length_or_no_stream_is_named(episodes, tmp_path):
    stream = join_h264(files(episodes))
    with pytest.raises(VideoReadError, match="decodes to 45 frames; its episodes list 44"):
        decode_h264(stream, SIZE, SIZE, 44)
    with pytest.raises(VideoReadError, match="decodes to 80 frames"):  # 64 px frames read as 48 px ones
        decode_h264(stream, 48, 48, 45)
    with pytest.raises(VideoReadError, match="not 50x50"):
        decode_h264(stream, 50, 50, 45)
    fake = tmp_path / "front_rgb.mp4"
    fake.write_bytes(b"not a video")
    with pytest.raises(VideoReadError, match="front_rgb.mp4: cannot copy its H.264 stream"):
        join_h264([fake])


def test_a_bundle_stores_every_demo_as_its_stream_and_loads_the_same_frames(episodes, tmp_path):
    bundle = make_random_bundle("ur10e", "tiny", episodes=2, length=12, seed=0)
    bundle.demos = demo_set(episodes, bundle.stack.image_size, None, robot="ur10e")  # None: every success
    assert bundle.demos.num_episodes == 3 and bundle.demos.video is not None  # the failure is left out
    assert bundle.demos.frames.shape[1:3] == (48, 48) and bundle.demos.video_size == (SIZE, SIZE)
    path = save_bundle(bundle, tmp_path / "b")
    with safe_open(str(path / "demos.safetensors"), "pt") as f:
        keys = set(f.keys())
        stored = f.get_tensor("video").numel()
    assert "video" in keys and "frames" not in keys
    assert stored < bundle.demos.frames.numel() / 4  # the stream, not the pixels
    loaded = load_bundle(path)
    assert torch.equal(loaded.demos.frames, bundle.demos.frames)
    assert torch.equal(loaded.demos.targets, bundle.demos.targets)
    assert torch.equal(loaded.demos.episode_lengths, bundle.demos.episode_lengths)
    again = save_bundle(loaded, tmp_path / "again")  # the stream survives a load and a save
    assert (again / "demos.safetensors").read_bytes() == (path / "demos.safetensors").read_bytes()


def test_masked_demos_keep_their_frames(episodes):
    demos = demo_set(episodes, 48, 2, mask=True, robot="ur10e")  # the mask is applied to pixels: no stream to keep
    assert demos.video is None and "frames" in demos.tensors() and demos.num_episodes == 2


def test_a_damaged_demo_stream_is_a_bundle_error_naming_the_file(episodes, tmp_path):
    bundle = make_random_bundle("ur10e", "tiny", episodes=2, length=12, seed=0)
    good = demo_set(episodes, bundle.stack.image_size, None, robot="ur10e")
    garbage = torch.zeros(4096, dtype=torch.uint8)
    bundle.demos = DemoSet(
        good.frames, good.targets, good.qpos, good.episode_starts, good.episode_lengths, garbage, good.video_size
    )
    path = save_bundle(bundle, tmp_path / "bad")
    with pytest.raises(BundleError, match="demos.safetensors: not a valid demo set"):
        load_bundle(path)


def test_a_stream_decoded_again_comes_from_memory_as_a_private_copy(episodes):
    stream = join_h264(files(episodes))
    first = demo_frames(stream, SIZE, SIZE, 45, 48)
    first[:] = 0  # the caller's copy: the cached frames are untouched
    again = demo_frames(stream, SIZE, SIZE, 45, 48)
    assert again.flags.writeable and again.any()
    assert np.array_equal(again, resize_frames(decode_h264(stream, SIZE, SIZE, 45), 48))
