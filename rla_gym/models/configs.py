"""Dataclass configs for every model, with the paper's sizes and CPU sizes as named presets.

Field names follow the released run folders' `config.yaml` model args (reference section 1.6), so a
released `{name, args}` block maps onto these configs with `from_args`. One code path serves all sizes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rla_gym.specs.robots import WM_ACTION_BUFFER, get_robot

# Released args that only concern the authors' fp16 numerics or disabled features: accepted, not stored.
_IGNORED_ARGS = {"use_fp16", "num_tasks", "use_task_horizon_embedding", "no_horizon_embedding"}


def _from_args(cls: type, args: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(args) - names - _IGNORED_ARGS
    if unknown:
        raise ValueError(f"{cls.__name__} got unknown arguments {sorted(unknown)}; known: {sorted(names)}")
    if args.get("use_task_horizon_embedding"):
        raise NotImplementedError("use_task_horizon_embedding=True is not used by any released RLA-WM")
    return cls(**{k: v for k, v in args.items() if k in names})


@dataclass
class EncoderConfig:
    """DINOv3 ViT feature encoder. `hub_id` loads pretrained weights; otherwise the bundle holds them."""

    image_size: int = 512  # frames are resized to this square size before encoding
    hub_id: str | None = "facebook/dinov3-vitl16-pretrain-lvd1689m"
    hidden_size: int = 1024
    num_hidden_layers: int = 24
    num_attention_heads: int = 16
    intermediate_size: int = 4096
    patch_size: int = 16
    num_register_tokens: int = 4
    layerscale_value: float = 1e-5
    use_gated_mlp: bool = False

    @property
    def grid(self) -> int:
        return -(-self.image_size // self.patch_size)  # reflect padding rounds up

    @property
    def num_patches(self) -> int:
        return self.grid * self.grid


@dataclass
class TokenTransformerConfig:
    """RLA encoder f_enc / decoder f_dec (released name `SimpleTokenTransformer`)."""

    in_channels: int
    model_channels: int
    out_channels: int
    num_blocks: int
    num_heads: int = 8
    mlp_ratio: float = 4.0
    num_tokens: int = 16
    zero_init: bool = False
    token_channels: int | None = None
    norm_output_tokens: bool = False
    # Decoder only: predict s_{t+h} - s_t and add s_t back. Not in the released models (False there); an
    # absolute-token decoder has an error floor on the static background that copying does not have.
    residual_output: bool = False

    from_args = classmethod(_from_args)


@dataclass
class WorldModelConfig:
    """RLA-WM dynamics (released name `RLAWM`): per-robot action encoder, condition and flow networks."""

    robot_qpos_dims: dict[str, int]  # robot id (as str) -> full qpos dim
    model_channels: int = 1024
    flow_model_channels: int = -1  # -1: same as model_channels
    token_dim: int = 64
    dino_channels: int = 1024
    num_cond_blocks: int = 6
    num_flow_blocks: int = 6
    num_heads: int = 16
    mlp_ratio: float = 4.0
    max_horizon: int = 100
    qpos_frame_channels: int = 64

    from_args = classmethod(_from_args)

    @property
    def flow_channels(self) -> int:
        return self.model_channels if self.flow_model_channels <= 0 else self.flow_model_channels


@dataclass
class UNetConfig:
    """Token -> RGB decoder (released name `DinoToImageDecoderV1`); each upsample doubles H, W."""

    in_channels: int
    model_channels: int = 256
    out_channels: int = 3
    num_upsamples: int = 4  # released: 4 (patch 16); CPU presets with patch 8 use 3

    from_args = classmethod(_from_args)


@dataclass
class StackConfig:
    """The whole simulator stack for one robot: encoder, RLA autoencoder, RLA-WM, UNet."""

    robot: str
    encoder: EncoderConfig
    rla_encoder: TokenTransformerConfig
    rla_decoder: TokenTransformerConfig
    world_model: WorldModelConfig
    image_decoder: UNetConfig
    latent_scale: float = 10.0  # x0 = z / latent_scale during flow matching (reference 4.4)
    euler_steps: int = 30
    preset: str = "custom"

    def __post_init__(self) -> None:
        for name in ("encoder", "rla_encoder", "rla_decoder", "world_model", "image_decoder"):
            value = getattr(self, name)
            if isinstance(value, dict):
                cls = {f.name: f.type for f in dataclasses.fields(self)}[name]
                setattr(self, name, globals()[cls](**value))
        self.validate()

    @property
    def robot_key(self) -> str:
        return str(get_robot(self.robot).robot_id)

    def validate(self) -> None:
        """Check that the components fit together; the error names both sides."""
        spec = get_robot(self.robot)
        c = self.encoder.hidden_size
        pairs = {
            "rla_encoder.in_channels": self.rla_encoder.in_channels,
            "rla_decoder.in_channels": self.rla_decoder.in_channels,
            "rla_decoder.out_channels": self.rla_decoder.out_channels,
            "world_model.dino_channels": self.world_model.dino_channels,
            "image_decoder.in_channels": self.image_decoder.in_channels,
        }
        for name, value in pairs.items():
            if value != c:
                raise ValueError(f"config mismatch: {name} = {value} but encoder.hidden_size = {c}")
        dz = self.rla_encoder.out_channels
        for name, value in {
            "rla_decoder.token_channels": self.rla_decoder.token_channels,
            "world_model.token_dim": self.world_model.token_dim,
        }.items():
            if value != dz:
                raise ValueError(f"config mismatch: {name} = {value} but rla_encoder.out_channels = {dz}")
        if self.rla_decoder.num_tokens != self.rla_encoder.num_tokens:
            raise ValueError(
                f"config mismatch: rla_decoder.num_tokens = {self.rla_decoder.num_tokens} but "
                f"rla_encoder.num_tokens = {self.rla_encoder.num_tokens}"
            )
        qdim = self.world_model.robot_qpos_dims.get(self.robot_key)
        if qdim != spec.qpos_dim:
            raise ValueError(
                f"config mismatch: world_model.robot_qpos_dims[{self.robot_key!r}] = {qdim}; "
                f"{spec.name} has qpos dim {spec.qpos_dim}"
            )
        if self.encoder.patch_size != 2**self.image_decoder.num_upsamples:
            raise ValueError(
                f"config mismatch: encoder.patch_size = {self.encoder.patch_size} but the UNet upsamples "
                f"by 2**{self.image_decoder.num_upsamples}"
            )

    @property
    def num_latent_tokens(self) -> int:
        return self.rla_encoder.num_tokens

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StackConfig:
        return cls(**data)


def _stack(
    robot: str,
    preset: str,
    *,
    enc: EncoderConfig,
    width: int,
    heads: int,
    rla_blocks: int,
    cond_blocks: int,
    flow_blocks: int,
    num_tokens: int,
    token_dim: int,
    unet_channels: int,
    euler_steps: int,
    frame_channels: int = 64,
) -> StackConfig:
    spec = get_robot(robot)
    c = enc.hidden_size
    return StackConfig(
        robot=spec.name,
        preset=preset,
        encoder=enc,
        rla_encoder=TokenTransformerConfig(c, width, token_dim, rla_blocks, heads, num_tokens=num_tokens),
        rla_decoder=TokenTransformerConfig(
            c, width, c, rla_blocks, heads, num_tokens=num_tokens, zero_init=True, token_channels=token_dim
        ),
        world_model=WorldModelConfig(
            robot_qpos_dims={str(spec.robot_id): spec.qpos_dim},
            model_channels=width,
            token_dim=token_dim,
            dino_channels=c,
            num_cond_blocks=cond_blocks,
            num_flow_blocks=flow_blocks,
            num_heads=heads,
            max_horizon=WM_ACTION_BUFFER,
            qpos_frame_channels=frame_channels,
        ),
        image_decoder=UNetConfig(c, unet_channels, 3, num_upsamples=(enc.patch_size).bit_length() - 1),
        euler_steps=euler_steps,
    )


def paper_config(robot: str = "ur10e") -> StackConfig:
    """The released ManiSkill stack: DINOv3-L/16 at 512 px, width 1024, 12+12 RLA, 8+8 WM blocks."""
    return _stack(
        robot,
        "paper",
        enc=EncoderConfig(),
        width=1024,
        heads=16,
        rla_blocks=12,
        cond_blocks=8,
        flow_blocks=8,
        num_tokens=32,
        token_dim=64,
        unet_channels=1024,
        euler_steps=30,
    )


def cpu_config(robot: str = "ur10e") -> StackConfig:
    """CPU scale (design notes): frozen random DINOv3-architecture tokenizer, patch 8 at 64 px, width 192."""
    enc = EncoderConfig(
        image_size=64,
        hub_id=None,
        hidden_size=192,
        num_hidden_layers=4,
        num_attention_heads=3,
        intermediate_size=768,
        patch_size=8,
        num_register_tokens=0,
        layerscale_value=1.0,
    )
    config = _stack(
        robot,
        "cpu",
        enc=enc,
        width=192,
        heads=6,
        rla_blocks=3,
        cond_blocks=3,
        flow_blocks=3,
        num_tokens=16,
        token_dim=32,
        unet_channels=128,
        euler_steps=4,
    )
    config.rla_decoder.residual_output = True  # CPU scale: no error floor on the static background (design notes)
    return config


def tiny_config(robot: str = "ur10e") -> StackConfig:
    """Test scale: seconds to build and run; shapes exercise every code path."""
    enc = EncoderConfig(
        image_size=48,  # 6x6 patches: the smallest size SB3's NatureCNN accepts
        hub_id=None,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        patch_size=8,
        num_register_tokens=1,
        layerscale_value=1.0,
    )
    return _stack(
        robot,
        "tiny",
        enc=enc,
        width=32,
        heads=2,
        rla_blocks=1,
        cond_blocks=1,
        flow_blocks=1,
        num_tokens=4,
        token_dim=8,
        unet_channels=64,
        euler_steps=2,
        frame_channels=16,
    )


PRESETS = {"paper": paper_config, "cpu": cpu_config, "tiny": tiny_config}


def preset_config(name: str, robot: str = "ur10e") -> StackConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; valid presets: {', '.join(PRESETS)}")
    return PRESETS[name](robot)


__all__ = [
    "PRESETS",
    "EncoderConfig",
    "StackConfig",
    "TokenTransformerConfig",
    "UNetConfig",
    "WorldModelConfig",
    "cpu_config",
    "paper_config",
    "preset_config",
    "tiny_config",
]
