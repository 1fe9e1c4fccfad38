"""A bundle is never a mix of two writes: a write that fails or is killed leaves the old bundle whole, and a plain
load refuses files that do not match the manifest (size and a stamp of the first and last 64 KiB)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap

import pytest

from rla_gym.models import bundle as bundle_module
from rla_gym.models.bundle import BundleError, load_bundle, save_bundle, verify_manifest
from rla_gym.models.random_bundle import make_random_bundle


def _files(path):
    return {p.name: p.read_bytes() for p in sorted(path.iterdir())}


@pytest.fixture(scope="module")
def two_bundles(tmp_path_factory):
    """Two bundles of the same config (files of equal size) from different seeds."""
    root = tmp_path_factory.mktemp("two")
    a = make_random_bundle("ur10e", "tiny", episodes=2, length=10, seed=0).save_pretrained(root / "a")
    b = make_random_bundle("ur10e", "tiny", episodes=2, length=10, seed=1).save_pretrained(root / "b")
    return a, b


def test_a_write_that_fails_midway_leaves_the_old_bundle_whole(two_bundles, tmp_path, monkeypatch):
    target = shutil.copytree(two_bundles[0], tmp_path / "bundle")
    before = _files(target)
    real, written = bundle_module.save_file, []

    def save_then_fail(state, file):
        if written:
            raise OSError("disk full (simulated)")
        written.append(file)
        real(state, file)

    monkeypatch.setattr(bundle_module, "save_file", save_then_fail)
    with pytest.raises(OSError, match="simulated"):
        save_bundle(make_random_bundle("ur10e", "tiny", episodes=2, length=10, seed=1), target)
    assert written, "the write got as far as one file"
    assert _files(target) == before, "the old bundle must be untouched"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"], "no partial folder left behind"
    load_bundle(target, verify=True)


def test_a_killed_write_leaves_the_old_bundle_whole(two_bundles, tmp_path):
    """SIGKILL after the new encoder is on disk: the old bundle is what a load sees, not new encoder + old rest."""
    target = shutil.copytree(two_bundles[0], tmp_path / "bundle")
    before = _files(target)
    script = textwrap.dedent(
        f"""
        import os, signal
        from rla_gym.models import bundle as bundle_module
        from rla_gym.models.random_bundle import make_random_bundle

        real = bundle_module.save_file
        def save_then_die(state, file):
            real(state, file)
            os.kill(os.getpid(), signal.SIGKILL)
        bundle_module.save_file = save_then_die
        make_random_bundle("ur10e", "tiny", episodes=2, length=10, seed=1).save_pretrained({str(target)!r})
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -9, proc.stderr
    assert _files(target) == before
    partial = [p for p in tmp_path.iterdir() if p.name.startswith(".bundle.partial-")]
    assert len(partial) == 1 and (partial[0] / "encoder.safetensors").is_file(), "the kill hit after a file was written"
    load_bundle(target, verify=True)


def test_rewriting_a_bundle_replaces_it_whole(two_bundles, tmp_path):
    target = shutil.copytree(two_bundles[0], tmp_path / "bundle")
    (target / "README.md").write_text("a card of the old bundle\n")
    save_bundle(make_random_bundle("ur10e", "tiny", episodes=2, length=10, seed=1), target)
    assert _files(target) == _files(two_bundles[1])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_plain_load_refuses_a_mixed_bundle_and_names_the_file(two_bundles, tmp_path):
    mixed = shutil.copytree(two_bundles[0], tmp_path / "mixed")
    shutil.copyfile(two_bundles[1] / "encoder.safetensors", mixed / "encoder.safetensors")
    assert (mixed / "encoder.safetensors").stat().st_size == (two_bundles[0] / "encoder.safetensors").stat().st_size
    with pytest.raises(BundleError, match=r"mixed/encoder.safetensors does not match manifest.json"):
        load_bundle(mixed)
    with pytest.raises(BundleError, match=r"checksum mismatch for .*encoder.safetensors"):
        load_bundle(mixed, verify=True)  # verify still hashes every byte


def test_plain_load_hashes_only_the_ends_of_each_file(two_bundles, monkeypatch):
    read = []
    real_open = open

    def counting_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if "b" in mode and str(file).endswith(".safetensors"):
            real_read = handle.read
            handle_read = lambda n=-1: (read.append(n), real_read(n))[1]  # noqa: E731
            return _Reader(handle, handle_read)
        return handle

    monkeypatch.setattr(bundle_module, "open", counting_open, raising=False)
    verify_manifest(two_bundles[0], checksums=False)
    assert read and all(0 < n <= bundle_module.STAMP_BYTES for n in read), f"stamp reads {read}"


