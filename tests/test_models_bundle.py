"""Bundles: bit-exact save/load round trip, checksums, clear errors, hub ids through the hub cache."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from rla_gym.models import bundle as bundle_module
from rla_gym.models.bundle import BundleError, copy_bundle, load_bundle, resolve_bundle_path
from rla_gym.models.random_bundle import make_random_bundle


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    bundle = make_random_bundle("ur10e", "tiny", episodes=2, length=10, seed=3)
    path = bundle.save_pretrained(tmp_path_factory.mktemp("b") / "bundle")
    return bundle, path


def test_round_trip_is_bit_exact(saved):
    bundle, path = saved
    loaded = load_bundle(path)
    for name, module in bundle.stack.components().items():
        ours, theirs = module.state_dict(), loaded.stack.components()[name].state_dict()
        assert ours.keys() == theirs.keys(), name
        for k in ours:
            assert torch.equal(ours[k], theirs[k]), f"{name}.{k}"
    for k, v in bundle.demos.tensors().items():
        assert torch.equal(v, loaded.demos.tensors()[k]), k
    assert loaded.random and loaded.robot == "ur10e" and loaded.config == bundle.config
    frames = bundle.demos.frames[:2]
    noise = torch.randn(2, *bundle.stack.latent_shape)
    a = bundle.stack.predict(bundle.stack.encode(frames), torch.zeros(2, 8, 5), noise)
    b = loaded.stack.predict(loaded.stack.encode(frames), torch.zeros(2, 8, 5), noise)
    assert torch.equal(a, b)


def test_manifest_lists_sha256_and_random_flag(saved):
    _, path = saved
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["random"] is True
    assert set(manifest["files"]) >= {
        "config.json",
        "encoder.safetensors",
        "world_model.safetensors",
        "demos.safetensors",
    }
    assert all(len(d) == 64 for d in manifest["files"].values())


def test_random_bundle_warns_when_loaded(saved, caplog):
    with caplog.at_level("WARNING"):
        load_bundle(saved[1])
    assert "RANDOM weights" in caplog.text


def test_checksum_mismatch_is_named(saved, tmp_path):
    path = shutil.copytree(saved[1], tmp_path / "b")
    with open(path / "world_model.safetensors", "r+b") as f:
        f.seek(-4, 2)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(BundleError, match=r"checksum mismatch for .*world_model.safetensors"):
        load_bundle(path, verify=True)


def test_missing_file_is_named(saved, tmp_path):
    path = shutil.copytree(saved[1], tmp_path / "b")
    (path / "rla_decoder.safetensors").unlink()
    with pytest.raises(BundleError, match=r"bundle file missing: .*rla_decoder.safetensors"):
        load_bundle(path)


def test_bundle_for_another_robot_is_rejected(saved):
    with pytest.raises(BundleError, match="made for robot 'ur10e', not 'panda'"):
        load_bundle(saved[1], robot="panda")


def test_missing_folder_is_clear(tmp_path):
    with pytest.raises(BundleError, match="no bundle folder"):
        load_bundle(tmp_path / "nope")


def test_hub_id_unreachable_says_how_to_download(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(BundleError, match=r"huggingface-cli download someone/rla-bundles"):
        resolve_bundle_path("someone/rla-bundles/ur10e", cache_dir=tmp_path)


def test_hub_id_resolves_through_the_hub_cache(saved, tmp_path):
    """The real huggingface_hub code path, offline: a cache laid out as the hub client writes it."""
    commit = "a" * 40
    repo = tmp_path / "models--someone--rla-bundles"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(saved[1], repo / "snapshots" / commit / "ur10e-tiny")
    loaded = load_bundle("someone/rla-bundles/ur10e-tiny", cache_dir=tmp_path)
    assert loaded.robot == "ur10e" and loaded.demos.num_episodes == 2


def test_plain_load_hashes_nothing_and_verify_hashes_every_file(saved, monkeypatch):
    """A paper-size bundle is gigabytes: sha256 of every file at every gym.make is too slow."""
    hashed = []
    real = bundle_module.sha256_file
    monkeypatch.setattr(bundle_module, "sha256_file", lambda path: hashed.append(path.name) or real(path))
    load_bundle(saved[1])
    assert hashed == []
    load_bundle(saved[1], verify=True)
    listed = json.loads((saved[1] / "manifest.json").read_text())["files"]
    assert sorted(hashed) == sorted(listed)


@pytest.mark.parametrize("name", ["world_model.safetensors", "demos.safetensors"])
def test_truncated_safetensors_is_named_without_hashing(saved, tmp_path, name):
    path = shutil.copytree(saved[1], tmp_path / "b")
    data = (path / name).read_bytes()
    (path / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match=rf"{name} has \d+ bytes; manifest.json says {len(data)}"):
        load_bundle(path)
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["sizes"], manifest["stamps"]  # a bundle written before sizes and stamps: the reader names the file
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=rf"{path / name} cannot be read as safetensors"):
        load_bundle(path)


@pytest.mark.parametrize("name", ["config.json", "manifest.json"])
def test_invalid_json_is_named(saved, tmp_path, name):
    path = shutil.copytree(saved[1], tmp_path / "b")
    text = (path / name).read_text()
    (path / name).write_text(text[: len(text) // 2])
    manifest = json.loads((saved[1] / "manifest.json").read_text())
    if name == "config.json":  # keep the size check quiet: the JSON reader must name the file
        del manifest["sizes"], manifest["stamps"]
        (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match=rf"{path / name} is not valid JSON"):
        load_bundle(path)


def test_mismatch_message_names_the_file_once(saved, tmp_path):
    from safetensors.torch import load_file, save_file

    path = shutil.copytree(saved[1], tmp_path / "b")
    file = path / "world_model.safetensors"
    state = load_file(file)
    state.pop(sorted(state)[0])
    save_file(state, file)
    manifest = json.loads((path / "manifest.json").read_text())
    del manifest["sizes"], manifest["stamps"]
    (path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ValueError) as err:
        load_bundle(path)
    message = str(err.value)
    assert message.startswith(f"{file} does not fit its config: it lacks key")
    assert "config/" not in message and message.count(str(file)) == 1


def test_copy_is_verified(saved, tmp_path):
    copy = copy_bundle(saved[1], tmp_path / "copy")
    assert load_bundle(copy).robot == "ur10e"
    source = shutil.copytree(saved[1], tmp_path / "src")
    with open(source / "encoder.safetensors", "r+b") as f:  # same size, other bytes
        f.seek(-4, 2)
        f.write(b"\x00\x01\x02\x03")
    with pytest.raises(BundleError, match=r"copying .*src to .*copy2: checksum mismatch for encoder.safetensors"):
        copy_bundle(source, tmp_path / "copy2")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy", "src"], "a failed copy leaves nothing behind"
    copy_bundle(saved[1], tmp_path / "copy")  # a copy over a bundle replaces it whole
    assert load_bundle(tmp_path / "copy", verify=True).robot == "ur10e"


def test_a_download_is_verified_once(saved, tmp_path, monkeypatch):
    """A bundle fetched from the hub is hashed when it arrives; served from the cache, it is not."""
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    snapshot = tmp_path / "snap"
    shutil.copytree(saved[1], snapshot / "ur10e-tiny")
    with open(snapshot / "ur10e-tiny" / "world_model.safetensors", "r+b") as f:
        f.seek(-4, 2)
        f.write(b"\x00\x01\x02\x03")
    cached = {"yes": False}

    def fake_snapshot_download(repo_id, allow_patterns=None, cache_dir=None, local_files_only=False):
        if local_files_only and not cached["yes"]:
            raise LocalEntryNotFoundError("not in the cache")
        return str(snapshot)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    with pytest.raises(BundleError, match=r"checksum mismatch for .*world_model.safetensors"):
        resolve_bundle_path("someone/rla-bundles/ur10e-tiny")
    cached["yes"] = True
    assert resolve_bundle_path("someone/rla-bundles/ur10e-tiny") == snapshot / "ur10e-tiny"


def test_fp16_storage_halves_the_weights_and_loads_back_close(saved, tmp_path):
    bundle, path = saved
    half = bundle.save_pretrained(tmp_path / "half", dtype=torch.float16)
    size = (half / "world_model.safetensors").stat().st_size
    assert size < 0.6 * (path / "world_model.safetensors").stat().st_size
    loaded = load_bundle(half, verify=True)
    for name, module in bundle.stack.components().items():
        for k, v in module.state_dict().items():
            got = loaded.stack.components()[name].state_dict()[k]
            assert got.dtype == v.dtype, f"{name}.{k} loads back as {got.dtype}"
            assert torch.allclose(got, v, rtol=1e-3, atol=1e-4), f"{name}.{k}"


def test_added_files_are_in_the_manifest_and_verified(saved, tmp_path):
    from rla_gym.models.bundle import add_to_bundle, verify_manifest

    path = copy_bundle(saved[1], tmp_path / "card")
    add_to_bundle(path, {"README.md": b"---\nlicense: mit\n---\n# card\n"})
    manifest = json.loads((path / "manifest.json").read_text())
    assert "README.md" in manifest["files"] and manifest["sizes"]["README.md"] == (path / "README.md").stat().st_size
    verify_manifest(path)
    (path / "README.md").write_text("---\nlicense: mit\n---\n# edited\n")  # same size, other bytes
    with pytest.raises(BundleError, match="README.md"):
        verify_manifest(path)
    add_to_bundle(path, {"README.md": path / "README.md"})  # a card edited in place is rehashed, not copied
    verify_manifest(path)
    with pytest.raises(BundleError, match="plain file names"):
        add_to_bundle(path, {"manifest.json": b"{}"})
