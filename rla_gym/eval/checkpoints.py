"""The main job's checkpoints: one per ManiSkill evaluation of the RL agent, what `--resume` continues from.

A run folder `out/` (written by rank 0 of `rla_gym.train.wmrl.run_wmrl`):

    out/checkpoints/iter_000025/     the agent as it was evaluated at iteration 25, one folder per evaluation:
        bc_policy.json, bc_policy.safetensors   the BC network's own weights
        adapter_config.json, adapter_model.safetensors   its LoRA adapters, in peft's format
        heads.safetensors, agent.json   the residual and value heads, the agent's config
                                     (all four: `LoRAActorCritic.save_pretrained`, read by `from_pretrained`)
        trainer_state.pt             torch.save of {"iteration": int, "optimizers": [state_dict, ...] in
                                     `make_optimizers` order, "best": best ManiSkill success so far (-1.0: none),
                                     "best_iteration": int, "rl_result": the best evaluation as
                                     `rla_gym.eval.records.eval_to_dict` (None: none yet), "torch_rng": the CPU
                                     generator's state}. Written last (to a .tmp, then renamed): a checkpoint cut short
                                     by a kill has none, and `list_checkpoints` skips it.
    out/best/, out/last/             the agent (same four files) with the best ManiSkill success so far, and the latest

This sits in `eval/` beside the evaluation records it holds, below `train/`, so a benchmark or a policy registry can
find the evaluated agents of a run (`list_checkpoints`) without importing the training job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from rla_gym.agents.lora import LoRAActorCritic
from rla_gym.eval.records import eval_from_dict, eval_to_dict
from rla_gym.sim.evaluate import EvalResult

CHECKPOINTS = "checkpoints"
TRAINER_STATE = "trainer_state.pt"
Optimizers = tuple[torch.optim.Optimizer, ...]  # `rla_gym.agents.ppo.make_optimizers` order


@dataclass
class RLProgress:
    """Where the RL loop stands: the last finished iteration and the best ManiSkill evaluation so far."""

    iteration: int = 0
    best: float = -1.0  # success rate of the best evaluation; -1: none yet, so the first one is kept
    best_iteration: int = 0
    rl_result: EvalResult | None = None  # that evaluation

    def improves(self, iteration: int, result: EvalResult) -> bool:
        """Keep `result` as the best if it beats the best so far (ties keep the earlier checkpoint)."""
        if result.success_rate <= self.best:
            return False
        self.best, self.best_iteration, self.rl_result = result.success_rate, iteration, result
        return True


def checkpoint_dir(out: Path, iteration: int) -> Path:
    """Where the agent evaluated at `iteration` is saved (peft adapters, heads, BC weights, trainer state)."""
    return Path(out) / CHECKPOINTS / f"iter_{iteration:06d}"


def list_checkpoints(out: Path) -> list[tuple[int, Path]]:
    """(iteration, folder) of every complete checkpoint in `out`, oldest first."""
    found = []
    for path in sorted((Path(out) / CHECKPOINTS).glob("iter_*")):
        if (path / TRAINER_STATE).is_file():  # written last: a checkpoint cut short has none
            found.append((int(path.name.removeprefix("iter_")), path))
    return found


def save_checkpoint(
    out: Path, agent: LoRAActorCritic, optimizers: Optimizers, progress: RLProgress, improved: bool
) -> Path:
    """`best/` (if `improved`), `last/` and `checkpoints/iter_N/` for the agent just evaluated at
    `progress.iteration`; the trainer state is written last."""
    out = Path(out)
    if improved:
        agent.save_pretrained(out / "best")
    agent.save_pretrained(out / "last")
    path = checkpoint_dir(out, progress.iteration)
    agent.save_pretrained(path)
    state = {
        "iteration": progress.iteration,
        "optimizers": [o.state_dict() for o in optimizers],
        "best": progress.best,
        "best_iteration": progress.best_iteration,
        "rl_result": eval_to_dict(progress.rl_result) if progress.rl_result is not None else None,
        "torch_rng": torch.get_rng_state(),
    }
    tmp = path / (TRAINER_STATE + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path / TRAINER_STATE)
    return path


def load_checkpoint(path: Path, agent: LoRAActorCritic, optimizers: Optimizers, device: torch.device) -> RLProgress:
    """Put the checkpoint at `path` into `agent` and `optimizers`, restore the torch generator it saved, and say where
    the loop stands. Every rank reads the same files."""
    state = torch.load(path / TRAINER_STATE, weights_only=False, map_location=device)
    agent.load_state_dict(LoRAActorCritic.from_pretrained(path, robot=agent.robot, device=device).state_dict())
    for optimizer, saved in zip(optimizers, state["optimizers"]):
        optimizer.load_state_dict(saved)
    torch.set_rng_state(state["torch_rng"])
    rl_result = eval_from_dict(state["rl_result"]) if state["rl_result"] else None
    return RLProgress(state["iteration"], state["best"], state["best_iteration"], rl_result)
