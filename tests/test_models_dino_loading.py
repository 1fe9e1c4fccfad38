"""The real DINOv3 loading path (transformers' from_pretrained by hub id or folder), exercised on a tiny
model saved the way the hub stores one; and bundles whose encoder comes by hub id."""

from __future__ import annotations

import pytest
import torch
from transformers import DINOv3ViTModel

from rla_gym.models import DinoEncoder, WorldModelStack, tiny_config
from rla_gym.models.bundle import Bundle, load_bundle
from rla_gym.models.dino_encoder import _vit_config


@pytest.fixture(scope="module")
def dino_folder(tmp_path_factory):
    torch.manual_seed(0)
    vit = DINOv3ViTModel(_vit_config(tiny_config("ur10e").encoder))
    path = tmp_path_factory.mktemp("dino") / "tiny-dinov3"
    vit.save_pretrained(path)
    return path, vit


def test_encoder_loads_from_a_pretrained_folder(dino_folder):
    path, vit = dino_folder
    cfg = tiny_config("ur10e").encoder
    enc = DinoEncoder.from_pretrained(cfg, source=str(path))
    for k, v in vit.state_dict().items():
        assert torch.equal(enc.vit.state_dict()[k], v), k
    images = torch.rand(2, 3, 48, 48)
    assert torch.allclose(enc(images), DinoEncoder(cfg, vit.eval())(images))


def test_encoder_with_other_width_is_refused(dino_folder):
    from dataclasses import replace

    cfg = replace(tiny_config("ur10e").encoder, hidden_size=64)
    with pytest.raises(ValueError, match=r"hidden_size/patch_size \(32, 8\); the config expects \(64, 8\)"):
        DinoEncoder.from_pretrained(cfg, source=str(dino_folder[0]))


def test_unreachable_hub_id_says_how_to_download(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OSError, match=r"huggingface-cli download facebook/dinov3-vitl16-pretrain-lvd1689m"):
        DinoEncoder.from_pretrained(tiny_config("ur10e").encoder, source="facebook/dinov3-vitl16-pretrain-lvd1689m")


def test_bundle_with_hub_encoder_stores_no_encoder_weights(dino_folder, tmp_path):
    path, _ = dino_folder
    cfg = tiny_config("ur10e")
    cfg.encoder.hub_id = str(path)  # a hub id or a local folder: transformers resolves both
    stack = WorldModelStack(cfg, encoder=DinoEncoder.from_pretrained(cfg.encoder)).eval()
    out = Bundle(stack=stack).save_pretrained(tmp_path / "b")
    assert not (out / "encoder.safetensors").exists()
    loaded = load_bundle(out)
    frames = torch.randint(0, 255, (1, 48, 48, 3), dtype=torch.uint8)
    assert torch.equal(loaded.stack.encode(frames), stack.encode(frames))
