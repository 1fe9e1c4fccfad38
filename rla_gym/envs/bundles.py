"""Which bundle an env runs: a folder, a hub id, a loaded Bundle, or the embedded default in `models/`."""

from __future__ import annotations

import os

import torch

from rla_gym.models.bundle import Bundle, BundleError, load_bundle
from rla_gym.models.zoo import default_bundle_path, models_dir


def resolve_bundle(
    bundle: str | os.PathLike | Bundle | None, robot: str, task: str | None, device: torch.device
) -> Bundle:
    if isinstance(bundle, Bundle):
        if bundle.robot != robot:
            raise BundleError(f"bundle was made for robot {bundle.robot!r}, not {robot!r}")
        return bundle
    if bundle is None:
        path = default_bundle_path(robot, task)
        if path is None:
            raise BundleError(
                f"no embedded default bundle for robot {robot!r} in {models_dir()} yet. Pass bundle=<folder or hub "
                f"id>, or make a random one to try the API: `rla-gym make-bundle --random --robot {robot} --out DIR`"
            )
        bundle = path
    return load_bundle(bundle, device=device, robot=robot)
