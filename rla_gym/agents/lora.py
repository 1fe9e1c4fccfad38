"""The WMRL actor-critic: the BC policy with LoRA adapters, a bounded residual head and a value head (paper A.2).

    agent = LoRAActorCritic(BCPolicy.from_pretrained(path))
    actions, logprob, value = agent.get_action_and_value(frames)  # normalised (B, K, A)
    targets = agent.to_joint_targets(actions)                      # what the env steps

peft LoRA (r 8, alpha 16, adapter "rl") goes into every Conv2d and Linear of the BC network and the base weights
are frozen, so RL tunes a low-rank correction of the BC policy. The policy is a Gaussian over the flat executed
chunk (K x A) in the normalised action space: mean = the (LoRA-tuned) BC chunk + a residual, std from the
residual head. Residual mean (tanh) and std (softplus) are bounded by 0.1 there, i.e. 5 % of each joint's
demonstrated range (reference 7.3). The authors' std, softplus x 0.1, is unbounded above; here it is clamped to the
bound (and floored at `min_std` so that log-probabilities stay finite); below the bound it is the same function.
The value head reads the policy's global feature detached, so the value loss never moves the policy.
Adapters are saved in peft's own format (adapter_config.json + adapter_model.safetensors), loadable by
`peft.PeftModel.from_pretrained` onto the BC network.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.distributions import Normal

from rla_gym.agents.bc import BCPolicy, SimPolicy, write_policy
from rla_gym.agents.resnet import mlp

ADAPTER = "rl"
HEADS_FILE = "heads.safetensors"
AGENT_FILE = "agent.json"
PEFT_PREFIX = "base_model.model."  # PeftModel.save_pretrained's key prefix (PeftModel -> LoraModel -> the network)


@dataclass
class LoRAAgentConfig:
    """Paper values: LoRA r 8, alpha 16; residual MLP 512-256, mean and std bounded by 0.1; value MLP 256-128."""

    r: int = 8
    alpha: int = 16
    lora_dropout: float = 0.0
    residual_hidden: tuple[int, ...] = (512, 256)
    mean_scale: float = 0.1
    std_scale: float = 0.1
    min_std: float = 1e-4
    value_hidden: tuple[int, ...] = (256, 128)

    def __post_init__(self) -> None:
        self.residual_hidden, self.value_hidden = tuple(self.residual_hidden), tuple(self.value_hidden)
        if not 0 < self.min_std < self.std_scale:
            raise ValueError(f"need 0 < min_std < std_scale; got min_std {self.min_std}, std_scale {self.std_scale}")


class ResidualHead(nn.Module):
    """feature (B, F) -> residual mean (B, D) in (-mean_scale, mean_scale), std (B, D) in [min_std, std_scale].

    The last layer starts at zero: the agent starts as the BC policy, with std = softplus(0) x 0.1 = 0.069."""

    def __init__(self, feature_dim: int, out_dim: int, config: LoRAAgentConfig) -> None:
        super().__init__()
        sizes = [feature_dim, *config.residual_hidden]
        self.backbone = nn.Sequential(*[m for a, b in zip(sizes[:-1], sizes[1:]) for m in (nn.Linear(a, b), nn.ReLU())])
        self.head = nn.Linear(sizes[-1], 2 * out_dim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)
        self.mean_scale, self.std_scale, self.min_std = config.mean_scale, config.std_scale, config.min_std

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raw_mean, raw_std = self.head(self.backbone(features)).chunk(2, dim=-1)
        mean = torch.tanh(raw_mean) * self.mean_scale
        std = (nn.functional.softplus(raw_std) * self.std_scale).clamp(self.min_std, self.std_scale)
        return mean, std


class ValueHead(nn.Module):
    """feature (B, F) -> V (B,); orthogonal init (gain 1), zero biases, as the authors' critic."""

    def __init__(self, feature_dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.net = mlp([feature_dim, *hidden, 1])
        for layer in self.net:
            if isinstance(layer, nn.Linear):
                nn.init.orthogonal_(layer.weight, gain=1.0)
                nn.init.zeros_(layer.bias)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).squeeze(-1)


