"""One training loop for every model: Hugging Face `accelerate` does devices, DDP, bf16 and the saved state.

The same call runs on one CPU, on one GPU, or under `accelerate launch` / `torchrun --nproc_per_node N` on
several GPUs or nodes, with no change. A model plugs in as a `TrainTask`: a module whose `forward(batch)`
returns the loss (so DDP's gradient hooks see it), a batch sampler that draws from its own registered numpy
generator, and an `export` of the trained weights.

Resumption is exact: a checkpoint (every `checkpoint_every` steps) holds weights, optimizer, scheduler, the
step, the sampler's generator and the torch/numpy/python RNG states; `resume=True` continues from the latest,
and a run killed after a checkpoint ends with the same weights as one that never stopped (CPU, same steps).
"""

from __future__ import annotations

import csv
import logging
import math
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

log = logging.getLogger(__name__)

CHECKPOINTS = "checkpoints"
LOSS_CSV = "loss.csv"
EVAL_CSV = "eval.csv"


@dataclass
class TrainConfig:
    """Optimisation settings shared by every trainer (AdamW, linear warm-up then cosine decay)."""

    steps: int = 2000
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 100
    min_lr_ratio: float = 0.1  # cosine decays to lr * min_lr_ratio
    grad_clip: float = 1.0
    checkpoint_every: int = 500
    eval_every: int = 0  # 0: evaluate only at the end
    log_every: int = 10
    keep_checkpoints: int = 2
    seed: int = 0
    mixed_precision: str = "auto"  # "auto": bf16 on CUDA, none on CPU; or "no", "bf16", "fp16"
    cpu: bool = False  # force the CPU even where CUDA is available

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "log_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr must be a positive finite number, got {self.lr}")
        if self.warmup_steps < 0 or self.eval_every < 0:
            raise ValueError("warmup_steps and eval_every must be >= 0")


class TrainTask(Protocol):
    """What a model brings to the loop."""

    name: str
    module: nn.Module  # forward(batch) -> (loss, {metric: float}); frozen parts carry requires_grad=False

    def sample_batch(self, rng: np.random.Generator, batch_size: int) -> dict[str, torch.Tensor]: ...

    def evaluate(self, module: nn.Module, device: torch.device) -> dict[str, float]: ...

    def export(self, module: nn.Module, out_dir: Path) -> list[Path]: ...


