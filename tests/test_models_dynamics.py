"""The one world-model step interface (`rla_gym.models.dynamics`): RLA-WM, regression and copy-first take the same
inputs, and the RLA-WM step gives the numbers the stack's `predict` and the trainer's sampling gave before it."""

from __future__ import annotations

import pytest
import torch

from rla_gym.models.dynamics import CopyDynamics, RegressionDynamics, RLAWMDynamics
from rla_gym.models.regression import RegressionConfig, RegressionWorldModel


@pytest.fixture(scope="module")
def stack():
    from rla_gym.models.random_bundle import make_random_bundle

    return make_random_bundle("ur10e", "tiny", episodes=2, length=12, seed=0).stack


@pytest.fixture(scope="module")
def inputs(stack):
    g = torch.Generator().manual_seed(7)
    tokens = torch.randn(3, stack.num_tokens, stack.token_dim, generator=g)  # (B, L, C)
    targets = 0.3 * torch.randn(3, 8, 5, generator=g)  # (B, K, A)
    noise = torch.randn(3, *stack.latent_shape, generator=g)  # (B, Nz, Dz)
    return tokens, targets, noise


@pytest.fixture(scope="module")
def regression(stack):
    torch.manual_seed(0)
    model = RegressionWorldModel(RegressionConfig.matching(stack.config))
    torch.nn.init.normal_(model.out_proj.weight, std=0.05)  # not the zero-init identity: it must move
    for block in model.blocks:
        block.modulation[-1].reset_parameters()  # open the adaLN gates: the action must enter
    return model.eval()


# Recorded with the code before the Dynamics interface existed (WorldModelStack.predict with its own
# condition -> Euler -> decode, and train.wm.WMModule.predict with its copy), on the inputs above.
OLD_PREDICT = (13.717479929327965, 1611.7784108165652, [0.6027761697769165, 0.15363891422748566, 0.08597803115844727])
OLD_TRAINER = (35.5311423977837, 1611.4539931425825, [0.4164746403694153, 0.009504370391368866, -0.0539097785949707])


def _matches(out: torch.Tensor, recorded, first: torch.Tensor) -> None:
    total, absolute, row = recorded
    assert float(out.double().sum()) == pytest.approx(total, rel=1e-4)
    assert float(out.abs().double().sum()) == pytest.approx(absolute, rel=1e-5)
    assert first.tolist() == pytest.approx(row, abs=1e-5)


def test_stack_predict_gives_the_numbers_of_the_code_before_the_interface(stack, inputs):
    tokens, targets, noise = inputs
    out = stack.predict(tokens, targets, noise, euler_steps=2)
    _matches(out, OLD_PREDICT, out[0, 0, :3])
    direct = RLAWMDynamics(stack.world_model, stack.rla, "ur10e", stack.config.latent_scale, 2)(tokens, targets, noise)
    assert torch.equal(out, direct)


def test_trainer_sampling_gives_the_numbers_of_the_code_before_the_interface(stack, inputs):
    from rla_gym.train.wm import WMModule

    tokens, targets, _ = inputs
    lengths = torch.tensor([8, 5, 1])  # pair batches: a horizon per pair, qpos zero-padded past it
    qpos = stack.robot.to_full_qpos(targets) * (torch.arange(8)[None, :, None] < lengths[:, None, None])
    module = WMModule(stack.world_model, stack.rla, stack.robot, stack.config.latent_scale).eval()
    out = module.predict({"s_t": tokens, "qpos": qpos, "lengths": lengths}, 2, torch.Generator().manual_seed(0))
    _matches(out, OLD_TRAINER, out[2, 1, :3])


def test_rla_wm_step_moves_with_tokens_targets_noise_and_euler_steps(stack, inputs):
    tokens, targets, noise = inputs
    dyn = stack.dynamics(2)
    base = dyn(tokens, targets, noise)
    for name, other in {
        "tokens": dyn(tokens.roll(1, 0), targets, noise),
        "targets": dyn(tokens, targets + 0.2, noise),
        "noise": dyn(tokens, targets, noise.roll(1, 0)),
        "euler steps": stack.dynamics(1)(tokens, targets, noise),
    }.items():
        assert (base - other).abs().mean() > 1e-5, f"the step ignores the {name}"


def test_noise_comes_from_the_generator_when_not_given(stack, inputs):
    tokens, targets, _ = inputs
    dyn = stack.dynamics(1)
    drawn = torch.randn(3, *dyn.noise_shape, generator=torch.Generator().manual_seed(3))
    from_gen = dyn(tokens, targets, generator=torch.Generator().manual_seed(3))
    assert torch.equal(from_gen, dyn(tokens, targets, drawn))
    assert not torch.equal(from_gen, dyn(tokens, targets, generator=torch.Generator().manual_seed(4)))


def test_regression_step_is_the_baseline_on_the_full_qpos_chunk(stack, regression, inputs):
    tokens, targets, _ = inputs
    dyn = RegressionDynamics(regression, stack.robot, num_tokens=stack.num_tokens)
    assert dyn.noise_shape is None and dyn.parameters() == sum(p.numel() for p in regression.parameters())
    out = dyn(tokens, targets)
    lengths = torch.full((3,), 8)
    with torch.no_grad():
        expected = regression(tokens, stack.robot.to_full_qpos(targets), lengths, stack.config.robot_key)
    assert torch.equal(out, expected)
    assert (out - dyn(tokens, targets + 0.2)).abs().mean() > 1e-5, "the regression step ignores the targets"
    with pytest.raises(ValueError, match="deterministic"):
        dyn(tokens, targets, torch.zeros(3, *stack.latent_shape))


def test_copy_step_returns_the_tokens_whatever_the_action(stack, inputs):
    tokens, targets, _ = inputs
    dyn = CopyDynamics(stack.robot, stack.token_dim, stack.config.world_model.max_horizon)
    assert torch.equal(dyn(tokens, targets), tokens) and torch.equal(dyn(tokens, targets + 1), tokens)


@pytest.mark.parametrize(
    ("tokens", "targets", "match"),
    [
        ((2, 36, 31), (2, 8, 5), r"tokens has shape \(2, 36, 31\); expected \(B, 36, 32\)"),
        ((2, 36, 32), (2, 8, 6), r"targets has shape \(2, 8, 6\); expected \(2, K, 5\)"),
        ((2, 36, 32), (2, 16, 5), r"targets hold 16 rows; expected 1..15"),
    ],
)
def test_every_dynamics_checks_shapes_the_same_way(stack, regression, tokens, targets, match):
    for dyn in (
        stack.dynamics(),
        RegressionDynamics(regression, "ur10e", num_tokens=36),
        CopyDynamics("ur10e", 32, 15, num_tokens=36),
    ):
        with pytest.raises(ValueError, match=match):
            dyn(torch.zeros(tokens), torch.zeros(targets))