class _Reader:
    def __init__(self, handle, read):
        self._handle, self.read = handle, read

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._handle.close()

    def seek(self, *args):
        return self._handle.seek(*args)


def test_a_manifest_without_stamps_still_loads(two_bundles, tmp_path):
    old = shutil.copytree(two_bundles[0], tmp_path / "old")
    manifest = json.loads((old / "manifest.json").read_text())
    del manifest["stamps"]
    (old / "manifest.json").write_text(json.dumps(manifest))
    assert load_bundle(old).robot == "ur10e"


def test_writing_a_bundle_over_other_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(BundleError, match="expected a new folder or a bundle; it holds other files"):
        make_random_bundle("ur10e", "tiny", episodes=1, length=10).save_pretrained(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_the_shipped_bundle_is_stamped_and_loads():
    """The default bundle's manifest carries a stamp for every file, so a plain load of it catches a mixed folder."""
    from rla_gym.models.zoo import default_bundle_path

    path = default_bundle_path("ur10e", None)
    manifest = verify_manifest(path, checksums=False)
    assert set(manifest["stamps"]) == set(manifest["files"])
    assert load_bundle(path).robot == "ur10e"


def test_a_copy_that_fails_midway_leaves_the_old_bundle_whole(two_bundles, tmp_path, monkeypatch):
    from rla_gym.models.bundle import copy_bundle

    target = shutil.copytree(two_bundles[0], tmp_path / "bundle")
    before = _files(target)
    real, copied = shutil.copyfile, []

    def copy_then_fail(src, dst):
        if copied:
            raise OSError("disk full (simulated)")
        copied.append(dst)
        return real(src, dst)

    monkeypatch.setattr(bundle_module.shutil, "copyfile", copy_then_fail)
    with pytest.raises(OSError, match="simulated"):
        copy_bundle(two_bundles[1], target)
    monkeypatch.undo()
    assert copied and _files(target) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bundle"]


def test_a_metadata_write_killed_before_the_manifest_is_refused_by_name(two_bundles, tmp_path, monkeypatch):
    """calibrate writes config.json, then the manifest: killed in between, a load names config.json; the manifest
    is written whole or not at all, so the bundle is never left with a truncated manifest."""
    from rla_gym.models.bundle import set_bundle_metadata

    target = shutil.copytree(two_bundles[0], tmp_path / "bundle")
    manifest = (target / "manifest.json").read_bytes()
    real = bundle_module.os.replace

    def killed_at_the_manifest(src, dst):
        if str(dst).endswith("manifest.json"):
            raise KeyboardInterrupt("killed (simulated)")
        return real(src, dst)

    monkeypatch.setattr(bundle_module.os, "replace", killed_at_the_manifest)
    with pytest.raises(KeyboardInterrupt):
        set_bundle_metadata(target, {"success_threshold": 0.5})
    monkeypatch.undo()
    assert (target / "manifest.json").read_bytes() == manifest, "the old manifest, whole"
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in two_bundles[0].iterdir())
    with pytest.raises(BundleError, match=r"bundle/config.json has \d+ bytes; manifest.json says \d+"):
        load_bundle(target)
    set_bundle_metadata(target, {"success_threshold": 0.5})  # run again: consistent
    assert load_bundle(target, verify=True).metadata["success_threshold"] == 0.5


def test_a_kill_between_the_renames_leaves_the_old_bundle_and_a_load_says_where(two_bundles, tmp_path, monkeypatch):
    """Replacing a bundle is: old aside, new in. Killed between the two, the path is empty for a moment and the old
    bundle is whole beside it; the load error says where it is."""
    target = shutil.copytree(two_bundles[0], tmp_path / "bundle")
    before = _files(target)
    real = bundle_module.Path.rename

    def killed_after_the_first_rename(self, dest):
        result = real(self, dest)
        if ".old-" in str(dest):
            raise KeyboardInterrupt("killed (simulated)")
        return result

    monkeypatch.setattr(bundle_module.Path, "rename", killed_after_the_first_rename)
    with pytest.raises(KeyboardInterrupt):
        save_bundle(make_random_bundle("ur10e", "tiny", episodes=2, length=10, seed=1), target)
    monkeypatch.undo()
    (old,) = tmp_path.glob(".bundle.old-*")
    assert _files(old) == before
    with pytest.raises(BundleError, match=rf"left the old bundle whole at {old}: rename it back"):
        load_bundle(target)
