"""Encode every episode's frames with a bundle's encoder once, into a token cache for training."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_CACHE_DIR = ".features"  # under --data; hidden, so episode discovery never walks it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", type=Path, required=True, help="folder with traj_* episodes (searched recursively)")
    parser.add_argument("--bundle", required=True, help="bundle folder or hub id whose encoder makes the tokens")
    parser.add_argument(
        "--cache", type=Path, default=None, help=f"token cache folder (default DATA/{DEFAULT_CACHE_DIR})"
    )
    parser.add_argument("--camera", default=None, help="camera stream to read (default: the recorded one)")
    parser.add_argument(
        "--size", type=int, default=None, help="resize frames to SIZE px at read (default: the encoder resizes)"
    )
    parser.add_argument("--batch-size", type=int, default=16, help="frames per encoder call")
    parser.add_argument("--device", default="cpu", help="torch device for the encoder")


def run(args: argparse.Namespace) -> int:
    from rla_gym.data.dataset import EpisodeDataset
    from rla_gym.data.feature_cache import FeatureCache, featurize_dataset
    from rla_gym.models.bundle import load_bundle  # lazy: heavy, and only this command needs it

    dataset = EpisodeDataset(args.data, size=args.size, camera=args.camera)
    if len(dataset) == 0:
        logger.error("no readable traj_* episodes under %s", args.data)
        return 1
    encoder = load_bundle(args.bundle, device=args.device).encoder
    cache_dir = args.cache if args.cache is not None else Path(args.data) / DEFAULT_CACHE_DIR
    cache = FeatureCache.for_encoder(cache_dir, encoder, args.size)
    report = featurize_dataset(dataset, encoder, cache, batch_size=args.batch_size, device=args.device)
    if dataset.skipped:
        logger.warning("%d episode folders were skipped as corrupt", len(dataset.skipped))
    return 0 if report.computed + report.reused > 0 else 1
