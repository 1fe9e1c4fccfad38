"""The policies the benchmarks and the main job evaluate, behind one interface and a registry.

A `Policy` maps a batch of frames to joint-target chunks: `act(frames)` with frames (B, H, W, 3) uint8 ->
(B, K, A), K = `chunk` rows per decision; `preprocess` says whether it was trained on world-model images (in
ManiSkill it then sees sim frames through encoder -> UNet, `rla_gym.sim.evaluate.stack_preprocess`).

Registered kinds (`make_policy(kind, **kw)`):
- `bc`: a BC folder (`BCPolicy.from_pretrained`), `path`, `robot`, `device`;
- `rl`: a LoRA-PPO checkpoint of `rla-gym wmrl` (`LoRAActorCritic.from_pretrained`, the mean action), same keywords;
- `random`: uniform joint targets within the bundle's demo range, `bundle`, `chunk`, `seed`.
A new agent (a planner, say) registers itself: `register_policy("planner", factory)` where
`factory(**kw) -> Policy`; `make_policy("planner", ...)` then builds it and every ranking can list it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rla_gym.models.bundle import Bundle
from rla_gym.specs.robots import CHUNK_SIZE

Act = Callable[[torch.Tensor], torch.Tensor]  # frames (B, H, W, 3) uint8 -> joint targets (B, K, A)
PolicyFactory = Callable[..., "Policy"]


@dataclass
class Policy:
    """What an evaluation needs of a policy: its action function, chunk length and the images it was trained on."""

    act: Act
    chunk: int  # K: rows per decision (the world model's chunk)
    preprocess: bool  # trained on world-model images: sees sim frames through encoder -> UNet in ManiSkill


_REGISTRY: dict[str, PolicyFactory] = {}


def register_policy(name: str, factory: PolicyFactory) -> None:
    """Make `make_policy(name, **kw)` call `factory(**kw) -> Policy`; a name registers once."""
    if name in _REGISTRY and _REGISTRY[name] is not factory:
        raise ValueError(f"policy kind {name!r} is already registered")
    _REGISTRY[name] = factory


def make_policy(name: str, **kw) -> Policy:
    """The registered policy `name` built from `kw` (see the module docstring for each kind's keywords)."""
    if name not in _REGISTRY:
        raise ValueError(f"unknown policy kind {name!r}; expected one of {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name](**kw)


def policy_kinds() -> list[str]:
    return sorted(_REGISTRY)


class RandomPolicy:
    """Uniform joint targets within [low, high] per joint, K rows per decision, seeded: the floor of the ranking."""

    def __init__(self, low: torch.Tensor, high: torch.Tensor, chunk: int, seed: int = 0) -> None:
        self.low, self.high, self.chunk = low.float().cpu(), high.float().cpu(), chunk
        self.gen = torch.Generator().manual_seed(seed)

    def act(self, frames: torch.Tensor) -> torch.Tensor:
        u = torch.rand(frames.shape[0], self.chunk, self.low.shape[0], generator=self.gen)
        return (self.low + u * (self.high - self.low)).to(frames.device)


def _bc(path: str | Path, robot: str, device: torch.device | str = "cpu", **_) -> Policy:
    from rla_gym.agents.bc import BCPolicy

    bc = BCPolicy.from_pretrained(path, robot=robot, device=torch.device(device))
    return Policy(bc.act, bc.config.n_action_steps, True)


def _rl(path: str | Path, robot: str, device: torch.device | str = "cpu", **_) -> Policy:
    from rla_gym.agents.lora import LoRAActorCritic

    agent = LoRAActorCritic.from_pretrained(path, robot=robot, device=torch.device(device))
    return Policy(lambda frames: agent.act(frames, deterministic=True), agent.k, True)


def _random(bundle: Bundle, chunk: int = CHUNK_SIZE, seed: int = 0, **_) -> Policy:
    targets = bundle.demos.targets  # (F, A): every demo row
    policy = RandomPolicy(targets.min(0).values, targets.max(0).values, chunk, seed)
    return Policy(policy.act, chunk, False)


register_policy("bc", _bc)
register_policy("rl", _rl)
register_policy("random", _random)


# ---------------------------------------------------------------------------------------------- saved policies
@dataclass(frozen=True)
class PolicyEntry:
    """A policy to evaluate, by name: its registered kind and the folder it loads from (None: built, not loaded)."""

    name: str  # "BC", "RL iter 000025", "random"
    kind: str  # a registered kind: "bc" | "rl" | "random" | ...
    path: str | None = None


def load_policy(
    entry: PolicyEntry, bundle: Bundle, device: torch.device, chunk: int = CHUNK_SIZE, seed: int = 0
) -> Policy:
    """`make_policy(entry.kind, ...)` with the bundle's robot, the device, `chunk` and `seed` (each kind takes what
    it needs)."""
    kw = {"path": entry.path, "robot": bundle.robot, "bundle": bundle, "device": device, "chunk": chunk, "seed": seed}
    return make_policy(entry.kind, **kw)


def policy_entries(
    bc: Path | None, checkpoints: list[Path], wmrl_out: Path | None = None, max_checkpoints: int = 6
) -> tuple[list[PolicyEntry], list[str]]:
    """The policies to rank and notes on what is missing: BC (a folder with bc_policy.json), the complete RL
    `checkpoints` (oldest first) thinned evenly to `max_checkpoints` (first and last kept), without them `best/`
    and `last/` of `wmrl_out`, and random."""
    entries, notes = [], []
    if bc is not None and (Path(bc) / "bc_policy.json").is_file():
        entries.append(PolicyEntry("BC", "bc", str(bc)))
    else:
        notes.append(f"no BC policy ({bc or 'none given'})")
    found = list(checkpoints)
    if len(found) > max_checkpoints:
        keep = sorted({int(i) for i in np.linspace(0, len(found) - 1, max_checkpoints).round()})
        found = [found[i] for i in keep]
    if not found and wmrl_out is not None:
        found = [Path(wmrl_out) / n for n in ("best", "last") if (Path(wmrl_out) / n / "agent.json").is_file()]
    for path in found:
        label = path.name.replace("iter_", "iter ") if path.name.startswith("iter_") else path.name
        entries.append(PolicyEntry(f"RL {label}", "rl", str(path)))
    if not found:
        notes.append(f"no complete RL checkpoint under {wmrl_out or '(no --wmrl-out)'}/checkpoints/iter_*/")
    entries.append(PolicyEntry("random", "random"))
    return entries, notes


def find_policies(
    bc: Path | None, wmrl_out: Path | None, max_checkpoints: int = 6
) -> tuple[list[PolicyEntry], list[str]]:
    """`policy_entries` with the complete checkpoints of `rla-gym wmrl`'s `<wmrl_out>/checkpoints/iter_*/`."""
    from rla_gym.eval.checkpoints import list_checkpoints

    found = [path for _, path in list_checkpoints(Path(wmrl_out))] if wmrl_out is not None else []
    return policy_entries(bc, found, wmrl_out, max_checkpoints)


def policy_chunk(entries: list[PolicyEntry], default: int = CHUNK_SIZE) -> int:
    """K of the first saved policy (BC and RL agents share the BC network's `n_action_steps`), else `default`."""
    from rla_gym.agents.bc import read_policy_meta

    for entry in entries:
        if entry.path is not None:
            return int(read_policy_meta(Path(entry.path))["network"]["n_action_steps"])
    return default