def lora_targets(module: nn.Module) -> list[str]:
    """Names of every Conv2d and Linear in `module` (the adapters' targets)."""
    return [name for name, m in module.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)]


class LoRAActorCritic(nn.Module):
    """Gaussian policy over normalised action chunks (B, K, A) and a value, from frames (B, H, W, 3) uint8."""

    def __init__(self, bc: BCPolicy, config: LoRAAgentConfig | None = None) -> None:
        super().__init__()
        from peft import LoraConfig, inject_adapter_in_model

        self.config = config or LoRAAgentConfig()
        self.bc = bc
        self.k, self.a = bc.config.n_action_steps, bc.config.action_dim
        self.lora_config = LoraConfig(
            r=self.config.r,
            lora_alpha=self.config.alpha,
            lora_dropout=self.config.lora_dropout,
            bias="none",
            target_modules=lora_targets(bc.net),
        )
        inject_adapter_in_model(self.lora_config, bc.net, adapter_name=ADAPTER)
        for name, p in bc.named_parameters():
            p.requires_grad_("lora_" in name)
        for m in bc.modules():  # as the authors' agent: a sampled action's log-prob must not depend on dropout
            if isinstance(m, nn.Dropout):
                m.p = 0.0
        feature_dim = bc.config.feature_dim
        self.residual = ResidualHead(feature_dim, self.k * self.a, self.config)
        self.value_head = ValueHead(feature_dim, self.config.value_hidden)

    @property
    def robot(self) -> str:
        return self.bc.robot

    @property
    def device(self) -> torch.device:
        return self.bc.device

    # ------------------------------------------------------------------ parameter groups
    def policy_parameters(self) -> list[nn.Parameter]:
        """What PPO's policy optimizer trains: the LoRA matrices and the residual head."""
        lora = [p for n, p in self.bc.named_parameters() if "lora_" in n]
        return lora + list(self.residual.parameters())

    def value_parameters(self) -> list[nn.Parameter]:
        return list(self.value_head.parameters())

    # ------------------------------------------------------------------ forward
    def _check(self, frames: torch.Tensor) -> None:
        if frames.dim() != 4 or frames.shape[-1] != 3 or frames.dtype != torch.uint8:
            raise ValueError(f"frames are {frames.dtype} {tuple(frames.shape)}; expected uint8 (B, H, W, 3)")

    def dist_and_value(self, frames: torch.Tensor) -> tuple[Normal, torch.Tensor]:
        """frames (B, H, W, 3) uint8 -> (Normal over the flat chunk (B, K*A), V (B,))."""
        self._check(frames)
        features = self.bc.net.features(frames)
        base = self.bc.net.head(features)[:, : self.k].flatten(1)  # (B, K*A) normalised
        delta, std = self.residual(features)
        return Normal(base + delta, std), self.value_head(features.detach())

    def forward(self, frames: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Re-evaluate taken actions (B, K, A) normalised -> log-prob (B,), entropy (B,), value (B,) (the PPO
        update calls this, through DDP when distributed)."""
        dist, value = self.dist_and_value(frames)
        flat = actions.flatten(1)
        return dist.log_prob(flat).sum(-1), dist.entropy().sum(-1), value

    @torch.no_grad()
    def get_action_and_value(
        self, frames: torch.Tensor, deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> normalised actions (B, K, A), their log-prob (B,), value (B,)."""
        dist, value = self.dist_and_value(frames)
        flat = dist.mean if deterministic else dist.sample()
        return flat.view(-1, self.k, self.a), dist.log_prob(flat).sum(-1), value

    @torch.no_grad()
    def value(self, frames: torch.Tensor) -> torch.Tensor:
        self._check(frames)
        return self.value_head(self.bc.net.features(frames))

    def to_joint_targets(self, actions: torch.Tensor) -> torch.Tensor:
        """Normalised (B, K, A) -> absolute joint targets (B, K, A), what the env and the simulator take."""
        return self.bc.normalizer.unnormalize(actions)

    @torch.no_grad()
    def act(self, frames: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        """frames (B, H, W, 3) uint8 -> joint targets (B, K, A); the mean action by default (evaluation)."""
        actions, _, _ = self.get_action_and_value(frames.to(self.device), deterministic=deterministic)
        return self.to_joint_targets(actions)

    def sim_policy(self) -> SimPolicy:
        """The deterministic policy for `rla_gym.sim.evaluate`."""
        return SimPolicy(self.act, self.robot, self.device)

    # ------------------------------------------------------------------ adapters
    def _lora_layers(self) -> list[Any]:
        from peft.tuners.lora import LoraLayer

        return [m for m in self.bc.net.modules() if isinstance(m, LoraLayer)]

    def merge_adapters(self) -> None:
        """Fold the adapters into the base weights (faster inference; same actions)."""
        for layer in self._lora_layers():
            layer.merge(adapter_names=[ADAPTER])

    def unmerge_adapters(self) -> None:
        for layer in self._lora_layers():
            layer.unmerge()

    @property
    def merged(self) -> bool:
        return any(layer.merged for layer in self._lora_layers())

    # ------------------------------------------------------------------ save / load
    def base_state_dict(self) -> dict[str, torch.Tensor]:
        """The BC policy's own weights (peft's `.base_layer` names mapped back, adapters left out)."""
        if self.merged:
            raise RuntimeError("adapters are merged into the base weights; call unmerge_adapters() before saving")
        return {k.replace(".base_layer", ""): v for k, v in self.bc.state_dict().items() if "lora_" not in k}

    def save_pretrained(self, path: str | os.PathLike) -> Path:
        """BC policy (bc_policy.*), adapters in peft's format, heads (heads.safetensors) and agent.json."""
        from peft import get_peft_model_state_dict

        out = Path(path)
        write_policy(out, self.robot, self.bc.config, self.base_state_dict())
        self.lora_config.save_pretrained(str(out))
        adapters = get_peft_model_state_dict(self.bc.net, adapter_name=ADAPTER)  # adapter name dropped, as peft saves
        adapters = {PEFT_PREFIX + k: v.detach().contiguous().cpu() for k, v in adapters.items()}
        save_file(adapters, out / "adapter_model.safetensors")
        heads = {f"residual.{k}": v for k, v in self.residual.state_dict().items()}
        heads |= {f"value_head.{k}": v for k, v in self.value_head.state_dict().items()}
        save_file({k: v.detach().contiguous().cpu() for k, v in heads.items()}, out / HEADS_FILE)
        (out / AGENT_FILE).write_text(json.dumps({"robot": self.robot, "agent": asdict(self.config)}, indent=2) + "\n")
        return out

    @classmethod
    def from_pretrained(
        cls, path: str | os.PathLike, robot: str | None = None, device: str | torch.device = "cpu"
    ) -> LoRAActorCritic:
        from peft import get_peft_model_state_dict, set_peft_model_state_dict

        path = Path(path)
        meta_file = path / AGENT_FILE
        if not meta_file.is_file():
            raise FileNotFoundError(f"no RL agent at {path}: {AGENT_FILE} missing")
        meta = json.loads(meta_file.read_text())
        agent = cls(BCPolicy.from_pretrained(path, robot=robot), LoRAAgentConfig(**meta["agent"]))
        file = path / "adapter_model.safetensors"
        adapters = {k.removeprefix(PEFT_PREFIX): v for k, v in load_file(file).items()}
        expected = set(get_peft_model_state_dict(agent.bc.net, adapter_name=ADAPTER))
        if set(adapters) != expected:
            missing, extra = sorted(expected - set(adapters)), sorted(set(adapters) - expected)
            raise ValueError(f"{file} does not fit the BC network: missing {missing[:3]}, unexpected {extra[:3]}")
        set_peft_model_state_dict(agent.bc.net, adapters, ADAPTER)
        heads = load_file(path / HEADS_FILE)
        agent.residual.load_state_dict({k[9:]: v for k, v in heads.items() if k.startswith("residual.")})
        agent.value_head.load_state_dict({k[11:]: v for k, v in heads.items() if k.startswith("value_head.")})
        return agent.to(device).eval()
