"""The simulator stack: DINOv3 encoder + RLA autoencoder + RLA-WM + UNet, for one robot.

`predict` is one world-model step: condition network once, N Euler steps in the latent space, RLA
decoder -> next DINO tokens (no re-encoding). `render` turns tokens into RGB observations.

Both take a `precision`: None runs the device's default (bf16 autocast on CUDA, exact fp32 elsewhere),
"float32" runs fp32 everywhere, "bfloat16" runs bf16 autocast on any device (on a CPU with AVX512-BF16 or AMX it
pays at batch 8 and up, not at batch 1: `python -m benchmarks.throughput` measures both)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rla_gym.data.video import resize_frames
from rla_gym.models.checks import check_tensor, trusted_inputs
from rla_gym.models.configs import StackConfig
from rla_gym.models.device import PRECISIONS, check_precision, precision_context
from rla_gym.models.dino_encoder import DinoEncoder
from rla_gym.models.dynamics import RLAWMDynamics
from rla_gym.models.rla_wm import RLAWorldModel
from rla_gym.models.token_transformer import RLAAutoencoder
from rla_gym.models.unet import TokenToImageUNet
from rla_gym.specs.robots import RobotSpec, get_robot

__all__ = ["PRECISIONS", "WorldModelStack", "check_precision", "precision_context"]


class WorldModelStack(nn.Module):
    def __init__(self, config: StackConfig, encoder: DinoEncoder | None = None):
        super().__init__()
        self.config = config
        self.robot: RobotSpec = get_robot(config.robot)
        self.encoder = encoder if encoder is not None else DinoEncoder(config.encoder)
        self.rla = RLAAutoencoder(config.rla_encoder, config.rla_decoder)
        self.world_model = RLAWorldModel(config.world_model)
        self.image_decoder = TokenToImageUNet(config.image_decoder)

    def components(self) -> dict[str, nn.Module]:
        """Component name -> module; each is one safetensors file in a bundle."""
        return {
            "encoder": self.encoder,
            "rla_encoder": self.rla.encoder,
            "rla_decoder": self.rla.decoder,
            "world_model": self.world_model,
            "image_decoder": self.image_decoder,
        }

    @property
    def device(self) -> torch.device:
        return self.world_model.flow_out_proj.weight.device

    @property
    def num_tokens(self) -> int:
        return self.config.encoder.num_patches

    @property
    def token_dim(self) -> int:
        return self.config.encoder.hidden_size

    @property
    def image_size(self) -> int:
        return self.config.encoder.grid * self.config.encoder.patch_size

    @property
    def latent_shape(self) -> tuple[int, int]:
        return self.config.num_latent_tokens, self.config.world_model.token_dim

    @torch.no_grad()
    def encode(self, frames: torch.Tensor) -> torch.Tensor:
        """frames: (B, H, W, 3) uint8 -> DINO tokens (B, L, C) float32."""
        return self.encoder.encode_uint8(frames.to(self.device))

    def dynamics(self, euler_steps: int | None = None) -> RLAWMDynamics:
        """This stack's RLA-WM as a `Dynamics` step (`euler_steps`: None = the config's)."""
        steps = self.config.euler_steps if euler_steps is None else euler_steps
        return RLAWMDynamics(
            self.world_model, self.rla, self.robot, self.config.latent_scale, steps, num_tokens=self.num_tokens
        )

    def predict(
        self,
        tokens: torch.Tensor,
        targets: torch.Tensor,
        noise: torch.Tensor | None = None,
        euler_steps: int | None = None,
        precision: str | None = None,
    ) -> torch.Tensor:
        """One world-model step, `self.dynamics(euler_steps)(tokens, targets, noise, precision=precision)`.

        tokens: (B, L, C) current DINO tokens; targets: (B, K, action_dim) absolute joint targets
        (K <= max_horizon); noise: (B, Nz, Dz) standard normal (drawn here if None); precision: see the module
        docstring. Returns the predicted DINO tokens after the K-step chunk, (B, L, C) float32."""
        return self.dynamics(euler_steps)(tokens, targets, noise, precision=precision)

    @torch.no_grad()
    def render(self, tokens: torch.Tensor, precision: str | None = None) -> torch.Tensor:
        """tokens: (B, L, C) -> RGB (B, H, W, 3) uint8, the UNet decode clamped to [0, 1]; precision: see the
        module docstring."""
        check_tensor("tokens", tokens, ("B", self.num_tokens, self.token_dim), force=True)
        with trusted_inputs(), precision_context(tokens.device, precision):
            rgb = self.image_decoder(tokens)
        if not bool(torch.isfinite(rgb).all()):  # uint8 would hide it: NaN pixels become some colour
            from rla_gym.models.diagnose import weights_problem

            problem = weights_problem("image_decoder", self.image_decoder, None)
            raise FloatingPointError(
                "rendering gave NaN or inf pixels from finite tokens: "
                + (
                    problem
                    or "the UNet image decoder (image_decoder.safetensors) produced them; its weights are finite"
                )
            )
        return (rgb.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1)

    @torch.no_grad()
    def encode_camera(self, frames: np.ndarray) -> torch.Tensor:
        """Camera frames (B, H, W, 3) uint8 at any size -> DINO tokens, resized first as the training data is
        (antialiased, `resize_frames`): the one way a frame from outside enters the stack."""
        small = resize_frames(np.ascontiguousarray(frames), self.image_size)
        return self.encode(torch.from_numpy(np.ascontiguousarray(small)))

    @torch.no_grad()
    def view(self, frames: np.ndarray) -> torch.Tensor:
        """Camera frames (B, H, W, 3) uint8 at any size -> what a policy sees, (B, S, S, 3) uint8 at the stack's
        size: `encode_camera`, then the UNet render. BC trains on these renders and the env renders every
        observation the same way, so ManiSkill evaluation goes through here too: one image pipeline, no resize
        after the render."""
        return self.render(self.encode_camera(frames))
