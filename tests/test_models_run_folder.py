"""The authors' released run-folder format (config.yaml + ckpts/<key>_step<7 digits>.pt) loads strictly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

from rla_gym.models.released import (
    CheckpointReadError,
    RunFolderError,
    build_from_block,
    latest_checkpoint,
    load_released_stack,
    load_run_model,
)
from rla_gym.models.state_dicts import CheckpointMismatchError

RLA_ENC = {
    "name": "SimpleTokenTransformer",
    "args": dict(
        in_channels=32,
        model_channels=32,
        out_channels=8,
        num_blocks=1,
        num_heads=2,
        mlp_ratio=4.0,
        use_fp16=True,
        num_tokens=4,
    ),
}
RLA_DEC = {
    "name": "SimpleTokenTransformer",
    "args": dict(
        in_channels=32,
        model_channels=32,
        out_channels=32,
        token_channels=8,
        num_blocks=1,
        num_heads=2,
        mlp_ratio=4.0,
        use_fp16=True,
        num_tokens=4,
        zero_init=True,
    ),
}
WM = {
    "name": "RLAWM",
    "args": dict(
        model_channels=32,
        token_dim=8,
        dino_channels=32,
        num_cond_blocks=1,
        num_flow_blocks=1,
        flow_model_channels=32,
        num_heads=2,
        mlp_ratio=4.0,
        use_fp16=True,
        num_tasks=8,
        max_horizon=15,
        robot_qpos_dims={"2": 6},
        qpos_frame_channels=16,
        use_task_horizon_embedding=False,
    ),
}
UNET = {
    "name": "DinoToImageDecoderV1",
    "args": dict(in_channels=32, model_channels=64, out_channels=3, use_fp16=True, num_upsamples=3),
}


def write_run(root: Path, models: dict, steps=(2500, 12500), perturb=None) -> Path:
    """A run folder as the authors' trainer writes it: resolved config.yaml and flat fp32 state dicts."""
    (root / "ckpts").mkdir(parents=True)
    (root / "config.yaml").write_text(yaml.safe_dump({"vars": {}, "models": models, "trainer": {}}))
    for key, block in models.items():
        torch.manual_seed(len(key))
        module = build_from_block(block["name"], block["args"])
        for step in steps:
            state = {k: torch.randn_like(v) * 0.02 for k, v in module.state_dict().items()}
            if perturb:
                state = perturb(state)
            torch.save(state, root / "ckpts" / f"{key}_step{step:07d}.pt")
    return root


def test_latest_step_is_picked_and_loaded_strictly(tmp_path):
    run = write_run(tmp_path / "rla", {"encoder": RLA_ENC, "decoder": RLA_DEC})
    assert latest_checkpoint(run, "encoder").name == "encoder_step0012500.pt"
    model = load_run_model(run, "encoder")
    expected = torch.load(run / "ckpts" / "encoder_step0012500.pt")
    for k, v in model.state_dict().items():
        assert torch.equal(v, expected[k]), k


def test_wrong_shape_names_the_key_and_both_shapes(tmp_path):
    def shrink(state):
        state["input_layer.weight"] = torch.zeros(16, 32)
        return state

    run = write_run(tmp_path / "bad", {"encoder": RLA_ENC}, steps=(100,), perturb=shrink)
    with pytest.raises(CheckpointMismatchError, match=r"'input_layer.weight'.*\(32, 32\).*\(16, 32\)"):
        load_run_model(run, "encoder")


def test_missing_checkpoint_and_config_are_clear(tmp_path):
    with pytest.raises(RunFolderError, match="no config.yaml"):
        load_run_model(tmp_path, "encoder")
    run = write_run(tmp_path / "r", {"encoder": RLA_ENC})
    with pytest.raises(RunFolderError, match="no checkpoint decoder_step"):
        latest_checkpoint(run, "decoder")


def test_released_stack_assembles_and_predicts(tmp_path):
    from rla_gym.models import DinoEncoder, tiny_config

    rla = write_run(tmp_path / "rla", {"encoder": RLA_ENC, "decoder": RLA_DEC})
    wm = write_run(tmp_path / "wm", {"flow_model": WM})
    unet = write_run(tmp_path / "unet", {"decoder": UNET})
    encoder = DinoEncoder(tiny_config("ur10e").encoder)
    stack = load_released_stack("ur10e", rla, wm, unet, encoder=encoder, euler_steps=3)
    frames = torch.randint(0, 255, (2, 48, 48, 3), dtype=torch.uint8)
    tokens = stack.encode(frames)
    nxt = stack.predict(tokens, torch.zeros(2, 8, 5))
    assert nxt.shape == tokens.shape and torch.isfinite(nxt).all()
    assert stack.render(nxt).shape == (2, 48, 48, 3)


def test_truncated_checkpoint_is_named(tmp_path):
    run = write_run(tmp_path / "rla", {"encoder": RLA_ENC}, steps=(100,))
    ckpt = run / "ckpts" / "encoder_step0000100.pt"
    ckpt.write_bytes(ckpt.read_bytes()[:200])
    with pytest.raises(CheckpointReadError, match=rf"{ckpt} cannot be read as a torch checkpoint"):
        load_run_model(run, "encoder")


def test_wrong_shape_message_names_the_checkpoint_once(tmp_path):
    def shrink(state):
        state["input_layer.weight"] = torch.zeros(16, 32)
        return state

    run = write_run(tmp_path / "bad", {"encoder": RLA_ENC}, steps=(100,), perturb=shrink)
    with pytest.raises(CheckpointMismatchError) as err:
        load_run_model(run, "encoder")
    ckpt = str(run / "ckpts" / "encoder_step0000100.pt")
    assert str(err.value).startswith(ckpt) and str(err.value).count(ckpt) == 1
    assert "config/" not in str(err.value)
