"""Paper-size models, built on the meta device, have exactly the released checkpoints' keys and shapes
(reference sections 2.4, 4.1, 5). The expected tables are written out here from the reference, not
derived from our modules, so this is the guarantee that the released weights load."""

from __future__ import annotations

import pytest
import torch

from rla_gym.models import RLAWorldModel, TokenToImageUNet, TokenTransformer, paper_config

C = 1024


def _block(prefix: str, conditioned: bool = False) -> dict[str, tuple[int, ...]]:
    keys = {
        f"{prefix}.attn.in_proj_weight": (3 * C, C),
        f"{prefix}.attn.in_proj_bias": (3 * C,),
        f"{prefix}.attn.out_proj.weight": (C, C),
        f"{prefix}.attn.out_proj.bias": (C,),
        f"{prefix}.mlp.0.weight": (4 * C, C),
        f"{prefix}.mlp.0.bias": (4 * C,),
        f"{prefix}.mlp.2.weight": (C, 4 * C),
        f"{prefix}.mlp.2.bias": (C,),
    }
    if conditioned:
        keys |= {
            f"{prefix}.cond_proj.weight": (C, C),
            f"{prefix}.cond_proj.bias": (C,),
            f"{prefix}.modulation.1.weight": (6 * C, C),
            f"{prefix}.modulation.1.bias": (6 * C,),
        }
    return keys


def _flow_block(prefix: str) -> dict[str, tuple[int, ...]]:
    keys = {f"{prefix}.norm2.weight": (C,), f"{prefix}.norm2.bias": (C,)}
    for attn in ("self_attn", "cross_attn"):
        keys |= {
            f"{prefix}.{attn}.in_proj_weight": (3 * C, C),
            f"{prefix}.{attn}.in_proj_bias": (3 * C,),
            f"{prefix}.{attn}.out_proj.weight": (C, C),
            f"{prefix}.{attn}.out_proj.bias": (C,),
        }
    keys |= {
        f"{prefix}.mlp.0.weight": (4 * C, C),
        f"{prefix}.mlp.0.bias": (4 * C,),
        f"{prefix}.mlp.2.weight": (C, 4 * C),
        f"{prefix}.mlp.2.bias": (C,),
        f"{prefix}.modulation.1.weight": (6 * C, C),
        f"{prefix}.modulation.1.bias": (6 * C,),
    }
    return keys


def expected_rla_encoder() -> dict[str, tuple[int, ...]]:
    keys = {"tokens": (32, C), "input_layer.weight": (C, C), "input_layer.bias": (C,)}
    for i in range(12):
        keys |= _block(f"blocks.{i}")
    return keys | {"norm_out.weight": (C,), "norm_out.bias": (C,), "out_layer.weight": (64, C), "out_layer.bias": (64,)}


def expected_rla_decoder() -> dict[str, tuple[int, ...]]:
    keys = expected_rla_encoder()
    keys |= {"token_proj.weight": (C, 64), "token_proj.bias": (C,), "out_layer.weight": (C, C), "out_layer.bias": (C,)}
    return keys


def expected_world_model(rid: str, qdim: int) -> dict[str, tuple[int, ...]]:
    q = f"qpos_encoders.{rid}"
    keys = {
        f"{q}.per_frame_mlp.0.weight": (64, qdim),
        f"{q}.per_frame_mlp.0.bias": (64,),
        f"{q}.per_frame_mlp.2.weight": (64, 64),
        f"{q}.per_frame_mlp.2.bias": (64,),
        f"{q}.gru.weight_ih_l0": (3 * C, 64),
        f"{q}.gru.weight_hh_l0": (3 * C, C),
        f"{q}.gru.bias_ih_l0": (3 * C,),
        f"{q}.gru.bias_hh_l0": (3 * C,),
    }
    for i in range(8):
        keys |= _block(f"cond_blocks.{i}", conditioned=True)
    keys |= {
        "flow_latent_proj.weight": (C, 64),
        "flow_latent_proj.bias": (C,),
        "flow_time_embedder.mlp.0.weight": (C, 256),
        "flow_time_embedder.mlp.0.bias": (C,),
        "flow_time_embedder.mlp.2.weight": (C, C),
        "flow_time_embedder.mlp.2.bias": (C,),
    }
    for i in range(8):
        keys |= _flow_block(f"flow_blocks.{i}")
    return keys | {
        "flow_norm_out.weight": (C,),
        "flow_norm_out.bias": (C,),
        "flow_out_proj.weight": (64, C),
        "flow_out_proj.bias": (64,),
    }


