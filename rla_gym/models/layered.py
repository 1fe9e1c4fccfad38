"""A zoo stored in layers: one shared encoder, UNet and RLA autoencoder, one dynamics part per robot, one demo part
per task. Why: the paper trains one RLA autoencoder for all of ManiSkill and one RLA-WM per robot on its tasks'
videos; stored this way the shared weights exist once however many robots and tasks the zoo holds.

    models/
      shared-cpu/           encoder, rla_encoder, rla_decoder, image_decoder; config: their configs, latent scale
      ur10e-cpu/            world_model; config: robot, world model, Euler steps, "shared", "baseline"
      ur10e-cpu-regression/ the robot's direct-regression baseline (optional: a wheel leaves it out, for size)
      ur10e-RollBall-cpu/   demos; config: task, success threshold, "parts": {"dynamics": "../ur10e-cpu"}; the card

Each part is a folder with its own `manifest.json` (sha256, size and stamp of every file). A task folder loads like
any bundle (`load_bundle`): it names its dynamics part, which names the shared part, by a path relative to itself.
Shared weights are read from disk once per process, whichever robots and tasks load them (`SHARED_CACHE`).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

SHARED_FORMAT = "rla-gym-shared"
DYNAMICS_FORMAT = "rla-gym-dynamics"
BASELINE_FORMAT = "rla-gym-baseline"
BASELINE_SUFFIX = "-regression"  # the baseline part of dynamics part D is D-regression
SHARED_COMPONENTS = ("encoder", "rla_encoder", "rla_decoder", "image_decoder")
DYNAMICS_COMPONENTS = ("world_model",)
SHARED_KEYS = ("encoder", "rla_encoder", "rla_decoder", "image_decoder", "latent_scale", "preset")
DYNAMICS_KEYS = ("robot", "world_model", "euler_steps")

# (file, size, mtime_ns) -> CPU tensors of a shared component, read once per process
SHARED_CACHE: dict[tuple[str, int, int], dict[str, torch.Tensor]] = {}


@dataclass
class Layers:
    """Where a layered bundle's pieces live: the merged stack config, the folder of each component and of the
    regression baseline, and each part's manifest (for the checks `load_bundle` makes on every folder)."""

    stack: dict[str, Any]
    folders: dict[str, Path]  # component name -> folder
    regression: Path | None  # the folder of the robot's regression baseline; None: its part is not installed
    manifests: dict[Path, dict[str, Any]]
    baseline_missing: Path | None = None  # the baseline part the dynamics part names, absent here (e.g. a wheel)


def _part(path: Path, ref: str, expected: str, named_by: Path, verify: bool) -> tuple[Path, dict, dict]:
    from rla_gym.models.bundle import BundleError, _read_json, verify_manifest

    folder = (path / ref).resolve()
    if not (folder / "config.json").is_file():
        raise BundleError(f"{named_by / 'config.json'} names the {expected} part {ref!r}: no such part at {folder}")
    meta = _read_json(folder / "config.json")
    if meta.get("format") != expected:
        raise BundleError(f"{folder / 'config.json'} is not an {expected} part (format {meta.get('format')!r})")
    return folder, meta, verify_manifest(folder, checksums=verify)


def resolve_layers(path: Path, meta: dict[str, Any], verify: bool = False) -> Layers:
    """The parts a task folder's config names, checked (manifests; each part's format), and the stack config they
    make together; a part missing, corrupt or of another layout is a BundleError naming it."""
    from rla_gym.models.bundle import BundleError

    parts = meta.get("parts") or {}
    if "dynamics" not in parts:
        raise BundleError(f"{path / 'config.json'}: 'parts' must name the dynamics part; got {sorted(parts)}")
    dyn, dyn_meta, dyn_manifest = _part(path, parts["dynamics"], DYNAMICS_FORMAT, path, verify)
    if "shared" not in dyn_meta:
        raise BundleError(f"{dyn / 'config.json'}: no 'shared' entry naming the shared part")
    shared, shared_meta, shared_manifest = _part(dyn, dyn_meta["shared"], SHARED_FORMAT, dyn, verify)
    stack = {**shared_meta.get("stack", {}), **dyn_meta.get("stack", {})}
    folders = {name: shared for name in SHARED_COMPONENTS} | {name: dyn for name in DYNAMICS_COMPONENTS}
    manifests = {dyn: dyn_manifest, shared: shared_manifest}
    if "baseline" not in dyn_meta:  # the first layout: the baseline inside the dynamics part
        return Layers(stack, folders, dyn, manifests)
    baseline = (dyn / dyn_meta["baseline"]).resolve()
    if not baseline.exists():  # optional: installs without baselines still step the world model
        return Layers(stack, folders, None, manifests, baseline_missing=baseline)
    baseline, _, manifests[baseline] = _part(dyn, dyn_meta["baseline"], BASELINE_FORMAT, dyn, verify)
    return Layers(stack, folders, baseline, manifests)


