"""The main job (issue 9): world-model RL from a BC policy, scored in the real simulator.

    result = run_wmrl(wmrl_preset("demo", bundle=..., bc=...))
    print(result.table())

1. BC is evaluated in ManiSkill on the evaluation seeds, with the paper's neural preprocessing (sim frame ->
   encoder -> UNet, reference 7.4), so it sees the kind of image it was trained on.
2. The BC policy gets LoRA adapters, a residual head and a value head, and PPO trains them inside
   `RLAWorldModel-v0` (no simulator step); every `eval_every` iterations the deterministic policy is scored in
   ManiSkill on the same seeds and the best checkpoint is kept (as the paper selects its RL* policy).
3. A table (success, 95 % Wilson interval, episodes) for BC and the best RL checkpoint, a learning curve, and
   side-by-side videos: what the simulator did | what the world model predicts for the same action chunks.
4. The protocol (`rla_gym.eval.protocol`): each evaluated checkpoint is also scored inside the world model alone
   (`wm_select_worlds` fixed episodes, no simulator), and BC, the checkpoint chosen on the ManiSkill seeds and the
   one the world model chooses are scored on `report_episodes` report seeds that chose nothing, each RL policy
   against BC seed by seed (exact McNemar).

Under `torchrun --nproc_per_node N` the RL loop is distributed (rla_gym.agents.ppo); rank 0 evaluates and writes.
The first table's RL checkpoint is selected on the seeds it is reported on, as in the paper's Fig. 6 (it says so);
the report table is the evidence.

`run_wmrl` reads top to bottom as its steps (`_set_up`, `_evaluate_bc`, `_world_model_envs`, then per iteration
`_rl_iteration` and `_evaluate_and_checkpoint`, last `_finish`). What it measures and keeps lives in `rla_gym.eval`
and is re-exported here: the evaluation records (`eval.records`), the checkpoints and their format
(`eval.checkpoints`), the episode recorder and the side-by-side videos (`eval.recording`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rla_gym.agents.bc import BCPolicy, SimPolicy
from rla_gym.agents.lora import LoRAActorCritic, LoRAAgentConfig
from rla_gym.agents.ppo import (
    PPOConfig,
    RolloutCollector,
    init_distributed,
    make_optimizers,
    ppo_update,
    wrap_ddp,
)
from rla_gym.eval import protocol
from rla_gym.eval.checkpoints import (
    CHECKPOINTS,
    TRAINER_STATE,
    RLProgress,
    checkpoint_dir,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from rla_gym.eval.recording import EpisodeRecorder, world_model_replay, write_side_by_side
from rla_gym.eval.records import load_eval, save_eval
from rla_gym.models.bundle import Bundle, load_bundle, resolve_bundle_path
from rla_gym.models.device import resolve_device
from rla_gym.models.stack import WorldModelStack
from rla_gym.models.zoo import default_bundle_path
from rla_gym.sim.evaluate import EvalResult, Preprocess, evaluate, stack_preprocess
from rla_gym.specs import SimTask, check_pair, get_task
from rla_gym.specs.seeds import SELECTION_SEEDS
from rla_gym.train.loop import append_csv, read_csv, trim_csv

__all__ = [  # the job, and (re-exported from rla_gym.eval, where they live) the run folder's records and checkpoints
    "BC_EVAL",
    "CHECKPOINTS",
    "TRAINER_STATE",
    "EpisodeRecorder",
    "WMRLConfig",
    "WMRLResult",
    "checkpoint_dir",
    "default_bc_path",
    "list_checkpoints",
    "load_eval",
    "plot_curve",
    "run_wmrl",
    "save_eval",
    "wmrl_preset",
    "world_model_replay",
    "write_side_by_side",
]

log = logging.getLogger(__name__)

PAPER_EVAL_SEEDS = tuple(SELECTION_SEEDS)  # 42-91
BC_SUFFIX = "-bc"  # the BC policy shipped beside a bundle folder: <bundle>-bc/
BC_EVAL = "bc_eval.json"  # BC's ManiSkill evaluation in a run folder (`rla_gym.eval.records`)
BC_REPORT = "bc_report.json"  # BC's evaluation on the report seeds (kept for a resumed run)
REPORT = "report.json"  # the report-seed evaluations of the chosen checkpoints and their paired tests
WORLD_MODEL_SELECTION_SEED = 777  # the world-model resets every checkpoint is scored on (not a ManiSkill seed)


@dataclass
class WMRLConfig:
    """Everything the main job needs; `wmrl_preset` gives the paper's, the 2-core demo's and the tests' values."""

    robot: str = "ur10e"
    task: str = "RollBall"
    bundle: str | None = None  # folder or hub id; None: the embedded default for (robot, task)
    bc: str | None = None  # BC policy folder; None: the one shipped beside the bundle (<bundle>-bc)
    out: Path = Path("out/wmrl")
    ppo: PPOConfig = field(default_factory=PPOConfig)
    agent: LoRAAgentConfig = field(default_factory=LoRAAgentConfig)
    eval_seeds: tuple[int, ...] = PAPER_EVAL_SEEDS
    eval_every: int = 25  # iterations (paper: every 200 updates = 25 iterations of 8 epochs)
    eval_max_steps: int | None = None  # None: the task's episode length
    sim_size: int = 128  # ManiSkill camera pixels
    videos: int = 2  # side-by-side videos for the first this many evaluation seeds
    wm_select_worlds: int = 32  # world-model episodes per checkpoint for the simulator-free selection (0: off)
    report_episodes: int = 500  # report seeds for BC and the chosen checkpoints (0: no report stage)
    reward_draws: int = 1  # the env's reward averaged over this many flow-noise draws (rla_gym.envs.config)
    uncertainty: str | None = None  # the env's second opinion, "draws" or "regression" (None: off)
    uncertainty_penalty: float = 0.0  # reward -= this x info["uncertainty"]
    euler_steps: int | None = None  # None: the bundle's
    device: str = "auto"
    progress: bool = True
    resume: bool = False  # continue from the latest checkpoint in `out` (see `run_wmrl`)

    def __post_init__(self) -> None:
        check_pair(self.robot, self.task)
        if not self.eval_seeds:
            raise ValueError("eval_seeds is empty: BC and RL are compared on at least one ManiSkill seed")
        if self.eval_every < 1 or self.videos < 0:
            raise ValueError(f"eval_every must be >= 1 and videos >= 0; got {self.eval_every}, {self.videos}")
        from rla_gym.envs.config import WorldModelEnvConfig  # the env's own checks, before anything loads

        WorldModelEnvConfig(
            reward_draws=self.reward_draws, uncertainty=self.uncertainty, uncertainty_penalty=self.uncertainty_penalty
        )
        if self.wm_select_worlds < 0:
            raise ValueError(f"wm_select_worlds must be >= 0 (0: off); got {self.wm_select_worlds}")
        if self.report_episodes:
            protocol.report_seeds(self.report_episodes)  # raises on a count outside the report range
        if self.eval_max_steps is not None and self.eval_max_steps < 1:
            raise ValueError(f"eval_max_steps must be >= 1 (or None: the task's length); got {self.eval_max_steps}")
        self.out = Path(self.out)
        self.eval_seeds = tuple(int(s) for s in self.eval_seeds)


