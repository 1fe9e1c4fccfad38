"""Bundles: one folder holding a whole simulator stack and its reference demos.

Layout: `config.json` (stack config and metadata), one `<component>.safetensors` per model, an
optional `demos.safetensors`, an optional direct-regression baseline (`regression.safetensors` and its config
`regression.json`: `Bundle.regression`, `Bundle.dynamics("regression")`), and `manifest.json` with the sha256 and
size of every file. `save_bundle`
and `load_bundle` are symmetric; `load_bundle` also takes a hub id (`owner/repo` or `owner/repo/subfolder`)
resolved through huggingface_hub.

Checksums cost a full read of every file (gigabytes at paper size), so they are verified when a
bundle is downloaded (`resolve_bundle_path`) or copied (`copy_bundle`), or on request
(`load_bundle(..., verify=True)`, `verify_manifest`). Every load checks that each listed file exists with its
recorded size and stamp (sha256 of its size and first and last 64 KiB: reads 128 KiB a file), which catches
truncation and a file from another bundle or run; bundles written before stamps load with the size check alone.

A bundle is written into a hidden sibling folder and renamed into place, so a write that is killed leaves the old
bundle (or none), never a mix of old and new files."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from rla_gym.data.demo_set import DemoSet
from rla_gym.models.configs import StackConfig
from rla_gym.models.device import resolve_device
from rla_gym.models.dino_encoder import DinoEncoder
from rla_gym.models.dynamics import DYNAMICS, CopyDynamics, Dynamics, RegressionDynamics
from rla_gym.models.regression import CONFIG_FILE as REGRESSION_CONFIG
from rla_gym.models.regression import WEIGHTS_FILE as REGRESSION_WEIGHTS
from rla_gym.models.regression import RegressionConfig, RegressionWorldModel
from rla_gym.models.stack import WorldModelStack
from rla_gym.models.state_dicts import load_strict

log = logging.getLogger(__name__)

FORMAT = "rla-gym-bundle"
FORMAT_VERSION = 1
# config.json keys the format itself owns; everything else there is free-form metadata
_RESERVED_KEYS = frozenset({"format", "format_version", "stack", "random", "task"})


class BundleError(ValueError):
    """A bundle is missing, corrupt, or does not fit what it is used for."""


@dataclass
class Bundle:
    stack: WorldModelStack
    demos: DemoSet | None = None
    random: bool = False
    task: str | None = None
    path: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    regression: RegressionWorldModel | None = None  # the direct-regression baseline, when the bundle ships one
    baseline_missing: Path | None = None  # a layered zoo's baseline part, named but not installed here

    @property
    def config(self) -> StackConfig:
        return self.stack.config

    @property
    def robot(self) -> str:
        return self.stack.config.robot

    @property
    def encoder(self) -> DinoEncoder:
        return self.stack.encoder

    def dynamics(self, name: str = "rla-wm", euler_steps: int | None = None) -> Dynamics:
        """One world-model step of this bundle (`rla_gym.models.dynamics`): "rla-wm" (the stack's RLA-WM at
        `euler_steps`, None: the config's), "regression" (the shipped baseline) or "copy" (copy the first frame)."""
        if name == "rla-wm":
            return self.stack.dynamics(euler_steps)
        if name == "copy":
            wm = self.stack.config.world_model
            return CopyDynamics(self.stack.robot, self.stack.token_dim, wm.max_horizon, self.stack.num_tokens)
        if name == "regression":
            if self.regression is None:
                if self.baseline_missing is not None:
                    raise BundleError(
                        f"bundle {self.path}'s regression baseline lives in the zoo part {self.baseline_missing}, "
                        "which is not installed here (the wheel leaves baselines out, for size): use a checkout of "
                        "rla-gym (models/) or the zoo's hub id"
                    )
                where = self.path if self.path is not None else "(in memory)"
                raise BundleError(
                    f"bundle {where} ships no regression baseline ({REGRESSION_WEIGHTS} and {REGRESSION_CONFIG} in "
                    "its manifest). Train one (`rla-gym train regression --init BUNDLE --data DIR --out RUN`) and "
                    "ship it with `rla-gym make-bundle --from-runs ... --regression RUN`, or set `bundle.regression` "
                    "and save the bundle again"
                )
            return RegressionDynamics(self.regression, self.stack.robot, num_tokens=self.stack.num_tokens)
        raise ValueError(f"dynamics {name!r}; valid: {', '.join(DYNAMICS)}")

    def save_pretrained(self, path: str | os.PathLike, dtype: torch.dtype | None = None) -> Path:
        return save_bundle(self, path, dtype=dtype)

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, device: str | torch.device = "cpu") -> Bundle:
        return load_bundle(source, device=device)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