def _resblock(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
    return {
        f"{prefix}.conv1.weight": (c, c, 3, 3),
        f"{prefix}.conv1.bias": (c,),
        f"{prefix}.norm1.weight": (c,),
        f"{prefix}.norm1.bias": (c,),
        f"{prefix}.conv2.weight": (c, c, 3, 3),
        f"{prefix}.conv2.bias": (c,),
        f"{prefix}.norm2.weight": (c,),
        f"{prefix}.norm2.bias": (c,),
    }


def expected_unet() -> dict[str, tuple[int, ...]]:
    keys = {
        "input_proj.0.weight": (C, C, 3, 3),
        "input_proj.0.bias": (C,),
        "input_proj.1.weight": (C,),
        "input_proj.1.bias": (C,),
    }
    keys |= _resblock("input_proj.3", C) | _resblock("input_proj.4", C)
    channels = [1024, 512, 256, 128, 64]
    for i in range(4):
        cin, cout = channels[i], channels[i + 1]
        keys |= {f"up{i + 1}.upsample.weight": (cin, cout, 2, 2), f"up{i + 1}.upsample.bias": (cout,)}
        keys |= _resblock(f"up{i + 1}.resblock.0", cout) | _resblock(f"up{i + 1}.resblock.1", cout)
    keys |= _resblock("out_conv.0", 64) | {"out_conv.1.weight": (3, 64, 3, 3), "out_conv.1.bias": (3,)}
    return keys


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _assert_same(actual: dict, expected: dict) -> None:
    assert sorted(set(expected) - set(actual)) == [], "keys missing from our model"
    assert sorted(set(actual) - set(expected)) == [], "keys our model has but the checkpoint lacks"
    wrong = {k: (actual[k], expected[k]) for k in expected if actual[k] != expected[k]}
    assert wrong == {}


def test_rla_encoder_and_decoder_match_released_keys():
    cfg = paper_config("ur10e")
    with torch.device("meta"):
        enc, dec = TokenTransformer(cfg.rla_encoder), TokenTransformer(cfg.rla_decoder)
    _assert_same(_shapes(enc), expected_rla_encoder())
    _assert_same(_shapes(dec), expected_rla_decoder())


@pytest.mark.parametrize(("robot", "rid", "qdim"), [("panda", "0", 9), ("xarm6_robotiq", "1", 12), ("ur10e", "2", 6)])
def test_world_model_matches_released_keys(robot, rid, qdim):
    with torch.device("meta"):
        wm = RLAWorldModel(paper_config(robot).world_model)
    _assert_same(_shapes(wm), expected_world_model(rid, qdim))


def test_unet_matches_released_keys():
    with torch.device("meta"):
        unet = TokenToImageUNet(paper_config("ur10e").image_decoder)
    _assert_same(_shapes(unet), expected_unet())


def test_paper_preset_uses_the_papers_sizes():
    cfg = paper_config("ur10e")
    assert (cfg.encoder.image_size, cfg.encoder.patch_size, cfg.encoder.num_patches) == (512, 16, 1024)
    assert cfg.encoder.hub_id == "facebook/dinov3-vitl16-pretrain-lvd1689m"
    assert (cfg.world_model.num_cond_blocks, cfg.world_model.num_flow_blocks, cfg.world_model.max_horizon) == (8, 8, 15)
    assert (cfg.num_latent_tokens, cfg.world_model.token_dim, cfg.latent_scale, cfg.euler_steps) == (32, 64, 10.0, 30)