WMRL_PRESETS = ("demo", "cpu-long", "paper", "tiny")


def wmrl_preset(name: str, **overrides: Any) -> WMRLConfig:
    """ "paper": 112 envs, 300 iterations, seeds 42-91; "demo": a run for a 2-core CPU (~15 min); "cpu-long": a
    run of about three hours on 2 CPU cores, resumable, for the background (32 worlds x 8 chunk steps per iteration,
    400 iterations: 102 400 world-model transitions, 16x the demo's); "tiny": tests (2 updates)."""
    if name == "paper":
        config = WMRLConfig()
    elif name == "cpu-long":
        ppo = PPOConfig(num_envs=32, num_steps=8, iterations=400, minibatch_size=64)
        config = WMRLConfig(ppo=ppo, eval_every=50, wm_select_worlds=32, report_episodes=500)
    elif name == "demo":
        # the card's run (16 worlds, minibatch 32) cut to 50 iterations, 20 selection and 20 report seeds: ~12 min
        ppo = PPOConfig(num_envs=16, num_steps=4, iterations=50, minibatch_size=32)
        config = WMRLConfig(
            ppo=ppo,
            eval_every=25,
            eval_seeds=tuple(SELECTION_SEEDS[:20]),
            videos=2,
            wm_select_worlds=16,
            report_episodes=20,
        )
    elif name == "tiny":
        ppo = PPOConfig(num_envs=2, num_steps=2, iterations=2, minibatch_size=2, update_epochs=1)
        config = WMRLConfig(
            ppo=ppo,
            eval_every=2,
            eval_seeds=tuple(SELECTION_SEEDS[:2]),
            eval_max_steps=16,
            sim_size=64,
            videos=1,
            wm_select_worlds=2,
            report_episodes=2,
        )
    else:
        raise ValueError(f"unknown wmrl preset {name!r}; valid: {', '.join(WMRL_PRESETS)}")
    return replace(config, **overrides)