STAMP_BYTES = 64 * 1024  # a stamp reads this much from each end of a file


def stamp_file(path: Path) -> str:
    """A cheap fingerprint for every load: sha256 of the size and the first and last 64 KiB.

    safetensors files start with a header naming every tensor and its offsets, so a file of another model or
    config differs in the first bytes; weights of another run of the same model differ throughout."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(STAMP_BYTES))
        if size > STAMP_BYTES:
            f.seek(max(STAMP_BYTES, size - STAMP_BYTES))
            h.update(f.read(STAMP_BYTES))
    return h.hexdigest()


def _staging_folder(out: Path, verb: str) -> Path:
    """A new hidden sibling of `out` to build a bundle in before it is renamed into place; refuses an `out` that is
    a file or a folder of other files (it would be replaced whole)."""
    if out.exists() and not out.is_dir():
        raise BundleError(f"cannot {verb} a bundle to {out}: expected a folder (new or a bundle); it is a file")
    if out.is_dir() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise BundleError(f"cannot {verb} a bundle to {out}: expected a new folder or a bundle; it holds other files")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    return tmp


def save_bundle(
    bundle: Bundle,
    path: str | os.PathLike,
    dtype: torch.dtype | None = None,
    extra: dict[str, str | os.PathLike | bytes] | None = None,
) -> Path:
    """Write the bundle folder. Encoder weights are stored unless the encoder comes from a hub id.

    `dtype=torch.float16` stores the weights' floating tensors at half size (they load back into fp32 modules);
    demos are stored as they are. `extra` files (a model card, a baseline) join the manifest as with
    `add_to_bundle`. Written into a hidden sibling folder, then renamed into place: an existing bundle at `path`
    is replaced whole, or (if the write fails or is killed) left as it was. An existing folder that is not a
    bundle is refused."""
    return write_folder(Path(path), lambda tmp: _write_bundle(bundle, tmp, dtype), extra)


def write_folder(
    out: Path, fill: Callable[[Path], None], extra: dict[str, str | os.PathLike | bytes] | None = None
) -> Path:
    """`fill(tmp)` a hidden sibling of `out` (it writes the files and their manifest), add `extra` files, then
    rename it into place; on any failure the staging folder goes and `out` is left as it was."""
    tmp = _staging_folder(out, "write")
    try:
        fill(tmp)
        if extra:
            add_to_bundle(tmp, extra)
        _replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _replace_folder(new: Path, out: Path) -> None:
    """Put the finished folder `new` at `out`: one rename, or three when `out` exists (old aside, new in, old
    removed); a kill between the first two leaves the old bundle whole under `.<name>.old-*`."""
    if not out.exists():
        new.rename(out)
        return
    old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
    out.rename(old)
    new.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def _write_bundle(bundle: Bundle, out: Path, dtype: torch.dtype | None) -> None:
    cfg = bundle.stack.config
    files: list[str] = []
    for name, module in bundle.stack.components().items():
        if name == "encoder" and cfg.encoder.hub_id is not None:
            continue  # pretrained DINOv3 is loaded by hub id, not redistributed
        state = {k: stored(v, dtype) for k, v in module.state_dict().items()}
        save_file(state, out / f"{name}.safetensors")
        files.append(f"{name}.safetensors")
    if bundle.demos is not None:
        save_file({k: v.contiguous().cpu() for k, v in bundle.demos.tensors().items()}, out / "demos.safetensors")
        files.append("demos.safetensors")
    if bundle.regression is not None:
        state = {k: stored(v, dtype) for k, v in bundle.regression.state_dict().items()}
        save_file(state, out / REGRESSION_WEIGHTS)
        (out / REGRESSION_CONFIG).write_text(json.dumps(bundle.regression.config.to_dict(), indent=2) + "\n")
        files += [REGRESSION_WEIGHTS, REGRESSION_CONFIG]
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "stack": cfg.to_dict(),
        "random": bundle.random,
        "task": bundle.task,
        **{k: v for k, v in bundle.metadata.items() if k not in _RESERVED_KEYS},
    }
    (out / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
    files.append("config.json")
    manifest = {
        "format": FORMAT,
        "random": bundle.random,
        "files": {f: sha256_file(out / f) for f in sorted(files)},  # hashed as written, read back from disk
        "sizes": {f: (out / f).stat().st_size for f in sorted(files)},
        "stamps": {f: stamp_file(out / f) for f in sorted(files)},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")


def stored(tensor: torch.Tensor, dtype: torch.dtype | None) -> torch.Tensor:
    """A tensor as a weights file holds it: on the CPU, contiguous, floating ones cast to `dtype` (None: as is)."""
    tensor = tensor.detach().contiguous().cpu()
    return tensor.to(dtype) if dtype is not None and tensor.is_floating_point() else tensor


def set_bundle_metadata(path: str | os.PathLike, values: dict[str, Any]) -> Path:
    """Write free-form metadata (a calibrated success threshold, provenance) into a saved bundle's config.json
    and rehash it in the manifest. The keys the format owns cannot be changed this way."""
    out = Path(path)
    reserved = sorted(set(values) & _RESERVED_KEYS)
    if reserved:
        raise BundleError(f"{', '.join(reserved)} belong to the bundle format, not to its metadata")
    meta = _read_json(out / "config.json")
    meta.update(values)
    _write_text_atomic(out / "config.json", json.dumps(meta, indent=2) + "\n")
    return add_to_bundle(out, {"config.json": out / "config.json"})


def _write_text_atomic(path: Path, text: str) -> None:
    """Write a small file whole or not at all (a temporary file renamed over it): a kill never truncates it."""
    tmp = path.with_name(f".{path.name}.partial-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def add_to_bundle(path: str | os.PathLike, files: dict[str, str | os.PathLike | bytes]) -> Path:
    """Put extra files into a bundle folder and the manifest: a model card (`README.md`), a baseline beside the
    stack (`regression.safetensors`, `regression.json`). Values are source paths or the bytes to write."""
    out = Path(path)
    manifest = _read_json(out / "manifest.json")
    for name, source in files.items():
        if "/" in name or name in ("manifest.json",):
            raise BundleError(f"cannot add {name!r} to a bundle: plain file names only, not the manifest")
        if isinstance(source, bytes):
            (out / name).write_bytes(source)
        elif Path(source).resolve() != (out / name).resolve():  # the same file, edited in place: rehash only
            shutil.copyfile(source, out / name)
        manifest["files"][name] = sha256_file(out / name)
        manifest.setdefault("sizes", {})[name] = (out / name).stat().st_size
        manifest.setdefault("stamps", {})[name] = stamp_file(out / name)  # an old bundle: stamps for new files
    for key in ("files", "sizes", "stamps"):
        if key in manifest:
            manifest[key] = dict(sorted(manifest[key].items()))
    _write_text_atomic(out / "manifest.json", json.dumps(manifest, indent=2) + "\n")
    return out


def copy_bundle(source: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Copy a bundle folder (or hub id) to `dest` and verify the copy's checksums; returns `dest`.

    Like `save_bundle`, the copy is made in a hidden sibling folder and renamed into place once verified: a bundle
    already at `dest` is replaced whole or, if the copy fails, left as it was."""
    src = resolve_bundle_path(source)
    manifest = _read_json(src / "manifest.json")
    if "parts" in _read_json(src / "config.json"):
        raise BundleError(
            f"{src} is the task folder of a layered zoo: its weights live in the parts it names "
            f"({_read_json(src / 'config.json')['parts']}). Copy the zoo folder with every part, or write a whole "
            "bundle: `load_bundle(src).save_pretrained(dest, torch.float16)`"
        )
    out = Path(dest)
    tmp = _staging_folder(out, "copy")
    try:
        for name in [*manifest.get("files", {}), "manifest.json"]:
            file = src / name
            if not file.is_file():
                raise BundleError(f"bundle file missing: {file} (listed in manifest.json)")
            shutil.copyfile(file, tmp / name)  # follows the hub cache's symlinks
        try:
            verify_manifest(tmp)
        except BundleError as err:  # name the files as the user knows them, not the hidden copy
            what = str(err).replace(f"{tmp}{os.sep}", "")
            raise BundleError(f"copying {src} to {out}: {what}; {out} is left as it was") from err
        _replace_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def resolve_bundle_path(source: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """A local folder as is; a hub id (`owner/repo[/subfolder]`) through huggingface_hub's cache."""
    local = Path(source).expanduser()
    if local.is_dir():
        return local
    text = str(source)
    parts = text.strip("/").split("/")
    if local.exists() or len(parts) < 2 or text.startswith((".", "/", "~")):
        old = sorted(local.parent.glob(f".{local.name}.old-*")) if local.parent.is_dir() else []
        hint = (
            f"; a write killed while replacing it left the old bundle whole at {old[-1]}: rename it back" if old else ""
        )
        raise BundleError(f"no bundle folder at {text!r} (expected a folder with config.json and manifest.json){hint}")
    repo_id, sub = "/".join(parts[:2]), "/".join(parts[2:])
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    patterns = [f"{sub}/*"] if sub else None
    downloaded = False
    try:
        try:  # already in the cache (verified when it was downloaded): no network, no hashing
            root = snapshot_download(repo_id, allow_patterns=patterns, cache_dir=cache_dir, local_files_only=True)
        except LocalEntryNotFoundError:
            root = snapshot_download(repo_id, allow_patterns=patterns, cache_dir=cache_dir)
            downloaded = True
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as err:
        offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0")
        raise BundleError(
            f"bundle {text!r} is not a local folder and the hub could not provide it"
            f"{' (HF_HUB_OFFLINE is set)' if offline else ''}: {err}. Download it on a machine with internet "
            f"(`huggingface-cli download {repo_id}`) or pass a local bundle folder."
        ) from err
    path = Path(root) / sub if sub else Path(root)
    if not path.is_dir():
        raise BundleError(f"hub repo {repo_id!r} has no folder {sub!r}")
    if downloaded:
        verify_manifest(path)
    if sub:
        _fetch_parts(repo_id, Path(root), path, cache_dir)
    return path


def _fetch_parts(repo_id: str, root: Path, folder: Path, cache_dir: str | os.PathLike | None) -> None:
    """The parts a layered zoo's folder names (its dynamics part, that part's shared and baseline parts), from the
    same hub repo when the cache lacks them; each download verified. A whole bundle names none."""
    from huggingface_hub import snapshot_download

    meta = _read_json(folder / "config.json")
    named = [*(meta.get("parts") or {}).values(), *(meta[k] for k in ("shared", "baseline") if k in meta)]
    for ref in named:
        rel = os.path.normpath(os.path.join(folder.relative_to(root), ref))
        if rel.startswith(".."):
            raise BundleError(f"{folder / 'config.json'} names a part outside hub repo {repo_id!r}: {ref!r}")
        part = root / rel
        if not (part / "manifest.json").is_file():
            try:
                snapshot_download(repo_id, allow_patterns=[f"{rel}/*"], cache_dir=cache_dir)
            except OSError as err:  # huggingface_hub's HTTP and offline errors are OSErrors
                raise BundleError(f"hub repo {repo_id!r}: cannot download the part {rel!r} ({err})") from err
            verify_manifest(part)
        _fetch_parts(repo_id, root, part, cache_dir)


def _read_json(path: Path) -> dict[str, Any]:
    """A JSON object from a bundle file; a missing or invalid file is a BundleError naming it."""
    if not path.is_file():
        raise BundleError(f"bundle file missing: {path}")
    try:
        value = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise BundleError(f"{path} is not valid JSON ({err}); the file is corrupt or truncated") from err
    if not isinstance(value, dict):
        raise BundleError(f"{path} holds a JSON {type(value).__name__}; expected an object")
    return value


def verify_manifest(path: Path, checksums: bool = True) -> dict[str, Any]:
    """Check every file the manifest lists exists with its recorded size and, if `checksums`, its sha256, else its
    stamp (`stamp_file`).

    Sizes are free to check and catch truncated files; stamps read 128 KiB a file and catch a file from another
    bundle or run; sha256 reads every byte (see the module docstring).
    """
    path = Path(path)
    manifest = _read_json(path / "manifest.json")
    sizes = manifest.get("sizes", {})  # absent in bundles written before sizes were recorded
    stamps = manifest.get("stamps", {})  # absent in bundles written before stamps were recorded
    for name, digest in manifest.get("files", {}).items():
        f = path / name
        if not f.is_file():
            raise BundleError(f"bundle file missing: {f} (listed in manifest.json)")
        if name in sizes and f.stat().st_size != int(sizes[name]):
            raise BundleError(
                f"{f} has {f.stat().st_size} bytes; manifest.json says {sizes[name]} (truncated or replaced)"
            )
        if checksums:
            actual = sha256_file(f)
            if actual != digest:
                raise BundleError(f"checksum mismatch for {f}: manifest says sha256 {digest}, file has {actual}")
        elif name in stamps and stamp_file(f) != stamps[name]:
            raise BundleError(
                f"{f} does not match manifest.json (its first or last 64 KiB differ from the file the manifest "
                "describes): the bundle mixes files of two writes; write it again or restore it"
            )
    return manifest


def _load_safetensors(file: Path, device: str = "cpu") -> dict[str, torch.Tensor]:
    """`safetensors.torch.load_file` whose errors name the file (the library's do not)."""
    if not file.is_file():
        raise BundleError(f"bundle file missing: {file}")
    try:
        return load_file(file, device=device)
    except Exception as err:  # SafetensorError, OSError, ...: all mean the file cannot be read
        raise BundleError(f"{file} cannot be read as safetensors ({err}); the file is truncated or corrupt") from err


def load_bundle(
    source: str | os.PathLike,
    device: str | torch.device = "cpu",
    robot: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    verify: bool = False,
) -> Bundle:
    """Load a bundle folder or hub id onto `device`. `robot`, when given, must match the bundle's.

    `verify=True` also checks every file's sha256 (slow for big bundles); by default only the files'
    presence and sizes are checked, and downloads are verified once when they arrive."""
    path = resolve_bundle_path(source, cache_dir)
    manifest = verify_manifest(path, checksums=verify)
    config_file = path / "config.json"
    meta = _read_json(config_file)
    if meta.get("format") != FORMAT:
        raise BundleError(f"{config_file} is not an rla-gym bundle config (format {meta.get('format')!r})")
    layers = None
    if "parts" in meta:  # a task folder of a layered zoo: shared and per-robot weights live in other folders
        from rla_gym.models.layered import resolve_layers

        layers = resolve_layers(path, meta, verify)
    try:
        cfg = StackConfig.from_dict(layers.stack if layers else meta["stack"])
    except (KeyError, TypeError, ValueError) as err:
        where = f"{config_file} and its parts {', '.join(map(str, layers.manifests))}" if layers else config_file
        raise BundleError(f"{where}: not a valid stack config together ({err})") from err
    if robot is not None and cfg.robot != robot:
        raise BundleError(f"bundle {str(source)!r} was made for robot {cfg.robot!r}, not {robot!r}")
    dev = resolve_device(device)
    from rla_gym.models.layered import SHARED_COMPONENTS, load_shared_state

    encoder = DinoEncoder.from_pretrained(cfg.encoder).to(dev) if cfg.encoder.hub_id is not None else None
    with torch.device(dev):  # random init is overwritten below; buffers (RoPE, ImageNet stats) stay right
        stack = WorldModelStack(cfg, encoder=encoder)
    for name, module in stack.components().items():
        if name == "encoder" and encoder is not None:
            continue
        file = (layers.folders.get(name, path) if layers else path) / f"{name}.safetensors"
        if layers and name in SHARED_COMPONENTS:
            state = load_shared_state(file)  # read once per process, however many robots use it
        else:
            state = _load_safetensors(file, device=str(dev))
        load_strict(module, state, source=str(file))
    stack.eval()
    demos = None
    if (path / "demos.safetensors").is_file():
        demos = _load_demos(path / "demos.safetensors", stack.image_size)
    if layers:
        regression = None
        if layers.regression is not None:
            regression = _load_regression(layers.regression, layers.manifests[layers.regression], dev)
    else:
        regression = _load_regression(path, manifest, dev)
    random = bool(manifest.get("random", meta.get("random", False)))
    if random:
        log.warning(
            "bundle %s holds RANDOM weights (made by `rla-gym make-bundle --random`): "
            "observations and rewards are meaningless; use it to try the API and in tests",
            path,
        )
    extra = {k: v for k, v in meta.items() if k not in _RESERVED_KEYS}
    return Bundle(
        stack=stack,
        demos=demos,
        random=random,
        task=meta.get("task"),
        path=path,
        metadata=extra,
        regression=regression,
        baseline_missing=layers.baseline_missing if layers else None,
    )


def _load_demos(file: Path, image_size: int) -> DemoSet:
    """The demo set; a stored video is decoded and resized to the stack's image size, as the training data was."""
    from rla_gym.data.video import VideoReadError

    try:
        return DemoSet.from_tensors(_load_safetensors(file), image_size=image_size)
    except (KeyError, ValueError, VideoReadError) as err:
        raise BundleError(f"{file}: not a valid demo set ({err})") from err


def _load_regression(path: Path, manifest: dict[str, Any], device: torch.device) -> RegressionWorldModel | None:
    """The regression component when the manifest lists it (both files, or it is an error), else None."""
    listed = [f for f in (REGRESSION_WEIGHTS, REGRESSION_CONFIG) if f in manifest.get("files", {})]
    if not listed:
        return None
    if len(listed) == 1:
        other = REGRESSION_CONFIG if listed[0] == REGRESSION_WEIGHTS else REGRESSION_WEIGHTS
        raise BundleError(f"{path}/manifest.json lists {listed[0]} but not {other}: the regression baseline needs both")
    try:
        config = RegressionConfig(**_read_json(path / REGRESSION_CONFIG))
    except TypeError as err:
        raise BundleError(f"{path / REGRESSION_CONFIG} is not a regression config ({err})") from err
    with torch.device(device):
        model = RegressionWorldModel(config)
    file = path / REGRESSION_WEIGHTS
    load_strict(model, _load_safetensors(file, device=str(device)), source=str(file))
    return model.eval()
