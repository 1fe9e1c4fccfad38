"""A damaged weights file that still loads shows up as NaN tokens at the first step; the env's error names the
component that produced them and its file, not the tensor that happened to be checked next."""

from __future__ import annotations

import shutil

import gymnasium as gym
import pytest
import torch
from safetensors.torch import load_file, save_file

import rla_gym  # noqa: F401  (registers the env)
from rla_gym.models.bundle import BundleError, add_to_bundle


def _damaged(src, dest, name: str, damage) -> object:
    """A copy of the bundle with `name` damaged by `damage(path)`, its manifest rewritten to match (damage the
    manifest's checks do not see: the middle of a big file)."""
    path = shutil.copytree(src, dest)
    damage(path / name)
    add_to_bundle(path, {name: path / name})
    return path


def _overwrite_middle(file, size=4096):
    """4 KiB of 0xFF bytes in the middle of the file: float32 NaNs wherever they land in the weights."""
    data = bytearray(file.read_bytes())
    start = len(data) // 2
    data[start : start + size] = b"\xff" * min(size, len(data) - start)
    file.write_bytes(bytes(data))


def _set_nan(key_part: str):
    def damage(file):
        state = load_file(file)
        key = next(k for k in sorted(state) if key_part in k and state[k].is_floating_point())
        state[key].view(-1)[0] = float("nan")
        save_file(state, file)

    return damage


def _first_step(path):
    env = gym.make_vec("RLAWorldModel-v0", num_envs=2, vectorization_mode="vector_entry_point", bundle=path)
    try:
        env.reset(seed=0)
        env.step(env.demo_actions())
    finally:
        env.close()


def test_a_world_model_file_overwritten_in_the_middle_is_named(random_bundle_dir, tmp_path):
    path = _damaged(random_bundle_dir, tmp_path / "b", "world_model.safetensors", _overwrite_middle)
    with pytest.raises(FloatingPointError) as err:
        _first_step(path)
    message = str(err.value)
    assert f"world model (RLA-WM) ({path / 'world_model.safetensors'}) holds NaN or inf weights" in message
    assert "tokens contains NaN" not in message


def test_a_damaged_rla_decoder_is_named(random_bundle_dir, tmp_path):
    path = _damaged(random_bundle_dir, tmp_path / "b", "rla_decoder.safetensors", _set_nan("weight"))
    with pytest.raises(FloatingPointError, match=r"RLA decoder \(.*rla_decoder.safetensors\) holds NaN or inf"):
        _first_step(path)


def test_a_damaged_unet_is_named_not_hidden_in_uint8_pixels(random_bundle_dir, tmp_path):
    path = _damaged(random_bundle_dir, tmp_path / "b", "image_decoder.safetensors", _set_nan("out_conv"))
    with pytest.raises(FloatingPointError) as err:
        _first_step(path)
    assert str(err.value).startswith(f"bundle {path}: rendering gave NaN or inf pixels")
    assert "UNet image decoder (image_decoder.safetensors) holds NaN or inf weights (out_conv" in str(err.value)


def test_a_damaged_encoder_is_named_when_the_env_is_made(random_bundle_dir, tmp_path):
    path = _damaged(random_bundle_dir, tmp_path / "b", "encoder.safetensors", _set_nan("patch_embed"))
    with pytest.raises(BundleError, match=r"DINOv3 encoder \(.*encoder.safetensors\) holds NaN or inf weights"):
        _first_step(path)


def test_finite_weights_that_overflow_name_the_stage(tiny_stack):
    """Weights finite but too large: the replay names the first stage whose output is not finite."""
    import copy

    from rla_gym.models.diagnose import explain_non_finite

    stack = copy.deepcopy(tiny_stack)
    torch.nn.init.constant_(stack.rla.decoder.out_layer.weight, 3e38)
    dynamics = stack.dynamics()
    tokens = torch.randn(2, stack.num_tokens, stack.token_dim)
    targets = torch.zeros(2, 8, stack.robot.action_dim)
    noise = dynamics.draw_noise(2, tokens.device)
    assert not bool(torch.isfinite(dynamics(tokens, targets, noise)).all()), "the step must overflow"
    message = explain_non_finite(dynamics, stack.components(), tokens, targets, noise)
    assert "RLA decoder (rla_decoder.safetensors) produced them from finite inputs" in message
