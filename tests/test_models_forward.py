"""Tiny configs: forward shapes, learning, sampling, and clear errors for bad inputs."""

from __future__ import annotations

import pytest
import torch

from rla_gym.models import RLAAutoencoder, RLAWorldModel, TokenToImageUNet, tiny_config

CFG = tiny_config("ur10e")
L, C = CFG.encoder.num_patches, CFG.encoder.hidden_size  # 36 patches of width 32
NZ, DZ = CFG.num_latent_tokens, CFG.world_model.token_dim


def test_stack_shapes(tiny_stack):
    frames = torch.randint(0, 255, (3, 40, 40, 3), dtype=torch.uint8)  # resized to 48 px inside
    tokens = tiny_stack.encode(frames)
    assert tokens.shape == (3, L, C) and tokens.dtype == torch.float32
    nxt = tiny_stack.predict(tokens, torch.zeros(3, 8, 5), euler_steps=2)
    assert nxt.shape == (3, L, C)
    img = tiny_stack.render(nxt)
    assert img.shape == (3, 48, 48, 3) and img.dtype == torch.uint8


def test_encoder_drops_cls_and_register_tokens(tiny_stack):
    images = torch.rand(2, 3, 48, 48)
    out = tiny_stack.encoder.vit(pixel_values=(images - tiny_stack.encoder.mean) / tiny_stack.encoder.std)
    assert out.last_hidden_state.shape[1] == L + 1 + CFG.encoder.num_register_tokens
    assert torch.allclose(tiny_stack.encoder(images), out.last_hidden_state[:, -L:])


def test_encoder_pads_to_a_multiple_of_the_patch(tiny_stack):
    assert tiny_stack.encoder(torch.rand(1, 3, 30, 27)).shape == (1, 16, C)  # ceil(30/8) * ceil(27/8) = 4 * 4


def test_rla_autoencoder_shapes():
    ae = RLAAutoencoder(CFG.rla_encoder, CFG.rla_decoder)
    s_t, s_n = torch.randn(2, L, C), torch.randn(2, L, C)
    z = ae.encode(s_t, s_n)
    assert z.shape == (2, NZ, DZ)
    assert ae.decode(s_t, z).shape == (2, L, C)


def test_unet_output_size():
    unet = TokenToImageUNet(CFG.image_decoder)
    assert unet(torch.randn(2, L, C)).shape == (2, 3, 48, 48)