class _Counter:
    """Step count and the sampler's generator, saved and restored with the accelerate state."""

    def __init__(self, seed: int) -> None:
        self.step = 0
        self.rng = np.random.default_rng(seed)

    def state_dict(self) -> dict[str, Any]:
        return {"step": self.step, "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step = int(state["step"])
        self.rng.bit_generator.state = state["rng"]


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    final_loss: float
    metrics: dict[str, float]
    exported: list[Path]
    resumed_from: int  # 0 when the run started fresh


def save_weights(module: nn.Module, path: Path) -> Path:
    """A module's state dict as one safetensors file: what every trainer exports to RUN/final."""
    from safetensors.torch import save_file

    save_file({k: v.detach().contiguous().cpu() for k, v in module.state_dict().items()}, path)
    return path


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The newest complete checkpoint folder (`step_<7 digits>`), or None."""
    root = Path(out_dir) / CHECKPOINTS
    done = sorted(p for p in root.glob("step_*") if (p / "DONE").is_file()) if root.is_dir() else []
    return done[-1] if done else None


def _lr_lambda(config: TrainConfig) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if config.warmup_steps and step < config.warmup_steps:
            return (step + 1) / config.warmup_steps
        span = max(1, config.steps - config.warmup_steps)
        progress = min(1.0, (step - config.warmup_steps) / span)
        return config.min_lr_ratio + (1 - config.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def _mixed_precision(config: TrainConfig) -> str:
    if config.mixed_precision != "auto":
        return config.mixed_precision
    return "bf16" if torch.cuda.is_available() and not config.cpu else "no"


def trim_csv(path: Path, last_step: int) -> None:
    """Drop rows logged after the checkpoint we resume from (first column: the step or iteration), so the log
    has each step once."""
    if not path.is_file():
        return
    with path.open() as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    kept = [rows[0]] + [r for r in rows[1:] if r and int(r[0]) <= last_step]
    with path.open("w", newline="") as f:
        csv.writer(f).writerows(kept)


def append_csv(path: Path, row: dict[str, float]) -> None:
    """Append one row to a CSV log, writing the header when the file is new."""
    new = not path.is_file()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(row))
        if new:
            writer.writeheader()
        writer.writerow(row)


def train(
    task: TrainTask,
    config: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train `task.module` for `config.steps` optimizer steps; write checkpoints, logs, a plot and the export."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed
    from tqdm.auto import tqdm

    out_dir = Path(out_dir)
    accelerator = Accelerator(cpu=config.cpu, mixed_precision=_mixed_precision(config))
    main = accelerator.is_main_process
    set_seed(config.seed)  # same initial weights on every rank; DDP also broadcasts rank 0's
    counter = _Counter(config.seed + accelerator.process_index)  # each rank draws its own batches
    params = [p for p in task.module.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"{task.name}: the module has no trainable parameters")
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(config))
    module, optimizer, scheduler = accelerator.prepare(task.module, optimizer, scheduler)
    accelerator.register_for_checkpointing(counter)

    resumed_from = 0
    ckpt = latest_checkpoint(out_dir)
    if ckpt is not None and not resume:  # before anything is written: the other run's files stay as they are
        raise FileExistsError(f"{out_dir} already holds checkpoints; pass resume=True (--resume) or a new folder")
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "train_config.json").write_text(_json(asdict(config)))
    if resume and ckpt is not None:
        accelerator.load_state(str(ckpt))
        resumed_from = counter.step
        log.info("%s: resumed from %s (step %d)", task.name, ckpt, resumed_from)
        if main:
            trim_csv(out_dir / LOSS_CSV, resumed_from)
            trim_csv(out_dir / EVAL_CSV, resumed_from)
    elif main:
        for name in (LOSS_CSV, EVAL_CSV):
            (out_dir / name).unlink(missing_ok=True)

    module.train()
    bar = tqdm(
        total=config.steps,
        initial=counter.step,
        desc=f"train {task.name}",
        unit="step",
        disable=not (progress and main),
    )
    running: list[float] = []
    loss_value = float("nan")
    while counter.step < config.steps:
        batch = task.sample_batch(counter.rng, config.batch_size)
        batch = {k: v.to(accelerator.device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        with accelerator.autocast():
            loss, metrics = module(batch)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{task.name}: loss is {loss.item()} at step {counter.step}")
        accelerator.backward(loss)
        if config.grad_clip > 0:
            accelerator.clip_grad_norm_(params, config.grad_clip)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        counter.step += 1
        loss_value = float(loss.detach())
        running.append(loss_value)
        bar.update(1)
        if counter.step % config.log_every == 0 or counter.step == config.steps:
            mean = float(np.mean(running))
            running.clear()
            bar.set_postfix(loss=f"{mean:.4f}")
            if main:
                row = {"step": counter.step, "loss": mean, "lr": scheduler.get_last_lr()[0]}
                row.update({k: float(v) for k, v in metrics.items()})
                append_csv(out_dir / LOSS_CSV, row)
        if config.eval_every and counter.step % config.eval_every == 0 and counter.step < config.steps:
            _evaluate(task, accelerator, module, out_dir, counter.step)
        if counter.step % config.checkpoint_every == 0 or counter.step == config.steps:
            _checkpoint(accelerator, out_dir, counter.step, config.keep_checkpoints)
        if on_step is not None:
            on_step(counter.step, loss_value)
    bar.close()

    final = _evaluate(task, accelerator, module, out_dir, counter.step)
    exported: list[Path] = []
    if main:
        exported = task.export(accelerator.unwrap_model(module), out_dir / "final")
        plot_losses(out_dir)
    accelerator.wait_for_everyone()
    accelerator.end_training()
    return TrainResult(out_dir, counter.step, loss_value, final, exported, resumed_from)


def _evaluate(task: TrainTask, accelerator: Any, module: nn.Module, out_dir: Path, step: int) -> dict[str, float]:
    if not accelerator.is_main_process:
        return {}
    net = accelerator.unwrap_model(module)
    net.eval()
    with torch.no_grad():
        metrics = task.evaluate(net, accelerator.device)
    net.train()
    if metrics:  # one row per step: a run killed after its final evaluation and resumed evaluates that step again
        trim_csv(out_dir / EVAL_CSV, step - 1)
        append_csv(out_dir / EVAL_CSV, {"step": step, **metrics})
        log.info("%s step %d: %s", task.name, step, ", ".join(f"{k} {v:.4f}" for k, v in metrics.items()))
    return metrics


def _checkpoint(accelerator: Any, out_dir: Path, step: int, keep: int) -> None:
    path = out_dir / CHECKPOINTS / f"step_{step:07d}"
    accelerator.save_state(str(path))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (path / "DONE").write_text(str(step))  # a checkpoint without DONE was cut short and is never resumed
        done = sorted(p for p in path.parent.glob("step_*") if (p / "DONE").is_file())
        for old in done[:-keep]:
            shutil.rmtree(old, ignore_errors=True)


def plot_losses(out_dir: Path) -> Path | None:
    """loss.csv (and eval.csv) -> losses.png: training loss (log scale) and each held-out metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    tables = {name: read_csv(out_dir / name) for name in (LOSS_CSV, EVAL_CSV)}
    if not tables[LOSS_CSV]:
        return None
    evals = [k for k in (tables[EVAL_CSV][0] if tables[EVAL_CSV] else {}) if k != "step"]
    fig, axes = plt.subplots(1, 1 + len(evals), figsize=(4.5 * (1 + len(evals)), 3.4), squeeze=False)
    steps = [r["step"] for r in tables[LOSS_CSV]]
    axes[0, 0].plot(steps, [r["loss"] for r in tables[LOSS_CSV]])
    axes[0, 0].set(title="training loss", xlabel="step", yscale="log")
    for ax, key in zip(axes[0, 1:], evals):
        rows = tables[EVAL_CSV]
        ax.plot([r["step"] for r in rows], [r[key] for r in rows], marker="o")
        ax.set(title=f"held-out {key}", xlabel="step")
    fig.tight_layout()
    path = out_dir / "losses.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def read_csv(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with path.open() as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def _json(data: Any) -> str:
    import json

    return json.dumps(data, indent=2, default=str)