def default_bc_path(bundle_path: Path) -> Path:
    """The BC policy shipped beside a bundle: `<bundle>-bc/` (then `<bundle>/bc/`)."""
    for candidate in (bundle_path.parent / (bundle_path.name + BC_SUFFIX), bundle_path / "bc"):
        if (candidate / "bc_policy.json").is_file():
            return candidate
    raise FileNotFoundError(
        f"no BC policy beside the bundle {bundle_path} (looked for {bundle_path.name}{BC_SUFFIX}/ and bc/). Train one: "
        f"`rla-gym train bc --bundle {bundle_path} --data DEMOS --out RUN`, then pass --bc RUN/final"
    )


# ---------------------------------------------------------------------------------------------- the result
@dataclass
class WMRLResult:
    """What a run gives back (on rank 0; the other ranks get `bc` None): both evaluations, the timings, the files."""

    bc: EvalResult
    rl: EvalResult  # the best RL checkpoint's evaluation
    best_iteration: int
    wm_steps: int  # world-model chunk transitions simulated (all ranks)
    steps_per_second: float  # world-model chunk transitions per second of rollout
    timings: dict[str, float]  # seconds: rollout (= policy + world_model), update, sim_eval
    videos: list[Path]
    curve: Path | None
    out: Path
    components: dict[str, float] = field(default_factory=dict)  # ms per vector-env step (models.profile)
    report: str = ""  # the report-seed table (`rla_gym.eval.protocol.report_table`); "" without a report stage

    def table(self) -> str:
        rows = [("BC", self.bc), (f"RL (best, iteration {self.best_iteration})", self.rl)]
        width = max(len(name) for name, _ in rows)
        lines = [f"{'policy':<{width}}  success  95 % CI        episodes", "-" * (width + 40)]
        for name, res in rows:
            lo, hi = res.ci95
            lines.append(
                f"{name:<{width}}  {100 * res.success_rate:5.1f} %  {100 * lo:5.1f}-{100 * hi:5.1f} %  {len(res.episodes):>8}"
            )
        seeds = [e.seed for e in self.bc.episodes]
        lines.append(
            f"{self.bc.task} ({self.bc.robot}), ManiSkill seeds {seeds[0]}-{seeds[-1]}; RL checkpoint selected on these "
            f"seeds; {self.wm_steps} world-model chunk steps{self._speed(' at {:.1f}/s')}"
        )
        return "\n".join(lines)

    def _speed(self, template: str, none: str = " (no rollout in this process)") -> str:
        """The rollouts' speed, or why there is none: a run resumed after its last iteration only wrote its report."""
        return template.format(self.steps_per_second) if self.steps_per_second > 0 else none

    def time_split(self) -> str:
        """Where the job's time went, and a world-model step's split into its models (ms per vector-env step)."""
        t = {"world_model": 0.0, "policy": 0.0, "update": 0.0, "sim_eval": 0.0} | dict(self.timings)  # this process
        lines = [
            f"time: world model {t['world_model']:.1f} s, policy sampling {t['policy']:.1f} s, PPO update "
            f"{t['update']:.1f} s, ManiSkill evaluation {t['sim_eval']:.1f} s; "
            f"{self._speed('{:.1f} world-model chunk steps/s in the rollouts', 'no rollout in this process')}"
        ]
        if self.components:
            c = self.components
            parts = ", ".join(f"{name} {c[name]:.1f}" for name in ("condition", "flow", "rla_decoder", "unet"))
            lines.append(
                f"one world-model step ({c['batch']:.0f} envs, ms): {parts} (whole step {c['step']:.1f}); "
                f"encoder {c['encoder']:.1f} (resets and the ManiSkill preprocessing only)"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------------------------------- the job
def _load(config: WMRLConfig, device: torch.device) -> tuple[Path, Bundle, Path]:
    """(bundle folder, bundle, BC folder): the embedded default for (robot, task) unless the config names them."""
    source = config.bundle or default_bundle_path(config.robot, config.task)
    if source is None:
        raise FileNotFoundError(
            f"no embedded default bundle for {config.robot}/{config.task} yet; pass --bundle and --bc"
        )
    path = resolve_bundle_path(source)
    bundle = load_bundle(path, device=device, robot=config.robot)
    bc = Path(config.bc) if config.bc else default_bc_path(path)
    return path, bundle, bc


@dataclass
class _Run:
    """What the steps of one run share: the models, the agent being trained, where the loop stands, ManiSkill (rank
    0 only) and what has been timed and written so far."""

    config: WMRLConfig
    device: torch.device
    rank: int
    world: int  # ranks under torchrun; 1 otherwise
    bundle: Bundle
    bc: BCPolicy  # the policy as shipped: BC's evaluation
    agent: LoRAActorCritic  # a second copy of it with adapters and heads: what PPO trains
    model: torch.nn.Module  # the agent, DDP-wrapped under torchrun
    optimizers: tuple[torch.optim.Optimizer, ...]
    progress: RLProgress  # the best evaluation so far; on a resumed run, the checkpoint's
    start: int  # the last iteration done before this process started: 0, or the resumed checkpoint's
    sim_env: Any = None  # rank 0: the ManiSkill env every evaluation reuses
    timings: dict[str, float] = field(default_factory=lambda: {"rollout": 0.0, "update": 0.0, "sim_eval": 0.0})
    videos: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.stack: WorldModelStack = self.bundle.stack
        self.task: SimTask = get_task(self.config.task)
        # ManiSkill frames through the encoder and the UNet, as BC saw them in training
        self.preprocess: Preprocess = stack_preprocess(self.stack)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wm_steps(self, iteration: int) -> int:
        """World-model chunk transitions simulated (all ranks) by the end of `iteration`."""
        return iteration * self.config.ppo.num_envs * self.config.ppo.num_steps


def run_wmrl(config: WMRLConfig) -> WMRLResult:
    """Run the main job (see the module docstring); rank 0 writes into `config.out`. The steps, top to bottom:
    set up, score BC in ManiSkill, then per PPO iteration a rollout in the world model, an update and a row of the
    curve, every `eval_every` iterations a ManiSkill score and a checkpoint; last the table, curve and timings."""
    from tqdm.auto import tqdm

    run = _set_up(config)
    bc_result = _evaluate_bc(run)
    if run.start < config.ppo.iterations:  # else a stop came during the report stage: only that is left
        envs, collector = _world_model_envs(run)
        bar = tqdm(
            range(run.start + 1, config.ppo.iterations + 1),
            desc="world-model RL",
            unit="it",
            initial=run.start,
            total=config.ppo.iterations,
            disable=not (config.progress and run.main),
        )
        for iteration in bar:
            row = _rl_iteration(run, collector, iteration)
            if run.main:
                bar.set_postfix(ret=f"{row['episode_return']:.3f}", kl=f"{row['approx_kl']:.3f}")
            if iteration % config.eval_every == 0 or iteration == config.ppo.iterations:
                _evaluate_and_checkpoint(run, iteration)
        bar.close()
        envs.close()
        run.timings |= collector.timings
    report = _report(run, bc_result)
    return _finish(run, bc_result, report)


def _set_up(config: WMRLConfig) -> _Run:
    """Load the world model and BC, build the agent PPO trains, continue the latest checkpoint if `config.resume`,
    and on rank 0 open ManiSkill and drop the curve rows a resumed run writes again. A new run over another run's
    checkpoints is refused: their later checkpoints would outlive this run's, and a `--resume` would mix the two."""
    from rla_gym.sim.make import make_sim_env

    out = config.out
    if not config.resume and list_checkpoints(out):
        raise ValueError(f"{out} holds another run's checkpoints: resume it (--resume) or clear it (--overwrite)")
    device = resolve_device(config.device)
    rank, world = init_distributed(device)
    _, bundle, bc_path = _load(config, device)
    bundle.stack.eval()  # the world model is not trained here
    bc = BCPolicy.from_pretrained(bc_path, robot=config.robot, device=device)

    torch.manual_seed(config.ppo.seed)  # the adapters' and heads' first values, then PPO's sampling
    agent = LoRAActorCritic(BCPolicy.from_pretrained(bc_path, robot=config.robot, device=device), config.agent)
    agent = agent.to(device)
    model = wrap_ddp(agent)
    optimizers = make_optimizers(agent, config.ppo)
    saved = list_checkpoints(out) if config.resume else []
    progress = RLProgress()
    if saved:  # every rank reads the same files
        progress = load_checkpoint(saved[-1][1], agent, optimizers, device)
        log.info("resumed from %s (iteration %d)", saved[-1][1], progress.iteration)
    finished = progress.iteration >= config.ppo.iterations
    if finished and ((out / REPORT).is_file() or not config.report_episodes):
        raise ValueError(
            f"{out} already holds iteration {progress.iteration} of {config.ppo.iterations}; nothing to do"
        )
    if finished:
        log.info("%s: training is complete; finishing its report stage", out)
    run = _Run(config, device, rank, world, bundle, bc, agent, model, optimizers, progress, start=progress.iteration)

    if run.main:
        out.mkdir(parents=True, exist_ok=True)
        for name in ("curve.csv", "sim_eval.csv"):  # rows after the checkpoint are written again
            if run.start:
                trim_csv(out / name, run.start)
            else:
                (out / name).unlink(missing_ok=True)
        task = run.task
        limit = task.max_episode_steps if config.eval_max_steps is None else config.eval_max_steps
        run.sim_env = make_sim_env(
            config.robot, task.name, size=config.sim_size, max_episode_steps=max(limit, task.max_episode_steps)
        )
    return run


def _sim_eval(
    run: _Run, label: str, policy: SimPolicy, record: bool, seeds: tuple[int, ...] | None = None
) -> EvalResult:
    """Score `policy` in ManiSkill on the evaluation seeds (or `seeds`), seeing frames through the neural
    preprocessing; with `record`, a side-by-side video (ManiSkill | the world model on the same chunks) for each of
    the first `videos` seeds, so one can watch where the world model and the simulator part."""
    config, start = run.config, time.perf_counter()
    seeds = config.eval_seeds if seeds is None else seeds
    recorder = EpisodeRecorder(policy, run.preprocess, set(seeds[: config.videos]) if record else set())
    result = evaluate(
        recorder,
        config.robot,
        run.task.name,
        seeds=seeds,
        neural_preprocess=recorder.preprocess,
        max_steps=config.eval_max_steps,
        env=run.sim_env,
        progress=config.progress,
    )
    fps = float(run.sim_env.unwrapped.control_freq) / run.bc.config.n_action_steps  # one frame per chunk
    for seed, frames in recorder.frames.items():
        wm = world_model_replay(run.stack, frames[0], recorder.chunks[seed], config.euler_steps, seed)
        run.videos.append(write_side_by_side(config.out / "videos" / f"{label}_seed{seed}.mp4", frames, wm, fps))
    run.timings["sim_eval"] += time.perf_counter() - start
    return result


def _evaluate_bc(run: _Run) -> EvalResult | None:
    """BC's ManiSkill success on the evaluation seeds, the number RL must beat (rank 0; None on the others). A resumed
    run reads it from bc_eval.json: the same policy on the same seeds would only give the same number again."""
    if not run.main:
        return None
    out = run.config.out
    if run.start and (out / BC_EVAL).is_file():
        result = load_eval(out / BC_EVAL)
        run.videos.extend(sorted((out / "videos").glob("bc_seed*.mp4")))
    else:
        result = _sim_eval(run, "bc", SimPolicy(run.bc.act, run.config.robot, run.device), record=True)
        save_eval(out / BC_EVAL, result)
    log.info("BC: %s", result.summary())
    return result


def _world_model_envs(run: _Run) -> tuple[Any, RolloutCollector]:
    """This rank's share of the `RLAWorldModel-v0` worlds PPO trains in, and the collector that steps them with the
    agent's sampled chunks. A resumed run starts fresh world-model episodes from another reset seed: the envs' state
    is not in the checkpoint, and the same seed would replay the episodes already trained on."""
    import gymnasium as gym

    import rla_gym  # noqa: F401  (registers the env)

    config = run.config
    local = config.ppo.local_num_envs(run.world)
    envs = gym.make_vec(
        "RLAWorldModel-v0",
        num_envs=local,
        vectorization_mode="vector_entry_point",
        robot=config.robot,
        task=run.task.name,
        bundle=run.bundle,
        device=run.device,
        global_env_offset=run.rank * local,
        chunk_size=run.bc.config.n_action_steps,
        euler_steps=config.euler_steps,
        reward_scale=config.ppo.reward_scale,
        reward_mode=run.task.wm_reward,
        reward_draws=config.reward_draws,
        uncertainty=config.uncertainty,
        uncertainty_penalty=config.uncertainty_penalty,
    )
    env_seed = config.ppo.seed + 1_000_003 * run.start
    return envs, RolloutCollector(envs, run.agent, config.ppo.num_steps, config.ppo.gamma, seed=env_seed)


def _rl_iteration(run: _Run, collector: RolloutCollector, iteration: int) -> dict[str, float]:
    """One PPO iteration: a rollout in the world model (no simulator step), an update, and its row of curve.csv
    (rank 0): return and success inside the world model beside PPO's statistics."""
    start = time.perf_counter()
    rollout = collector.collect()
    run.timings["rollout"] += time.perf_counter() - start
    start = time.perf_counter()
    stats = ppo_update(run.model, run.agent, run.optimizers, rollout, run.config.ppo, iteration)
    run.timings["update"] += time.perf_counter() - start
    row = {
        "iteration": iteration,
        "wm_steps": run.wm_steps(iteration),
        "episode_return": float(np.mean(rollout.episode_returns)) if rollout.episode_returns else float("nan"),
        "wm_success": float(np.mean(rollout.episode_success)) if rollout.episode_success else float("nan"),
        **stats,
    }
    if run.main:
        append_csv(run.config.out / "curve.csv", row)
    return row


def _evaluate_and_checkpoint(run: _Run, iteration: int) -> None:
    """Score the deterministic agent in ManiSkill (rank 0; a video on the last iteration), keep it as `best/` if it beats
    the best so far (the paper selects its RL* policy so), and checkpoint it for `--resume`. The other ranks wait: none
    starts the next rollout with weights rank 0 has not checkpointed."""
    if run.main:
        config, out, agent = run.config, run.config.out, run.agent
        agent.eval()
        result = _sim_eval(run, f"rl_it{iteration}", agent.sim_policy(), record=iteration == config.ppo.iterations)
        wm = _world_model_score(run, agent)
        agent.train()
        append_csv(
            out / "sim_eval.csv",
            {
                "iteration": iteration,
                "wm_steps": run.wm_steps(iteration),
                "success": result.success_rate,
                "wm_success": wm["success_rate"],
                "wm_return": wm["mean_return"],
            },
        )
        log.info("RL iteration %d: %s", iteration, result.summary())
        run.progress.iteration = iteration
        improved = run.progress.improves(iteration, result)
        save_checkpoint(out, agent, run.optimizers, run.progress, improved)
    if run.world > 1:
        torch.distributed.barrier()


def _world_model_score(run: _Run, agent: LoRAActorCritic) -> dict[str, float]:
    """The deterministic agent's success and return inside the world model alone, on the same fixed world-model
    episodes at every checkpoint (NaN when `wm_select_worlds` is 0): the simulator-free selection's score."""
    from rla_gym.eval.policies import Policy
    from rla_gym.eval.ranking import world_model_scores

    if not run.config.wm_select_worlds:
        return {"success_rate": float("nan"), "mean_return": float("nan")}
    policy = Policy(lambda frames: agent.act(frames, deterministic=True), agent.k, True)
    return world_model_scores(
        run.bundle,
        policy,
        seeds=[WORLD_MODEL_SELECTION_SEED],
        num_envs=run.config.wm_select_worlds,
        device=run.device,
        euler_steps=run.config.euler_steps,
    )


def _report(run: _Run, bc_result: EvalResult | None) -> str:
    """Rank 0: BC and the checkpoints chosen on the ManiSkill seeds and by the world model, scored on the report
    seeds (none of them chose anything), each RL policy against BC seed by seed; written to report.json. BC's report
    evaluation is kept for a resumed run."""
    from rla_gym.eval.records import eval_to_dict

    config, out = run.config, run.config.out
    if not run.main or not config.report_episodes:
        return ""
    seeds = protocol.report_seeds(config.report_episodes)
    if (out / BC_REPORT).is_file() and [e.seed for e in load_eval(out / BC_REPORT).episodes] == list(seeds):
        bc = load_eval(out / BC_REPORT)
    else:
        bc = _sim_eval(run, "bc_report", SimPolicy(run.bc.act, config.robot, run.device), False, seeds)
        save_eval(out / BC_REPORT, bc)
    chosen = {"RL chosen on the ManiSkill seeds": run.progress.best_iteration}
    by_wm = protocol.select_by_world_model(read_csv(out / "sim_eval.csv"))
    if by_wm is not None:
        chosen["RL chosen by the world model"] = by_wm
    scored: dict[int, EvalResult] = {}
    for it in sorted(set(chosen.values())):
        agent = LoRAActorCritic.from_pretrained(checkpoint_dir(out, it), robot=config.robot, device=run.device)
        scored[it] = _sim_eval(run, f"rl_it{it}_report", agent.sim_policy(), False, seeds)
    comparisons = protocol.compare_with_bc(bc, {name: (it, scored[it]) for name, it in chosen.items()}, seeds)
    table = protocol.report_table(bc, comparisons, seeds)
    record = {
        "rl_seed": config.ppo.seed,
        "seeds": [seeds[0], seeds[-1]],
        "bc": eval_to_dict(bc),
        "rl": [
            {"name": c.name, "iteration": c.iteration, "eval": eval_to_dict(c.result), "p_value": c.paired.p_value,
             "rl_only": c.paired.a_better, "bc_only": c.paired.b_better}
            for c in comparisons
        ],
    }  # fmt: skip
    (out / REPORT).write_text(json.dumps(record, indent=1) + "\n")
    log.info("report:\n%s", table)
    return table


def _finish(run: _Run, bc_result: EvalResult | None, report: str = "") -> WMRLResult:
    """The BC-vs-RL table, where the time went, the learning curve and results.txt (rank 0). One world-model step is
    timed again, split into its models, after training, so that timing it does not slow the rollouts."""
    config, out = run.config, run.config.out
    components = {}
    if run.main:
        from rla_gym.models.profile import component_times

        local = config.ppo.local_num_envs(run.world)
        components = component_times(run.stack, batch=local, euler_steps=config.euler_steps, repeats=3)
        components["batch"] = float(local)
    run_steps = run.wm_steps(config.ppo.iterations) - run.wm_steps(run.start)  # timed in this process
    result = WMRLResult(
        bc=bc_result,
        rl=run.progress.rl_result,
        best_iteration=run.progress.best_iteration,
        wm_steps=run.wm_steps(config.ppo.iterations),
        steps_per_second=run_steps / max(run.timings["rollout"], 1e-9),
        timings=run.timings,
        videos=run.videos,
        curve=plot_curve(out, bc_result.success_rate) if run.main else None,
        out=out,
        components=components,
        report=report,
    )
    if run.main:
        run.sim_env.close()
        text = result.table() + "\n" + (report + "\n" if report else "") + result.time_split() + "\n"
        (out / "results.txt").write_text(text)
    return result


def plot_curve(out: Path, bc_success: float) -> Path:
    """learning_curve.png: world-model episode return, and success in ManiSkill (BC as a line) and inside the world
    model (its calibrated threshold) vs world-model steps: where the two successes part, RL exploits the model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curve, sim = read_csv(out / "curve.csv"), read_csv(out / "sim_eval.csv")
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6))
    left.plot([r["wm_steps"] for r in curve], [r["episode_return"] for r in curve], marker=".")
    left.set(title="return in the world model", xlabel="world-model chunk steps", ylabel="episode return")
    right.plot([r["wm_steps"] for r in sim], [100 * r["success"] for r in sim], marker="o", label="RL in ManiSkill")
    right.axhline(100 * bc_success, color="gray", linestyle="--", label="BC in ManiSkill")
    if curve:  # success inside the world model (the bundle's threshold), smoothed: episodes per iteration are few
        window = min(10, len(curve))
        wm = np.convolve([100 * r["wm_success"] for r in curve], np.ones(window) / window, mode="valid")
        steps = [r["wm_steps"] for r in curve][window - 1 :]
        right.plot(steps, wm, color="tab:orange", label=f"RL in the world model ({window}-iteration mean)")
    right.set(title="success", xlabel="world-model chunk steps", ylabel="success %", ylim=(-5, 105))
    right.legend()
    fig.tight_layout()
    path = out / "learning_curve.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