def test_flow_matching_training_lowers_the_loss():
    """Three hundred steps on synthetic (tokens, actions) -> latent data, where the latent is a fixed
    function of the actions, must reduce the flow-matching loss well below its start."""
    torch.manual_seed(0)
    wm = RLAWorldModel(CFG.world_model)
    opt = torch.optim.AdamW(wm.parameters(), lr=1e-3)
    proj = torch.randn(6, NZ * DZ) * 0.5
    gen = torch.Generator().manual_seed(1)

    def batch(n=32):
        tokens = torch.randn(n, L, C, generator=gen)
        qpos = torch.randn(n, 8, 6, generator=gen)
        x0 = (qpos.mean(1) @ proj).view(n, NZ, DZ)
        return tokens, qpos, torch.full((n,), 8), x0

    eval_batch = batch(256)
    with torch.no_grad():
        before = wm.flow_matching_loss(*eval_batch[:3], "2", eval_batch[3], generator=torch.Generator().manual_seed(2))
    for _ in range(300):
        tokens, qpos, lengths, x0 = batch()
        loss = wm.flow_matching_loss(tokens, qpos, lengths, "2", x0, generator=gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = wm.flow_matching_loss(*eval_batch[:3], "2", eval_batch[3], generator=torch.Generator().manual_seed(2))
    assert after < 0.75 * before, (before.item(), after.item())  # flow matching keeps an irreducible part


@pytest.mark.parametrize("steps", [1, 30])
def test_sampler_returns_finite_latents(steps):
    torch.manual_seed(0)
    wm = RLAWorldModel(CFG.world_model)
    for p in wm.parameters():  # non-zero output layers so the sampler really moves
        torch.nn.init.normal_(p, std=0.05)
    cond = wm.forward_cond(torch.randn(2, L, C), torch.randn(2, 8, 6), torch.tensor([8, 5]), "2")
    noise = torch.randn(2, NZ, DZ)
    x = wm.sample(cond, noise, steps)
    assert x.shape == (2, NZ, DZ) and torch.isfinite(x).all()
    assert not torch.equal(x, noise)


def test_gru_reads_the_last_real_frame():
    """Padding past `lengths` must not change the action token (same as a packed sequence)."""
    torch.manual_seed(0)
    enc = RLAWorldModel(CFG.world_model).qpos_encoders["2"]
    q = torch.randn(1, 15, 6)
    padded = q.clone()
    padded[:, 5:] = 7.0
    assert torch.allclose(enc(q, torch.tensor([5])), enc(padded, torch.tensor([5])))
    assert not torch.allclose(enc(q, torch.tensor([5])), enc(q, torch.tensor([6])))


# --- bad inputs: a ValueError naming the argument, the expected and the actual shape ---------------


def test_wrong_token_width_names_argument_and_shapes(tiny_stack):
    with pytest.raises(ValueError, match=r"tokens has shape \(2, 36, 31\); expected \(B, 36, 32\)"):
        tiny_stack.predict(torch.zeros(2, 36, 31), torch.zeros(2, 8, 5))
    with pytest.raises(ValueError, match=r"x has shape \(2, 36, 31\); expected \(B, L, 32\)"):
        tiny_stack.rla.encoder(torch.zeros(2, 36, 31))
    with pytest.raises(ValueError, match=r"tokens has shape \(2, 36, 31\); expected \(B, L, 32\)"):
        tiny_stack.image_decoder(torch.zeros(2, 36, 31))


def test_wrong_action_length_names_argument_and_shapes(tiny_stack):
    with pytest.raises(ValueError, match=r"targets has shape \(2, 8, 6\); expected \(2, K, 5\)"):
        tiny_stack.predict(torch.zeros(2, 36, 32), torch.zeros(2, 8, 6))
    with pytest.raises(ValueError, match=r"targets hold 16 rows; expected 1..15"):
        tiny_stack.predict(torch.zeros(2, 36, 32), torch.zeros(2, 16, 5))
    with pytest.raises(ValueError, match=r"qpos has shape \(2, 8, 5\); expected \(2, T, 6\)"):
        tiny_stack.world_model.forward_cond(torch.zeros(2, 36, 32), torch.zeros(2, 8, 5), torch.full((2,), 8), "2")


def test_nan_inputs_are_rejected(tiny_stack):
    bad = torch.zeros(2, 36, 32)
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="tokens contains NaN"):
        tiny_stack.predict(bad, torch.zeros(2, 8, 5))
    actions = torch.zeros(2, 8, 5)
    actions[1, 2, 3] = float("inf")
    with pytest.raises(ValueError, match="targets contains NaN or inf"):
        tiny_stack.predict(torch.zeros(2, 36, 32), actions)
    with pytest.raises(ValueError, match="images contains NaN"):
        tiny_stack.encoder(torch.full((1, 3, 48, 48), float("nan")))


def test_unknown_robot_id_lists_the_known_ones():
    wm = RLAWorldModel(CFG.world_model)
    with pytest.raises(ValueError, match=r"robot id '0' has no action encoder; this model has \['2'\]"):
        wm.forward_cond(torch.zeros(1, L, C), torch.zeros(1, 8, 6), torch.tensor([8]), 0)


def test_mismatched_config_is_named():
    from dataclasses import replace

    with pytest.raises(ValueError, match=r"world_model.token_dim = 16 but rla_encoder.out_channels = 8"):
        replace(CFG, world_model=replace(CFG.world_model, token_dim=16))
    with pytest.raises(ValueError, match=r"ur10e has qpos dim 6"):
        replace(CFG, world_model=replace(CFG.world_model, robot_qpos_dims={"2": 9}))


@pytest.mark.parametrize("cond_channels", [32, 48])
def test_cached_cross_attention_equals_multihead_attention(cond_channels):
    """The flow blocks project the condition once per transition; the result must equal PyTorch's
    own MultiheadAttention on the same weights (packed when widths match, separate otherwise)."""
    from rla_gym.models.blocks import ModCrossAttentionBlock

    torch.manual_seed(0)
    block = ModCrossAttentionBlock(32, 2, 4.0, cond_channels=cond_channels).eval()
    x, cond = torch.randn(3, 4, 32), torch.randn(3, 10, cond_channels)
    ours = block._cross_attention(x, block.cond_kv(cond))
    theirs = block.cross_attn(x, cond, cond, need_weights=False)[0]
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_sampler_with_cached_condition_matches_per_step_condition():
    torch.manual_seed(0)
    wm = RLAWorldModel(CFG.world_model)
    for p in wm.parameters():
        torch.nn.init.normal_(p, std=0.05)
    cond = wm.forward_cond(torch.randn(2, L, C), torch.randn(2, 8, 6), torch.tensor([8, 8]), "2")
    latent, t = torch.randn(2, NZ, DZ), torch.tensor([0.3, 0.9])
    assert torch.allclose(wm.forward_flow(cond, latent, t), wm.forward_flow(wm.prepare_cond(cond), latent, t))
