"""The RLA model stack: DINOv3 encoder, RLA autoencoder, RLA-WM, UNet; one `Dynamics` step (RLA-WM, regression,
copy-first); configs; bundle loading."""

from rla_gym.models.configs import (
    PRESETS,
    EncoderConfig,
    StackConfig,
    TokenTransformerConfig,
    UNetConfig,
    WorldModelConfig,
    cpu_config,
    paper_config,
    preset_config,
    tiny_config,
)
from rla_gym.models.dino_encoder import DinoEncoder
from rla_gym.models.dynamics import CopyDynamics, Dynamics, RegressionDynamics, RLAWMDynamics
from rla_gym.models.rla_wm import RLAWorldModel, RobotActionEncoder
from rla_gym.models.stack import WorldModelStack
from rla_gym.models.token_transformer import RLAAutoencoder, TokenTransformer
from rla_gym.models.unet import TokenToImageUNet

__all__ = [
    "PRESETS",
    "CopyDynamics",
    "DinoEncoder",
    "Dynamics",
    "EncoderConfig",
    "RLAAutoencoder",
    "RLAWMDynamics",
    "RLAWorldModel",
    "RegressionDynamics",
    "RobotActionEncoder",
    "StackConfig",
    "TokenToImageUNet",
    "TokenTransformer",
    "TokenTransformerConfig",
    "UNetConfig",
    "WorldModelConfig",
    "WorldModelStack",
    "cpu_config",
    "paper_config",
    "preset_config",
    "tiny_config",
]
