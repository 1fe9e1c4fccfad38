"""One world-model step behind one interface: RLA-WM, the direct-regression baseline and copy-first.

    dynamics = bundle.dynamics("rla-wm")  # or "regression", "copy"
    next_tokens = dynamics(tokens, targets, noise)  # (B, L, C), (B, K, A), (B, Nz, Dz) or None -> (B, L, C)

`tokens` are DINO tokens, `targets` one chunk of K <= max_horizon absolute joint targets per world (the env's
action), `noise` the standard-normal flow noise of a stochastic model (`noise_shape`; None: drawn from
`generator`, else from torch's global RNG on the tokens' device; a deterministic model takes none). The targets
become the full-qpos chunk the models are conditioned on (`RobotSpec.to_full_qpos`, all K rows real).

`step_qpos(tokens, qpos, lengths, noise)` is the model's own step on a zero-padded full-qpos chunk with a length
per world, the form of the trainers' batches; `__call__` checks its inputs once, converts the targets and runs
`step_qpos` without gradients under the requested precision (see `rla_gym.models.device.precision_context`).
The condition network -> Euler steps -> RLA decoder sequence lives in `RLAWMDynamics.step_qpos` and nowhere else.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import nn

from rla_gym.models.checks import check_tensor, trusted_inputs
from rla_gym.models.device import precision_context
from rla_gym.models.regression import RegressionWorldModel
from rla_gym.models.rla_wm import RLAWorldModel
from rla_gym.models.token_transformer import RLAAutoencoder
from rla_gym.specs.robots import RobotSpec, get_robot

DYNAMICS = ("rla-wm", "regression", "copy")  # the names `Bundle.dynamics` and the env's `dynamics=` take


class Dynamics(ABC):
    """tokens (B, L, C) + joint-target chunk (B, K, A) [+ noise (B, *noise_shape)] -> next tokens (B, L, C).

    Not an nn.Module: it holds references to modules owned elsewhere (the stack, a bundle), so no weight is
    registered twice; `modules()` lists them."""

    name: str
    noise_shape: tuple[int, int] | None = None  # per-world flow noise a step consumes; None: deterministic

    def __init__(self, robot: str | RobotSpec, token_dim: int, max_horizon: int, num_tokens: int | None = None) -> None:
        self.robot = get_robot(robot)
        self.robot_key = str(self.robot.robot_id)  # the models' per-robot action encoder
        self.token_dim, self.max_horizon, self.num_tokens = token_dim, max_horizon, num_tokens  # L: None = any

    @abstractmethod
    def step_qpos(
        self, tokens: torch.Tensor, qpos: torch.Tensor, lengths: torch.Tensor, noise: torch.Tensor | None
    ) -> torch.Tensor:
        """tokens (B, L, C); qpos (B, T, qpos_dim) full-qpos chunk zero-padded past `lengths` (B,) -> (B, L, C).
        No checks, no no-grad, no autocast of its own: the caller's contexts apply."""

    def modules(self) -> list[nn.Module]:
        """The modules a step runs (for parameter counts and `to`)."""
        return []

    @property
    def device(self) -> torch.device:
        mods = self.modules()
        return next(mods[0].parameters()).device if mods else torch.device("cpu")

    def to(self, device: str | torch.device) -> Dynamics:
        for module in self.modules():
            module.to(device)
        return self

    def parameters(self) -> int:
        return sum(p.numel() for m in self.modules() for p in m.parameters())

    def draw_noise(
        self, batch: int, device: torch.device, generator: torch.Generator | None = None
    ) -> torch.Tensor | None:
        """(batch, *noise_shape) standard normal from `generator` (on its own device, then moved) or from torch's
        global RNG on `device`; None for a deterministic model."""
        if self.noise_shape is None:
            return None
        if generator is None:
            return torch.randn(batch, *self.noise_shape, device=device)
        return torch.randn(batch, *self.noise_shape, generator=generator, device=generator.device).to(device)

    @torch.no_grad()
    def __call__(
        self,
        tokens: torch.Tensor,
        targets: torch.Tensor,
        noise: torch.Tensor | None = None,
        *,
        generator: torch.Generator | None = None,
        precision: str | None = None,
    ) -> torch.Tensor:
        """One step: see the module docstring. Returns float32 tokens (B, L, C)."""
        b = tokens.shape[0]
        check_tensor("tokens", tokens, ("B", self.num_tokens or "L", self.token_dim), force=True)
        check_tensor("targets", targets, (b, "K", self.robot.action_dim), force=True)
        k = targets.shape[1]
        if not 1 <= k <= self.max_horizon:
            raise ValueError(f"targets hold {k} rows; expected 1..{self.max_horizon}")
        if self.noise_shape is None:
            if noise is not None:
                raise ValueError(f"{self.name} dynamics are deterministic: they take no noise")
        elif noise is None:
            noise = self.draw_noise(b, tokens.device, generator)
        else:
            check_tensor("noise", noise, (b, *self.noise_shape), force=True)
        qpos = self.robot.to_full_qpos(targets.float())
        lengths = torch.full((b,), k, device=tokens.device, dtype=torch.long)
        with trusted_inputs(), precision_context(tokens.device, precision):
            next_tokens = self.step_qpos(tokens, qpos, lengths, noise)
        return next_tokens.float()


