"""Choose a BC checkpoint as the paper does: every epoch's policy scored in ManiSkill on the selection seeds, the best
kept (paper A.2: 40 epochs, the best checkpoint). The report seeds are not touched: they judge the chosen policy.

    results = score_checkpoints(run, bundle, seeds)        # [(step, EvalResult)], oldest first
    best = best_checkpoint(results)                        # highest success, then return, then the earlier
    export_checkpoint(run, best, out)                      # a BC policy folder (bc_policy.json + .safetensors)

A BC run (`rla-gym train bc --keep-checkpoints N`) holds one checkpoint per epoch (`checkpoints/step_N`, the module's
weights under `policy.`) and, once finished, `final/bc_policy.json` (robot, network, normaliser layout).

Scoring 40 epochs on 50 seeds is ~2 000 ManiSkill episodes (over an hour on one core), so each checkpoint's result
is kept in `RUN/selection/step_N.json` as soon as it is known, with what it depends on (seeds, camera size, step
limit, the bundle's encoder and UNet weights): a rerun after a stop scores only what is missing."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import torch
from safetensors.torch import load_file

from rla_gym.agents.bc import BCPolicy, SimPolicy
from rla_gym.models.bundle import Bundle
from rla_gym.sim.evaluate import EvalResult, SeedResult, evaluate, stack_preprocess

PREFIX = "policy."  # the BC trainer's module holds the policy under this name


def bc_checkpoints(run: Path) -> list[tuple[int, Path]]:
    """(step, folder) of every complete checkpoint of a finished BC run, oldest first."""
    run = Path(run)
    if not (run / "final" / "bc_policy.json").is_file():
        raise FileNotFoundError(f"{run} is not a finished BC run (no final/bc_policy.json): train it to the end first")
    found = [
        (int(p.name.removeprefix("step_")), p)
        for p in sorted((run / "checkpoints").glob("step_*"))
        if (p / "DONE").is_file() and (p / "model.safetensors").is_file()
    ]
    if not found:
        raise FileNotFoundError(f"{run}/checkpoints holds no complete checkpoint")
    return found


def load_checkpoint_policy(run: Path, checkpoint: Path, device: torch.device | str = "cpu") -> BCPolicy:
    """The BC policy of one checkpoint: the finished run's config, the checkpoint's weights (strictly)."""
    policy = BCPolicy.from_pretrained(Path(run) / "final", device=torch.device(device))
    weights = {
        k[len(PREFIX) :]: v for k, v in load_file(checkpoint / "model.safetensors").items() if k.startswith(PREFIX)
    }
    policy.load_state_dict(weights, strict=True)
    return policy.eval()


def score_checkpoints(
    run: Path,
    bundle: Bundle,
    seeds: tuple[int, ...],
    device: torch.device | str = "cpu",
    *,
    resume: bool = True,
    **evaluate_kw,
) -> list[tuple[int, EvalResult]]:
    """Each checkpoint's ManiSkill success on `seeds`, seeing frames through the bundle's encoder and UNet.

    `resume`: reuse a checkpoint's stored result when it was scored the same way (see the module docstring)."""
    key = {
        "seeds": [int(s) for s in seeds],
        "size": int(evaluate_kw.get("size", 128)),
        "max_steps": evaluate_kw.get("max_steps"),
        "preprocess": preprocess_fingerprint(bundle),
    }
    preprocess = stack_preprocess(bundle.stack)
    results = []
    for step, path in bc_checkpoints(run):
        stored = Path(run) / "selection" / f"step_{step:07d}.json"
        result = _read_result(stored, key) if resume else None
        if result is None:
            policy = load_checkpoint_policy(run, path, device)
            sim_policy = SimPolicy(policy.act, bundle.robot, torch.device(device))
            result = evaluate(sim_policy, bundle.robot, bundle.task, seeds, neural_preprocess=preprocess, **evaluate_kw)
            _write_result(stored, key, result)
        results.append((step, result))
    return results


def preprocess_fingerprint(bundle: Bundle) -> str:
    """A digest of the weights that turn a ManiSkill frame into what the policy sees (encoder and UNet)."""
    digest = hashlib.sha256()
    for module in (bundle.stack.encoder, bundle.stack.image_decoder):
        for name, tensor in sorted(module.state_dict().items()):
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def _read_result(path: Path, key: dict) -> EvalResult | None:
    if not path.is_file():
        return None
    stored = json.loads(path.read_text())
    if stored.get("key") != key:
        return None
    episodes = [SeedResult(int(e["seed"]), bool(e["success"]), int(e["steps"]), float(e["return"]))
                for e in stored["episodes"]]  # fmt: skip
    return EvalResult(stored["robot"], stored["task"], episodes)


def _write_result(path: Path, key: dict, result: EvalResult) -> None:
    episodes = [{"seed": e.seed, "success": e.success, "steps": e.steps, "return": e.episode_return}
                for e in result.episodes]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"key": key, "robot": result.robot, "task": result.task, "episodes": episodes}))
    os.replace(tmp, path)


def best_checkpoint(results: list[tuple[int, EvalResult]]) -> int:
    """The step with the highest success, then the highest mean return, then the earliest."""
    return max(results, key=lambda r: (r[1].success_rate, r[1].mean_return, -r[0]))[0]


def export_checkpoint(run: Path, step: int, out: Path, dtype: torch.dtype | None = torch.float16) -> Path:
    """Write checkpoint `step` of the run as a BC policy folder (fp16 weights by default, as the zoo ships BC)."""
    path = dict(bc_checkpoints(run))[step]
    return load_checkpoint_policy(run, path).save_pretrained(out, dtype)
