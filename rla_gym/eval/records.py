"""Evaluation records: a ManiSkill evaluation (`rla_gym.sim.evaluate.EvalResult`) as JSON and back.

    save_eval(out / "bc_eval.json", result)
    result = load_eval(out / "bc_eval.json")

One record per evaluation: robot, task and per seed its success, steps and return (the episode's video path is not
kept: videos are written beside the record). The main job keeps BC's evaluation in one, so a resumed run does not
evaluate BC again, and its checkpoints keep the best RL evaluation in the same form (`eval_to_dict`).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rla_gym.sim.evaluate import EvalResult, SeedResult


def eval_to_dict(result: EvalResult) -> dict[str, Any]:
    """{"robot", "task", "episodes": [{"seed", "success", "steps", "episode_return"}, ...]}: plain JSON values."""
    episodes = [{k: v for k, v in asdict(e).items() if k != "video"} for e in result.episodes]
    return {"robot": result.robot, "task": result.task, "episodes": episodes}


def eval_from_dict(data: dict[str, Any]) -> EvalResult:
    """The inverse of `eval_to_dict`."""
    return EvalResult(data["robot"], data["task"], [SeedResult(**e) for e in data["episodes"]])


def save_eval(path: Path, result: EvalResult) -> None:
    """A ManiSkill evaluation as JSON (per-seed success, steps, return), for resuming and for reports."""
    Path(path).write_text(json.dumps(eval_to_dict(result), indent=1) + "\n")


def load_eval(path: Path) -> EvalResult:
    """The evaluation `save_eval` wrote."""
    return eval_from_dict(json.loads(Path(path).read_text()))