class RLAWMDynamics(Dynamics):
    """RLA-WM (paper section 3): condition network once, `euler_steps` Euler steps of the flow network from the
    noise to a latent z, then the RLA decoder f_dec(s_t, z * latent_scale)."""

    name = "rla-wm"

    def __init__(
        self,
        world_model: RLAWorldModel,
        rla: RLAAutoencoder,
        robot: str | RobotSpec,
        latent_scale: float,
        euler_steps: int,
        num_tokens: int | None = None,
    ) -> None:
        if euler_steps < 1:
            raise ValueError(f"euler steps must be >= 1, got {euler_steps}")
        c = world_model.config
        super().__init__(robot, c.dino_channels, c.max_horizon, num_tokens)
        self.world_model, self.rla = world_model, rla
        self.latent_scale, self.euler_steps = float(latent_scale), int(euler_steps)
        self.noise_shape = (rla.encoder.config.num_tokens, c.token_dim)  # (Nz, Dz): the RLA latent

    def modules(self) -> list[nn.Module]:
        return [self.world_model, self.rla.decoder]

    def condition(self, tokens: torch.Tensor, qpos: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The condition network, once per step -> condition queries (B, L, model_channels)."""
        return self.world_model.forward_cond(tokens, qpos, lengths, self.robot_key)

    def latent(self, cond: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """`euler_steps` Euler steps of the flow network from `noise` (B, Nz, Dz) -> z (B, Nz, Dz), scaled back to
        the RLA latent (x0 = z / latent_scale in training), in the condition's dtype."""
        x0 = self.world_model.sample(cond, noise.float(), self.euler_steps)
        return (x0.float() * self.latent_scale).to(cond.dtype)

    def decode(self, tokens: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """The RLA decoder f_dec(s_t, z) -> next tokens (B, L, C)."""
        return self.rla.decode(tokens, z)

    def step_qpos(
        self, tokens: torch.Tensor, qpos: torch.Tensor, lengths: torch.Tensor, noise: torch.Tensor | None
    ) -> torch.Tensor:
        return self.decode(tokens, self.latent(self.condition(tokens, qpos, lengths), noise))


class RegressionDynamics(Dynamics):
    """The direct-regression baseline (DINO-WM style): one deterministic forward pass."""

    name = "regression"

    def __init__(self, model: RegressionWorldModel, robot: str | RobotSpec, num_tokens: int | None = None) -> None:
        c = model.config
        super().__init__(robot, c.dino_channels, c.max_horizon, num_tokens)
        self.model = model

    def modules(self) -> list[nn.Module]:
        return [self.model]

    def step_qpos(
        self, tokens: torch.Tensor, qpos: torch.Tensor, lengths: torch.Tensor, noise: torch.Tensor | None
    ) -> torch.Tensor:
        return self.model(tokens, qpos, lengths, self.robot_key)


class CopyDynamics(Dynamics):
    """Copy the first frame: the state never changes, whatever the action (the floor every model must beat)."""

    name = "copy"

    def step_qpos(
        self, tokens: torch.Tensor, qpos: torch.Tensor, lengths: torch.Tensor, noise: torch.Tensor | None
    ) -> torch.Tensor:
        return tokens
