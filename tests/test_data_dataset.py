"""EpisodeDataset: recursive discovery, lazy cached loading, broken folders skipped with a warning."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from rla_gym.data import EpisodeDataset, EpisodeLoadError, synthetic_episode, write_episode


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    write_episode(tmp_path / "PushT-v2" / "success", 0, synthetic_episode(12, 16, seed=0))
    write_episode(tmp_path / "PushT-v2" / "success", 1, synthetic_episode(14, 16, seed=1))
    write_episode(tmp_path / "PushT-v2" / "fail", 2, synthetic_episode(16, 16, success=False, seed=2))
    return tmp_path


def test_discovers_episodes_under_success_and_fail(tree):
    ds = EpisodeDataset(tree / "PushT-v2")
    assert len(ds) == 3
    assert [ds.key(i) for i in range(3)] == ["fail/traj_000002", "success/traj_000000", "success/traj_000001"]
    assert ds.lengths.tolist() == [16, 12, 14]
    assert ds.header(0).success is False and ds.header(0).frames is None
    assert ds[-1].frames.shape == (14, 16, 16, 3)


def test_a_root_of_links_finds_the_episodes_they_point_to(tree, tmp_path_factory):
    """The zoo's training views: one root linking task folders recorded under other roots."""
    view = tmp_path_factory.mktemp("view")
    (view / "ur10e").mkdir()
    (view / "ur10e" / "PushT-v2").symlink_to(tree / "PushT-v2", target_is_directory=True)
    ds = EpisodeDataset(view)
    assert len(ds) == 3
    assert ds.key(0) == "ur10e/PushT-v2/fail/traj_000002"
    assert ds[2].frames.shape == (14, 16, 16, 3)


def test_loading_is_lazy_and_cached(tree):
    ds = EpisodeDataset(tree, cache_size=1)
    first = ds[0]
    assert ds[0] is first  # served from the cache
    ds[1]
    assert ds[0] is not first  # evicted by the one-slot cache, read again


def test_truncated_h5_and_missing_video_are_skipped_with_a_warning(tree, caplog):
    bad_h5 = tree / "PushT-v2" / "success" / "traj_000000" / "metadata.h5"
    bad_h5.write_bytes(bad_h5.read_bytes()[:300])
    (tree / "PushT-v2" / "fail" / "traj_000002" / "front_lower_camera_rgb.mp4").unlink()
    with caplog.at_level(logging.WARNING, logger="rla_gym.data"):
        ds = EpisodeDataset(tree)
    assert [ds.key(i) for i in range(len(ds))] == ["PushT-v2/success/traj_000001"]
    assert "traj_000000" in caplog.text and "traj_000002" in caplog.text
    assert sorted(p.name for p in ds.skipped) == ["traj_000000", "traj_000002"]


def test_a_video_broken_after_discovery_is_skipped_not_fatal(tree, caplog):
    ds = EpisodeDataset(tree)
    video = ds.paths[1] / "front_lower_camera_rgb.mp4"
    video.write_bytes(video.read_bytes()[:200])
    with pytest.raises(EpisodeLoadError, match="traj_000000"):
        ds[1]
    with caplog.at_level(logging.WARNING, logger="rla_gym.data"):
        loaded = list(ds)
    assert len(loaded) == 2
    assert "traj_000000" in caplog.text


def test_missing_root_says_what_it_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        EpisodeDataset(tmp_path / "nope")


def test_dataset_returns_the_recorded_foreground_mask(tmp_path):
    ep = synthetic_episode(8, 16, seed=5)
    ep.mask = np.zeros((8, 16, 16), dtype=bool)
    ep.mask[:, 4:12] = True
    write_episode(tmp_path / "success", 0, ep)
    got = EpisodeDataset(tmp_path, size=8)[0]
    assert got.mask.shape == (8, 8, 8) and got.mask[:, 2:6].all() and not got.mask[:, :2].any()
    assert EpisodeDataset(tmp_path, with_mask=False)[0].mask is None


def test_truncated_video_is_found_at_discovery_with_a_one_line_reason(tree, caplog):
    video = tree / "PushT-v2" / "success" / "traj_000001" / "front_lower_camera_rgb.mp4"
    data = video.read_bytes()
    video.write_bytes(data[: len(data) - 1])  # even one byte short: ffmpeg would still decode it
    with caplog.at_level(logging.WARNING, logger="rla_gym.data"):
        ds = EpisodeDataset(tree)
    assert [p.name for p in ds.skipped] == ["traj_000001"] and len(ds) == 2
    (record,) = [r for r in caplog.records if "traj_000001" in r.getMessage()]
    message = record.getMessage()
    assert "truncated" in message and str(video) in message
    assert "\n" not in message and len(message) < 300 and "ffmpeg version" not in message


def test_video_with_fewer_frames_than_the_metadata_is_skipped_at_discovery(tree):
    from rla_gym.data.video import write_video

    traj = tree / "PushT-v2" / "fail" / "traj_000002"
    write_video(traj / "front_lower_camera_rgb.mp4", synthetic_episode(13, 16).frames)  # metadata says 16
    ds = EpisodeDataset(tree)
    assert [p.name for p in ds.skipped] == ["traj_000002"]


def test_unreadable_video_error_is_one_line_without_the_ffmpeg_banner(tree):
    ds = EpisodeDataset(tree)
    video = ds.paths[0] / "front_lower_camera_rgb.mp4"
    video.write_bytes(video.read_bytes()[:200])
    with pytest.raises(EpisodeLoadError) as err:
        ds[0]
    message = str(err.value)
    assert str(video) in message and "moov atom not found" in message
    assert "\n" not in message and len(message) < 300 and "ffmpeg version" not in message