def load_shared_state(file: Path) -> dict[str, torch.Tensor]:
    """A shared component's weights (CPU), read from disk once per process and version of the file."""
    from rla_gym.models.bundle import _load_safetensors

    st = file.stat()
    key = (str(file.resolve()), st.st_size, st.st_mtime_ns)
    if key not in SHARED_CACHE:
        SHARED_CACHE[key] = _load_safetensors(file)
    return SHARED_CACHE[key]


# ---------------------------------------------------------------------------------------------- writing
def save_layered(
    bundle,
    root: str | os.PathLike,
    *,
    shared: str,
    dynamics: str,
    task: str,
    dtype: torch.dtype | None = None,
    extra: dict[str, str | os.PathLike | bytes] | None = None,
) -> Path:
    """Write `bundle` as three parts under `root` (folders `shared`, `dynamics`, `task`), and a fourth
    (`dynamics` + "-regression") when it has a regression baseline; returns the task folder.

    A shared or dynamics part that already exists with the same weights is kept (another robot or task relies on
    it); one with other weights is refused: replacing it would change every bundle that names it. `extra` files (the
    model card, figures) go into the task folder."""
    from rla_gym.models.bundle import save_bundle

    root = Path(root)
    staged = root / f".{task}.layered-staging"
    shutil.rmtree(staged, ignore_errors=True)
    save_bundle(bundle, staged, dtype=dtype)  # one bundle written as usual, then split into its parts
    try:
        cfg = json.loads((staged / "config.json").read_text())
        whole = cfg.pop("stack")
        files = set(json.loads((staged / "manifest.json").read_text())["files"]) - {"config.json"}
        meta_shared = {"format": SHARED_FORMAT, "format_version": 1, "random": bundle.random}
        meta_shared["stack"] = {k: whole[k] for k in SHARED_KEYS}
        meta_dyn = {"format": DYNAMICS_FORMAT, "format_version": 1, "random": bundle.random, "shared": f"../{shared}"}
        meta_dyn["stack"] = {k: whole[k] for k in DYNAMICS_KEYS}
        shared_files = [f"{n}.safetensors" for n in SHARED_COMPONENTS if f"{n}.safetensors" in files]
        dyn_files = [f for f in files if f.startswith("world_model.")]
        baseline_files = [f for f in files if f.startswith("regression.")]
        if baseline_files:
            meta_dyn["baseline"] = f"../{dynamics}{BASELINE_SUFFIX}"
            meta_base = {"format": BASELINE_FORMAT, "format_version": 1, "random": bundle.random}
            _write_part(root / f"{dynamics}{BASELINE_SUFFIX}", staged, baseline_files, meta_base)
        _write_part(root / shared, staged, shared_files, meta_shared)
        _write_part(root / dynamics, staged, dyn_files, meta_dyn)
        task_files = sorted(files - set(shared_files) - set(dyn_files) - set(baseline_files))
        meta_task = {**cfg, "format_version": 2, "robot": bundle.robot, "parts": {"dynamics": f"../{dynamics}"}}
        _write_part(root / task, staged, task_files, meta_task, replace=True, extra=extra)
    finally:
        shutil.rmtree(staged, ignore_errors=True)
    return root / task


def _write_part(
    out: Path,
    staged: Path,
    files: list[str],
    meta: dict[str, Any],
    replace: bool = False,
    extra: dict[str, str | os.PathLike | bytes] | None = None,
) -> None:
    from rla_gym.models.bundle import BundleError, add_to_bundle, sha256_file, write_folder

    if out.is_dir() and not replace:
        old = json.loads((out / "manifest.json").read_text()) if (out / "manifest.json").is_file() else {}
        same = {f: sha256_file(staged / f) for f in files} == {
            f: d for f, d in old.get("files", {}).items() if f != "config.json"
        }
        if same:
            return
        raise BundleError(
            f"{out} exists with other weights: a shared part is relied on by every bundle that names it. Write the "
            "new parts under other names, or remove the old part first"
        )

    def fill(tmp: Path) -> None:
        for f in files:
            shutil.copyfile(staged / f, tmp / f)
        (tmp / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
        manifest = {"format": meta["format"], "random": meta.get("random", False), "files": {}}
        (tmp / "manifest.json").write_text(json.dumps(manifest) + "\n")
        add_to_bundle(tmp, {f: tmp / f for f in [*files, "config.json"]})

    write_folder(out, fill, extra)
