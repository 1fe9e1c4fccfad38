"""A layered zoo (issue 20): one shared encoder, UNet and RLA autoencoder, one dynamics part per robot, one demo
part per task. A task folder loads like a bundle; the shared weights are stored once and read once per process; a
missing, corrupt or mismatched part is an error naming it; `gym.make` finds a task folder with no `bundle=`."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from rla_gym.models import bundle as bundle_module
from rla_gym.models import layered
from rla_gym.models.bundle import Bundle, BundleError, add_to_bundle, load_bundle
from rla_gym.models.random_bundle import make_random_bundle
from rla_gym.models.regression import RegressionConfig, RegressionWorldModel
from rla_gym.models.zoo import default_bundle_path
from rla_gym.specs.robots import ROBOTS


def _panda_with_shared_of(ur10e):
    """A panda bundle whose shared components are the ur10e bundle's (as one training of the shared stack gives)."""
    panda = make_random_bundle("panda", "tiny", episodes=3, length=24, seed=1, task="PullCube")
    for name in layered.SHARED_COMPONENTS:
        panda.stack.components()[name].load_state_dict(ur10e.stack.components()[name].state_dict())
    panda.stack.config.latent_scale = ur10e.stack.config.latent_scale
    return panda


@pytest.fixture
def zoo(tmp_path):
    ur10e = make_random_bundle("ur10e", "tiny", episodes=3, length=24, seed=0, task="RollBall")
    ur10e.metadata["success_threshold"] = 0.2
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(3)
        ur10e.regression = RegressionWorldModel(RegressionConfig.matching(ur10e.stack.config)).eval()
    panda = _panda_with_shared_of(ur10e)
    layered.save_layered(ur10e, tmp_path, shared="shared-tiny", dynamics="dyn-ur10e-tiny", task="ur10e-RollBall-tiny",
                         extra={"README.md": b"# card\n"})  # fmt: skip
    layered.save_layered(panda, tmp_path, shared="shared-tiny", dynamics="dyn-panda-tiny", task="panda-PullCube-tiny")
    layered.SHARED_CACHE.clear()
    return tmp_path, ur10e, panda


