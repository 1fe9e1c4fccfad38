"""Bundles: one folder holding a whole simulator stack and its reference demos.

Layout: `config.json` (stack config and metadata), one `<component>.safetensors` per model, an
optional `demos.safetensors`, and `manifest.json` with the sha256 of every file. `save_bundle` and
`load_bundle` are symmetric; `load_bundle` also takes a hub id (`owner/repo` or `owner/repo/subfolder`)
resolved through huggingface_hub."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from rla_gym.data.demo_set import DemoSet
from rla_gym.models.configs import StackConfig
from rla_gym.models.device import resolve_device
from rla_gym.models.dino_encoder import DinoEncoder
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

    @property
    def config(self) -> StackConfig:
        return self.stack.config

    @property
    def robot(self) -> str:
        return self.stack.config.robot

    @property
    def encoder(self) -> DinoEncoder:
        return self.stack.encoder

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        return save_bundle(self, path)

    @classmethod
    def from_pretrained(cls, source: str | os.PathLike, device: str | torch.device = "cpu") -> Bundle:
        return load_bundle(source, device=device)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_bundle(bundle: Bundle, path: str | os.PathLike) -> Path:
    """Write the bundle folder. Encoder weights are stored unless the encoder comes from a hub id."""
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    cfg = bundle.stack.config
    files: list[str] = []
    for name, module in bundle.stack.components().items():
        if name == "encoder" and cfg.encoder.hub_id is not None:
            continue  # pretrained DINOv3 is loaded by hub id, not redistributed
        state = {k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}
        save_file(state, out / f"{name}.safetensors")
        files.append(f"{name}.safetensors")
    if bundle.demos is not None:
        save_file({k: v.contiguous().cpu() for k, v in bundle.demos.tensors().items()}, out / "demos.safetensors")
        files.append("demos.safetensors")
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
        "files": {f: sha256_file(out / f) for f in sorted(files)},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return out


def resolve_bundle_path(source: str | os.PathLike, cache_dir: str | os.PathLike | None = None) -> Path:
    """A local folder as is; a hub id (`owner/repo[/subfolder]`) through huggingface_hub's cache."""
    local = Path(source).expanduser()
    if local.is_dir():
        return local
    text = str(source)
    parts = text.strip("/").split("/")
    if local.exists() or len(parts) < 2 or text.startswith((".", "/", "~")):
        raise BundleError(f"no bundle folder at {text!r} (expected a folder with config.json and manifest.json)")
    repo_id, sub = "/".join(parts[:2]), "/".join(parts[2:])
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    try:
        root = snapshot_download(repo_id, allow_patterns=[f"{sub}/*"] if sub else None, cache_dir=cache_dir)
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
    return path


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BundleError(f"bundle file missing: {path}")
    return json.loads(path.read_text())


def verify_manifest(path: Path) -> dict[str, Any]:
    """Check every file the manifest lists exists with the recorded sha256."""
    manifest = _read_json(path / "manifest.json")
    for name, digest in manifest.get("files", {}).items():
        f = path / name
        if not f.is_file():
            raise BundleError(f"bundle file missing: {f} (listed in manifest.json)")
        actual = sha256_file(f)
        if actual != digest:
            raise BundleError(f"checksum mismatch for {f}: manifest says sha256 {digest}, file has {actual}")
    return manifest


def load_bundle(
    source: str | os.PathLike,
    device: str | torch.device = "cpu",
    robot: str | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Bundle:
    """Load a bundle folder or hub id onto `device`. `robot`, when given, must match the bundle's."""
    path = resolve_bundle_path(source, cache_dir)
    manifest = verify_manifest(path)
    meta = _read_json(path / "config.json")
    if meta.get("format") != FORMAT:
        raise BundleError(f"{path / 'config.json'} is not an rla-gym bundle config (format {meta.get('format')!r})")
    cfg = StackConfig.from_dict(meta["stack"])
    if robot is not None and cfg.robot != robot:
        raise BundleError(f"bundle {str(source)!r} was made for robot {cfg.robot!r}, not {robot!r}")
    dev = resolve_device(device)
    encoder = DinoEncoder.from_pretrained(cfg.encoder).to(dev) if cfg.encoder.hub_id is not None else None
    with torch.device(dev):  # random init is overwritten below; buffers (RoPE, ImageNet stats) stay right
        stack = WorldModelStack(cfg, encoder=encoder)
    for name, module in stack.components().items():
        if name == "encoder" and encoder is not None:
            continue
        file = path / f"{name}.safetensors"
        if not file.is_file():
            raise BundleError(f"bundle file missing: {file}")
        load_strict(module, load_file(file, device=str(dev)), source=f"{name}.safetensors")
    stack.eval()
    demos = None
    if (path / "demos.safetensors").is_file():
        demos = DemoSet.from_tensors(load_file(path / "demos.safetensors"))
    random = bool(manifest.get("random", meta.get("random", False)))
    if random:
        log.warning(
            "bundle %s holds RANDOM weights (made by `rla-gym make-bundle --random`): "
            "observations and rewards are meaningless; use it to try the API and in tests",
            path,
        )
    extra = {k: v for k, v in meta.items() if k not in _RESERVED_KEYS}
    return Bundle(stack=stack, demos=demos, random=random, task=meta.get("task"), path=path, metadata=extra)
