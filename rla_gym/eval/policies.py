"""The policies the benchmarks and the main job evaluate, behind one interface and a registry.

A `Policy` maps a batch of frames to joint-target chunks: `act(frames)` with frames (B, H, W, 3) uint8 ->
(B, K, A), K = `chunk` rows per decision; `preprocess` says whether it was trained on world-model images (in
ManiSkill it then sees sim frames through encoder -> UNet, `rla_gym.sim.evaluate.stack_preprocess`).

Registered kinds (`make_policy(kind, **kw)`):
- `bc`: a BC folder (`BCPolicy.from_pretrained`), `path`, `robot`, `device`;
- `rl`: a LoRA-PPO checkpoint of `rla-gym wmrl` (`LoRAActorCritic.from_pretrained`, the mean action), same keywords;
- `bc-checkpoint`: one checkpoint of a finished BC run (`run/checkpoints/step_N`, kept with `--keep-checkpoints`),
  `path`, `robot`, `device`: BC after a given epoch;
- `random`: uniform joint targets within the bundle's demo range, `bundle`, `chunk`, `seed`;
- `expert`: the task's scripted controller in ManiSkill (it reads the simulator's state, `sim_policy`) and, inside
  the world model, each world's reference demo's own recorded chunk (`wm_act`): it cannot act from images.
A `PolicyEntry` with `noise` > 0 adds seeded Gaussian noise of that standard deviation (radians) to every joint
target its policy commands, a simple way to spread policies over a range of success.
A new agent (a planner, say) registers itself: `register_policy("planner", factory)` where
`factory(**kw) -> Policy`; `make_policy("planner", ...)` then builds it and every ranking can list it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rla_gym.models.bundle import Bundle
from rla_gym.specs.robots import CHUNK_SIZE

Act = Callable[[torch.Tensor], torch.Tensor]  # frames (B, H, W, 3) uint8 -> joint targets (B, K, A)
PolicyFactory = Callable[..., "Policy"]


@dataclass
class Policy:
    """What an evaluation needs of a policy: its action function, chunk length and the images it was trained on.
    A policy that does not act from images alone brings its own ManiSkill policy (`sim_policy`, an
    `rla_gym.sim.evaluate` policy) and world-model action function (`wm_act(env, obs) -> (N, K, A)`)."""

    act: Act
    chunk: int  # K: rows per decision (the world model's chunk)
    preprocess: bool  # trained on world-model images: sees sim frames through encoder -> UNet in ManiSkill
    sim_policy: Any = None
    wm_act: Callable[[Any, Any], torch.Tensor] | None = None


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


def _bc_checkpoint(path: str | Path, robot: str, device: torch.device | str = "cpu", **_) -> Policy:
    from rla_gym.eval.bc_selection import load_checkpoint_policy

    checkpoint = Path(path)
    bc = load_checkpoint_policy(checkpoint.parent.parent, checkpoint, device)
    if bc.robot != robot:
        raise ValueError(f"BC checkpoint {checkpoint} was trained for {bc.robot}, not {robot}")
    return Policy(bc.act, bc.config.n_action_steps, True)


def _cannot_see(frames: torch.Tensor) -> torch.Tensor:
    raise TypeError("the scripted expert reads the simulator's state, not images: use its sim_policy or wm_act")


def _expert(bundle: Bundle, chunk: int = CHUNK_SIZE, **_) -> Policy:
    from rla_gym.sim.scripted import ScriptedPolicy

    if bundle.task is None:
        raise ValueError("the scripted expert needs the bundle's task (its controller is per task)")
    return Policy(
        _cannot_see, chunk, False, sim_policy=ScriptedPolicy(bundle.task), wm_act=lambda env, obs: env.demo_actions()
    )


register_policy("bc", _bc)
register_policy("rl", _rl)
register_policy("bc-checkpoint", _bc_checkpoint)
register_policy("random", _random)
register_policy("expert", _expert)


class NoisyAct:
    """`act` plus seeded Gaussian noise of standard deviation `sigma` on every joint target."""

    def __init__(self, act: Act, sigma: float, seed: int = 0) -> None:
        if not sigma >= 0:
            raise ValueError(f"noise must be a standard deviation >= 0; got {sigma}")
        self.act, self.sigma = act, float(sigma)
        self.gen = torch.Generator().manual_seed(seed)

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        actions = self.act(frames)
        noise = torch.randn(actions.shape, generator=self.gen) * self.sigma
        return actions + noise.to(actions.device, actions.dtype)


# ---------------------------------------------------------------------------------------------- saved policies
@dataclass(frozen=True)
class PolicyEntry:
    """A policy to evaluate, by name: its registered kind and the folder it loads from (None: built, not loaded)."""

    name: str  # "BC", "RL iter 000025", "random"
    kind: str  # a registered kind: "bc" | "rl" | "bc-checkpoint" | "random" | "expert" | ...
    path: str | None = None
    noise: float = 0.0  # Gaussian noise (radians) added to every joint target the policy commands

    @classmethod
    def from_dict(cls, d: dict) -> PolicyEntry:
        unknown = set(d) - {"name", "kind", "path", "noise"}
        if unknown or not {"name", "kind"} <= set(d):
            raise ValueError(f"a policy entry has name, kind and optionally path and noise; got {sorted(d)}")
        return cls(str(d["name"]), str(d["kind"]), d.get("path"), float(d.get("noise", 0.0)))


def load_policy(
    entry: PolicyEntry, bundle: Bundle, device: torch.device, chunk: int = CHUNK_SIZE, seed: int = 0
) -> Policy:
    """`make_policy(entry.kind, ...)` with the bundle's robot, the device, `chunk` and `seed` (each kind takes what
    it needs)."""
    kw = {"path": entry.path, "robot": bundle.robot, "bundle": bundle, "device": device, "chunk": chunk, "seed": seed}
    policy = make_policy(entry.kind, **kw)
    if entry.noise > 0:
        if policy.sim_policy is not None or policy.wm_act is not None:
            raise ValueError(f"{entry.name}: noise applies to policies that act from images, not to {entry.kind!r}")
        policy = replace(policy, act=NoisyAct(policy.act, entry.noise, seed))
    return policy


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