def _equal_states(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_task_folder_loads_the_bundle_it_was_split_from(zoo):
    root, ur10e, _ = zoo
    loaded = load_bundle(root / "ur10e-RollBall-tiny", verify=True)
    assert loaded.robot == "ur10e" and loaded.task == "RollBall" and loaded.metadata["success_threshold"] == 0.2
    for name, module in ur10e.stack.components().items():
        assert _equal_states(module, loaded.stack.components()[name]), name
    assert _equal_states(loaded.regression, ur10e.regression)
    assert torch.equal(loaded.demos.frames, ur10e.demos.frames)
    assert (root / "ur10e-RollBall-tiny" / "README.md").read_bytes() == b"# card\n"
    assert sorted(p.name for p in (root / "ur10e-RollBall-tiny").iterdir()) == [
        "README.md", "config.json", "demos.safetensors", "manifest.json"]  # fmt: skip
    assert sorted(p.name for p in (root / "dyn-ur10e-tiny").iterdir()) == [
        "config.json", "manifest.json", "world_model.safetensors"]  # fmt: skip
    assert sorted(p.name for p in (root / "dyn-ur10e-tiny-regression").iterdir()) == [
        "config.json", "manifest.json", "regression.json", "regression.safetensors"]  # fmt: skip
    assert not (root / "dyn-panda-tiny-regression").exists(), "no baseline, no baseline part"


def test_shared_weights_are_stored_once_and_read_once_for_every_robot(zoo, monkeypatch):
    root, ur10e, panda = zoo
    shared = sorted(p.name for p in (root / "shared-tiny").iterdir())
    assert shared == ["config.json", "encoder.safetensors", "image_decoder.safetensors", "manifest.json",
                      "rla_decoder.safetensors", "rla_encoder.safetensors"]  # fmt: skip
    assert not any((root / d / "encoder.safetensors").exists() for d in ("dyn-ur10e-tiny", "panda-PullCube-tiny"))
    reads = []
    real = bundle_module._load_safetensors
    monkeypatch.setattr(
        bundle_module, "_load_safetensors", lambda f, device="cpu": reads.append(f.name) or real(f, device)
    )
    a = load_bundle(root / "ur10e-RollBall-tiny")
    b = load_bundle(root / "panda-PullCube-tiny")
    load_bundle(root / "ur10e-RollBall-tiny")
    assert reads.count("encoder.safetensors") == 1 and reads.count("image_decoder.safetensors") == 1
    assert reads.count("world_model.safetensors") == 3 and reads.count("demos.safetensors") == 3
    assert b.robot == "panda" and _equal_states(a.stack.encoder, b.stack.encoder)
    assert _equal_states(a.stack.world_model, ur10e.stack.world_model)  # each robot its own dynamics
    assert _equal_states(b.stack.world_model, panda.stack.world_model)
    for p in a.stack.encoder.parameters():
        p.data.zero_()
    again = load_bundle(root / "panda-PullCube-tiny")  # modules are the bundle's own: the cache is not aliased
    assert _equal_states(again.stack.encoder, panda.stack.encoder)


def test_a_shared_part_with_other_weights_is_not_overwritten(zoo):
    root, ur10e, _ = zoo
    other = make_random_bundle("ur10e", "tiny", episodes=2, length=24, seed=7, task="PushT")
    with pytest.raises(BundleError, match="shared-tiny exists with other weights"):
        layered.save_layered(other, root, shared="shared-tiny", dynamics="ur10e-b", task="ur10e-PushT-tiny")
    assert load_bundle(root / "ur10e-RollBall-tiny") is not None


def test_a_robot_without_a_task_gets_its_default_task_not_the_first_folder(zoo, monkeypatch):
    """The UR10e has two task folders in the zoo; `ur10e-PushT` sorts before `ur10e-RollBall`, the robot's default."""
    root, ur10e, _ = zoo
    monkeypatch.setenv("RLA_GYM_MODELS", str(root))
    push = Bundle(stack=ur10e.stack, demos=ur10e.demos, task="PushT", regression=ur10e.regression, metadata={})
    layered.save_layered(push, root, shared="shared-tiny", dynamics="dyn-ur10e-tiny", task="ur10e-PushT-tiny")
    assert ROBOTS["ur10e"].default_task == "RollBall" and ROBOTS["panda"].default_task == "PullCube"
    assert default_bundle_path("ur10e", None) == root / "ur10e-RollBall-tiny"
    assert default_bundle_path("ur10e", "PushT") == root / "ur10e-PushT-tiny"
    shutil.rmtree(root / "ur10e-RollBall-tiny")
    assert default_bundle_path("ur10e", None) == root / "ur10e-PushT-tiny", "no default task's folder: any of its own"


def test_a_missing_or_corrupt_per_robot_file_is_named(zoo):
    root, _, _ = zoo
    wm = root / "dyn-panda-tiny" / "world_model.safetensors"
    wm.write_bytes(wm.read_bytes()[:-10])
    with pytest.raises(BundleError, match=r"dyn-panda-tiny/world_model.safetensors has \d+ bytes; manifest.json says"):
        load_bundle(root / "panda-PullCube-tiny")
    wm.unlink()
    with pytest.raises(BundleError, match="bundle file missing: .*dyn-panda-tiny/world_model.safetensors"):
        load_bundle(root / "panda-PullCube-tiny")
    cfg = root / "ur10e-RollBall-tiny" / "config.json"
    meta = json.loads(cfg.read_text())
    meta["parts"]["dynamics"] = "../ur10e-gone"
    cfg.write_text(json.dumps(meta))
    add_to_bundle(cfg.parent, {"config.json": cfg})
    with pytest.raises(BundleError, match="names the rla-gym-dynamics part '../ur10e-gone': no such part"):
        load_bundle(root / "ur10e-RollBall-tiny")


def test_the_baseline_part_is_optional_and_a_corrupt_one_is_named(zoo):
    """A wheel leaves the regression baselines out (size): the world model still loads; asking for the baseline
    names the missing part. A baseline part that is there but broken is an error, as any part."""

    root, ur10e, _ = zoo
    part = root / "dyn-ur10e-tiny-regression"
    weights = part / "regression.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    with pytest.raises(BundleError, match=r"dyn-ur10e-tiny-regression/regression.safetensors has \d+ bytes"):
        load_bundle(root / "ur10e-RollBall-tiny")
    shutil.rmtree(part)
    loaded = load_bundle(root / "ur10e-RollBall-tiny")
    assert loaded.regression is None and _equal_states(loaded.stack.world_model, ur10e.stack.world_model)
    assert loaded.dynamics("rla-wm") is not None
    with pytest.raises(BundleError, match="dyn-ur10e-tiny-regression, which is not installed here"):
        loaded.dynamics("regression")


def test_the_first_layout_with_the_baseline_inside_the_dynamics_part_still_loads(zoo):
    """models/ was written that way once (session 23): a released zoo of that layout must keep loading."""

    root, ur10e, _ = zoo
    dyn, part = root / "dyn-ur10e-tiny", root / "dyn-ur10e-tiny-regression"
    files = {}
    for name in ("regression.safetensors", "regression.json"):
        shutil.copyfile(part / name, dyn / name)
        files[name] = dyn / name
    shutil.rmtree(part)
    meta = json.loads((dyn / "config.json").read_text())
    del meta["baseline"]
    (dyn / "config.json").write_text(json.dumps(meta))
    add_to_bundle(dyn, {**files, "config.json": dyn / "config.json"})
    loaded = load_bundle(root / "ur10e-RollBall-tiny", verify=True)
    assert _equal_states(loaded.regression, ur10e.regression)


def test_parts_that_do_not_fit_together_are_named(zoo):
    root, _, _ = zoo
    cfg = root / "dyn-ur10e-tiny" / "config.json"
    meta = json.loads(cfg.read_text())
    meta["stack"]["world_model"]["token_dim"] += 1  # trained on another RLA latent
    cfg.write_text(json.dumps(meta))
    add_to_bundle(cfg.parent, {"config.json": cfg})
    with pytest.raises(BundleError, match="dyn-ur10e-tiny.*shared-tiny.*not a valid stack config together.*token_dim"):
        load_bundle(root / "ur10e-RollBall-tiny")


def test_gym_make_finds_every_task_folder_of_the_zoo_and_skips_the_parts(zoo, monkeypatch):
    import gymnasium as gym

    import rla_gym  # noqa: F401

    root, _, _ = zoo
    monkeypatch.setenv("RLA_GYM_MODELS", str(root))
    assert default_bundle_path("panda", "PullCube") == root / "panda-PullCube-tiny"
    assert default_bundle_path("panda", None) == root / "panda-PullCube-tiny"  # not the panda dynamics part
    assert default_bundle_path("panda", "PullCubeTool") is None
    env = gym.make_vec("RLAWorldModel-v0", num_envs=2, vectorization_mode="vector_entry_point", robot="panda",
                       task="PullCube")  # fmt: skip
    try:
        obs, _ = env.reset(seed=0)
        obs, reward, *_ = env.step(env.demo_actions())
        assert obs.shape[0] == 2 and torch.isfinite(reward).all()
    finally:
        env.close()


def test_copying_a_task_folder_alone_is_refused_with_the_way_out(zoo, tmp_path):
    from rla_gym.models.bundle import copy_bundle

    root, ur10e, _ = zoo
    with pytest.raises(BundleError, match="task folder of a layered zoo.*save_pretrained"):
        copy_bundle(root / "ur10e-RollBall-tiny", tmp_path / "copy")
    whole = load_bundle(root / "ur10e-RollBall-tiny").save_pretrained(tmp_path / "whole")
    assert _equal_states(load_bundle(whole).stack.world_model, ur10e.stack.world_model)


def test_a_hub_id_of_a_task_folder_fetches_the_parts_it_names(zoo, tmp_path, monkeypatch):
    """The hub cache holds the task folder; its dynamics and shared parts come from the same repo on demand."""

    import huggingface_hub

    root, ur10e, _ = zoo
    commit = "b" * 40
    repo = tmp_path / "cache" / "models--someone--rla-zoo"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snapshot = repo / "snapshots" / commit
    shutil.copytree(root / "ur10e-RollBall-tiny", snapshot / "ur10e-RollBall-tiny")
    fetched = []
    real = huggingface_hub.snapshot_download

    def download(repo_id, allow_patterns=None, cache_dir=None, local_files_only=False, **kw):
        if not local_files_only:  # "the network": copy the asked folder from the zoo into the cache
            folder = allow_patterns[0].removesuffix("/*")
            fetched.append(folder)
            shutil.copytree(root / folder, snapshot / folder)
            return str(snapshot)
        return real(repo_id, allow_patterns=allow_patterns, cache_dir=cache_dir, local_files_only=True, **kw)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", download)
    loaded = load_bundle("someone/rla-zoo/ur10e-RollBall-tiny", cache_dir=tmp_path / "cache")
    assert fetched == ["dyn-ur10e-tiny", "shared-tiny", "dyn-ur10e-tiny-regression"]
    assert _equal_states(loaded.stack.world_model, ur10e.stack.world_model)
    assert _equal_states(loaded.regression, ur10e.regression)
    load_bundle("someone/rla-zoo/ur10e-RollBall-tiny", cache_dir=tmp_path / "cache")
    assert len(fetched) == 3, "cached parts are not fetched again"
