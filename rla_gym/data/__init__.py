"""Episodes on disk in the paper authors' layout, the episode dataset, pair sampling, frames to tokens."""

from rla_gym.data.dataset import EpisodeDataset, EpisodeLoadError, find_episode_dirs
from rla_gym.data.encoding import encode_frames, state_dict_fingerprint
from rla_gym.data.episode import (
    DEFAULT_CAMERA,
    Episode,
    object_motion_flags,
    read_episode,
    traj_dir_name,
    write_episode,
)
from rla_gym.data.pairs import (
    RLA_AUTOENCODER,
    WORLD_MODEL,
    DatasetFrames,
    PairBatch,
    PairIndex,
    PairSampler,
    PairSamplerConfig,
)
from rla_gym.data.split_metadata import read_split_metadata, robot_info, write_split_metadata
from rla_gym.data.synthetic import synthetic_episode

__all__ = [
    "DEFAULT_CAMERA",
    "RLA_AUTOENCODER",
    "WORLD_MODEL",
    "DatasetFrames",
    "Episode",
    "EpisodeDataset",
    "EpisodeLoadError",
    "PairBatch",
    "PairIndex",
    "PairSampler",
    "PairSamplerConfig",
    "encode_frames",
    "find_episode_dirs",
    "object_motion_flags",
    "read_episode",
    "read_split_metadata",
    "robot_info",
    "state_dict_fingerprint",
    "synthetic_episode",
    "traj_dir_name",
    "write_episode",
    "write_split_metadata",
]
