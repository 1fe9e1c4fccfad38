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

Under `torchrun --nproc_per_node N` the RL loop is distributed (rla_gym.agents.ppo); rank 0 evaluates and writes.
The RL checkpoint is selected on the seeds it is reported on, as in the paper's Fig. 6; the table says so.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
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
from rla_gym.models.bundle import Bundle, load_bundle, resolve_bundle_path
from rla_gym.models.device import resolve_device
from rla_gym.models.stack import WorldModelStack
from rla_gym.models.zoo import default_bundle_path
from rla_gym.sim.evaluate import EvalResult, Preprocess, SeedResult, evaluate, stack_preprocess
from rla_gym.specs import check_pair, get_task
from rla_gym.specs.seeds import SELECTION_SEEDS
from rla_gym.train.loop import append_csv, read_csv, trim_csv

log = logging.getLogger(__name__)

PAPER_EVAL_SEEDS = tuple(SELECTION_SEEDS)  # 42-91
BC_SUFFIX = "-bc"  # the BC policy shipped beside a bundle folder: <bundle>-bc/


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
        if self.eval_max_steps is not None and self.eval_max_steps < 1:
            raise ValueError(f"eval_max_steps must be >= 1 (or None: the task's length); got {self.eval_max_steps}")
        self.out = Path(self.out)
        self.eval_seeds = tuple(int(s) for s in self.eval_seeds)


def wmrl_preset(name: str, **overrides: Any) -> WMRLConfig:
    """ "paper": 112 envs, 300 iterations, seeds 42-91; "demo": a run for a 2-core CPU; "tiny": tests (2 updates)."""
    if name == "paper":
        config = WMRLConfig()
    elif name == "demo":
        # the card's run (16 worlds, minibatch 32) cut to 50 iterations and 20 seeds: ~10 min on 2 CPU cores
        ppo = PPOConfig(num_envs=16, num_steps=4, iterations=50, minibatch_size=32)
        config = WMRLConfig(ppo=ppo, eval_every=25, eval_seeds=tuple(SELECTION_SEEDS[:20]), videos=2)
    elif name == "tiny":
        ppo = PPOConfig(num_envs=2, num_steps=2, iterations=2, minibatch_size=2, update_epochs=1)
        config = WMRLConfig(
            ppo=ppo, eval_every=2, eval_seeds=tuple(SELECTION_SEEDS[:2]), eval_max_steps=16, sim_size=64, videos=1
        )
    else:
        raise ValueError(f"unknown wmrl preset {name!r}; valid: paper, demo, tiny")
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


# ---------------------------------------------------------------------------------------------- checkpoints
CHECKPOINTS = "checkpoints"
TRAINER_STATE = "trainer_state.pt"
BC_EVAL = "bc_eval.json"


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


def _eval_to_dict(result: EvalResult) -> dict[str, Any]:
    episodes = [{k: v for k, v in asdict(e).items() if k != "video"} for e in result.episodes]
    return {"robot": result.robot, "task": result.task, "episodes": episodes}


def _eval_from_dict(data: dict[str, Any]) -> EvalResult:
    return EvalResult(data["robot"], data["task"], [SeedResult(**e) for e in data["episodes"]])


def save_eval(path: Path, result: EvalResult) -> None:
    """A ManiSkill evaluation as JSON (per-seed success, steps, return), for resuming and for reports."""
    path.write_text(json.dumps(_eval_to_dict(result), indent=1) + "\n")


def load_eval(path: Path) -> EvalResult:
    return _eval_from_dict(json.loads(Path(path).read_text()))


def _save_checkpoint(
    out: Path,
    iteration: int,
    agent: LoRAActorCritic,
    optimizers: tuple[torch.optim.Optimizer, ...],
    best: float,
    best_iteration: int,
    rl_result: EvalResult | None,
) -> Path:
    """The agent (peft format) and what `--resume` needs; the trainer state is written last, so a checkpoint
    cut short by a kill is ignored by `list_checkpoints`."""
    path = checkpoint_dir(out, iteration)
    agent.save_pretrained(path)
    state = {
        "iteration": iteration,
        "optimizers": [o.state_dict() for o in optimizers],
        "best": best,
        "best_iteration": best_iteration,
        "rl_result": _eval_to_dict(rl_result) if rl_result is not None else None,
        "torch_rng": torch.get_rng_state(),
    }
    tmp = path / (TRAINER_STATE + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path / TRAINER_STATE)
    return path


# ---------------------------------------------------------------------------------------------- recording
class EpisodeRecorder:
    """Wraps a sim policy and the preprocessing to keep, per evaluation seed, the raw sim frames and the chunks."""

    def __init__(self, policy: SimPolicy, preprocess: Preprocess, keep: set[int]) -> None:
        self.policy, self._preprocess, self.keep = policy, preprocess, keep
        self.seed: int | None = None
        self.frames: dict[int, list[np.ndarray]] = {}
        self.chunks: dict[int, list[np.ndarray]] = {}

    def reset(self, env: Any, seed: int) -> None:
        self.seed = seed
        if seed in self.keep:
            self.frames[seed], self.chunks[seed] = [], []

    def preprocess(self, frames: np.ndarray) -> np.ndarray:
        if self.seed in self.frames:
            self.frames[self.seed].append(frames[0].copy())
        return self._preprocess(frames)

    def __call__(self, rgb: np.ndarray, qpos: np.ndarray) -> np.ndarray:
        chunk = self.policy(rgb, qpos)
        if self.seed in self.chunks:
            self.chunks[self.seed].append(chunk.copy())
        return chunk


@torch.no_grad()
def world_model_replay(
    stack: WorldModelStack, first: np.ndarray, chunks: list[np.ndarray], euler_steps: int | None, seed: int
) -> np.ndarray:
    """The world model's frames for the sim's action chunks, open loop from the first sim frame:
    (1 + len(chunks), S, S, 3) uint8 at the stack's size (frame 0 = the first frame through encoder and UNet)."""
    from rla_gym.data.video import resize_frames

    gen = torch.Generator().manual_seed(seed)
    size = stack.image_size
    tokens = stack.encode(torch.from_numpy(resize_frames(first[None], size)))
    frames = [stack.render(tokens)]
    for chunk in chunks:
        noise = torch.randn(1, *stack.latent_shape, generator=gen).to(stack.device)
        targets = torch.as_tensor(chunk, dtype=torch.float32, device=stack.device)[None]
        tokens = stack.predict(tokens, targets, noise, euler_steps)
        frames.append(stack.render(tokens))
    return torch.cat(frames).cpu().numpy()


def write_side_by_side(path: Path, sim: list[np.ndarray], wm: np.ndarray, fps: float) -> Path:
    """sim frames (one per chunk) | world-model frames, both at the world model's size, as one mp4."""
    from rla_gym.data.video import resize_frames, write_video

    path.parent.mkdir(parents=True, exist_ok=True)
    n = min(len(sim), len(wm))
    left = resize_frames(np.stack(sim[:n]), wm.shape[1])
    write_video(path, np.concatenate([left, wm[:n]], axis=2), fps=fps)
    return path


# ---------------------------------------------------------------------------------------------- the job
@dataclass
class WMRLResult:
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
            f"seeds; {self.wm_steps} world-model chunk steps at {self.steps_per_second:.1f}/s"
        )
        return "\n".join(lines)

    def time_split(self) -> str:
        """Where the job's time went, and a world-model step's split into its models (ms per vector-env step)."""
        t = self.timings
        lines = [
            f"time: world model {t['world_model']:.1f} s, policy sampling {t['policy']:.1f} s, PPO update "
            f"{t['update']:.1f} s, ManiSkill evaluation {t['sim_eval']:.1f} s; "
            f"{self.steps_per_second:.1f} world-model chunk steps/s in the rollouts"
        ]
        if self.components:
            c = self.components
            parts = ", ".join(f"{name} {c[name]:.1f}" for name in ("condition", "flow", "rla_decoder", "unet"))
            lines.append(
                f"one world-model step ({c['batch']:.0f} envs, ms): {parts} (whole step {c['step']:.1f}); "
                f"encoder {c['encoder']:.1f} (resets and the ManiSkill preprocessing only)"
            )
        return "\n".join(lines)


def _load(config: WMRLConfig, device: torch.device) -> tuple[Path, Bundle, Path]:
    source = config.bundle or default_bundle_path(config.robot, config.task)
    if source is None:
        raise FileNotFoundError(
            f"no embedded default bundle for {config.robot}/{config.task} yet; pass --bundle and --bc"
        )
    path = resolve_bundle_path(source)
    bundle = load_bundle(path, device=device, robot=config.robot)
    bc = Path(config.bc) if config.bc else default_bc_path(path)
    return path, bundle, bc


def run_wmrl(config: WMRLConfig) -> WMRLResult:
    """Run the main job; see the module docstring. Writes into `config.out` (rank 0)."""
    import gymnasium as gym
    from tqdm.auto import tqdm

    import rla_gym  # noqa: F401  (registers the env)
    from rla_gym.sim.make import make_sim_env

    out = config.out
    if not config.resume and list_checkpoints(out):  # its later checkpoints would outlive a new run's
        raise ValueError(f"{out} holds another run's checkpoints: resume it (--resume) or clear it (--overwrite)")
    device = resolve_device(config.device)
    rank, world = init_distributed(device)
    main = rank == 0
    _, bundle, bc_path = _load(config, device)
    stack = bundle.stack.eval()
    bc = BCPolicy.from_pretrained(bc_path, robot=config.robot, device=device)
    task = get_task(config.task)
    timings = {"rollout": 0.0, "update": 0.0, "sim_eval": 0.0}

    sim_env = None
    policy_chunk = bc.config.n_action_steps
    preprocess = stack_preprocess(stack)
    keep = set(config.eval_seeds[: config.videos])
    videos: list[Path] = []

    def sim_eval(label: str, policy: SimPolicy, record: bool) -> EvalResult:
        start = time.perf_counter()
        recorder = EpisodeRecorder(policy, preprocess, keep if record else set())
        result = evaluate(
            recorder,
            config.robot,
            task.name,
            seeds=config.eval_seeds,
            neural_preprocess=recorder.preprocess,
            max_steps=config.eval_max_steps,
            env=sim_env,
            progress=config.progress,
        )
        for seed in recorder.frames:
            wm = world_model_replay(stack, recorder.frames[seed][0], recorder.chunks[seed], config.euler_steps, seed)
            fps = float(sim_env.unwrapped.control_freq) / policy_chunk
            videos.append(
                write_side_by_side(out / "videos" / f"{label}_seed{seed}.mp4", recorder.frames[seed], wm, fps)
            )
        timings["sim_eval"] += time.perf_counter() - start
        return result

    torch.manual_seed(config.ppo.seed)
    agent = LoRAActorCritic(BCPolicy.from_pretrained(bc_path, robot=config.robot, device=device), config.agent)
    agent = agent.to(device)
    model = wrap_ddp(agent)
    optimizers = make_optimizers(agent, config.ppo)
    start_iteration, best, best_iteration, rl_result = 0, -1.0, 0, None
    saved = list_checkpoints(out) if config.resume else []
    resume_from = saved[-1] if saved else None
    if resume_from is not None:  # every rank reads the same files
        start_iteration, path = resume_from
        state = torch.load(path / TRAINER_STATE, weights_only=False, map_location=device)
        agent.load_state_dict(LoRAActorCritic.from_pretrained(path, robot=config.robot, device=device).state_dict())
        for optimizer, saved in zip(optimizers, state["optimizers"]):
            optimizer.load_state_dict(saved)
        best, best_iteration = state["best"], state["best_iteration"]
        rl_result = _eval_from_dict(state["rl_result"]) if state["rl_result"] else None
        torch.set_rng_state(state["torch_rng"])
        log.info("resumed from %s (iteration %d)", path, start_iteration)
    if start_iteration >= config.ppo.iterations:
        raise ValueError(f"{out} already holds iteration {start_iteration} of {config.ppo.iterations}; nothing to do")

    bc_result = None
    if main:
        out.mkdir(parents=True, exist_ok=True)
        for name in ("curve.csv", "sim_eval.csv"):  # rows after the checkpoint are written again
            if start_iteration:
                trim_csv(out / name, start_iteration)
            else:
                (out / name).unlink(missing_ok=True)
        limit = task.max_episode_steps if config.eval_max_steps is None else config.eval_max_steps
        sim_env = make_sim_env(
            config.robot, task.name, size=config.sim_size, max_episode_steps=max(limit, task.max_episode_steps)
        )
        if resume_from is not None and (out / BC_EVAL).is_file():
            bc_result = load_eval(out / BC_EVAL)
            videos.extend(sorted((out / "videos").glob("bc_seed*.mp4")))
        else:
            bc_result = sim_eval("bc", SimPolicy(bc.act, config.robot, device), record=True)
            save_eval(out / BC_EVAL, bc_result)
        log.info("BC: %s", bc_result.summary())

    local = config.ppo.local_num_envs(world)
    envs = gym.make_vec(
        "RLAWorldModel-v0",
        num_envs=local,
        vectorization_mode="vector_entry_point",
        robot=config.robot,
        task=task.name,
        bundle=bundle,
        device=device,
        global_env_offset=rank * local,
        chunk_size=policy_chunk,
        euler_steps=config.euler_steps,
        reward_scale=config.ppo.reward_scale,
        reward_mode=task.wm_reward,
    )
    # a resumed run starts fresh world-model episodes from another reset seed (the envs' state is not saved)
    env_seed = config.ppo.seed + 1_000_003 * start_iteration
    collector = RolloutCollector(envs, agent, config.ppo.num_steps, config.ppo.gamma, seed=env_seed)
    per_iteration = config.ppo.num_envs * config.ppo.num_steps
    bar = tqdm(
        range(start_iteration + 1, config.ppo.iterations + 1),
        desc="world-model RL",
        unit="it",
        initial=start_iteration,
        total=config.ppo.iterations,
        disable=not (config.progress and main),
    )
    for iteration in bar:
        start = time.perf_counter()
        rollout = collector.collect()
        timings["rollout"] += time.perf_counter() - start
        start = time.perf_counter()
        stats = ppo_update(model, agent, optimizers, rollout, config.ppo, iteration)
        timings["update"] += time.perf_counter() - start
        row = {
            "iteration": iteration,
            "wm_steps": iteration * per_iteration,
            "episode_return": float(np.mean(rollout.episode_returns)) if rollout.episode_returns else float("nan"),
            "wm_success": float(np.mean(rollout.episode_success)) if rollout.episode_success else float("nan"),
            **stats,
        }
        if main:
            append_csv(out / "curve.csv", row)
            bar.set_postfix(ret=f"{row['episode_return']:.3f}", kl=f"{stats['approx_kl']:.3f}")
        if iteration % config.eval_every == 0 or iteration == config.ppo.iterations:
            if main:
                agent.eval()
                result = sim_eval(f"rl_it{iteration}", agent.sim_policy(), record=iteration == config.ppo.iterations)
                agent.train()
                append_csv(
                    out / "sim_eval.csv",
                    {"iteration": iteration, "wm_steps": iteration * per_iteration, "success": result.success_rate},
                )
                log.info("RL iteration %d: %s", iteration, result.summary())
                if result.success_rate > best:
                    best, best_iteration, rl_result = result.success_rate, iteration, result
                    agent.save_pretrained(out / "best")
                agent.save_pretrained(out / "last")
                _save_checkpoint(out, iteration, agent, optimizers, best, best_iteration, rl_result)
            if world > 1:
                torch.distributed.barrier()
    bar.close()
    envs.close()
    timings |= collector.timings
    components = {}
    if main:
        from rla_gym.models.profile import component_times

        components = component_times(stack, batch=local, euler_steps=config.euler_steps, repeats=3)
        components["batch"] = float(local)
    wm_steps = config.ppo.iterations * per_iteration
    run_steps = (config.ppo.iterations - start_iteration) * per_iteration  # timed in this process
    result = WMRLResult(
        bc=bc_result,
        rl=rl_result,
        best_iteration=best_iteration,
        wm_steps=wm_steps,
        steps_per_second=run_steps / max(timings["rollout"], 1e-9),
        timings=timings,
        videos=videos,
        curve=plot_curve(out, bc_result.success_rate) if main else None,
        out=out,
        components=components,
    )
    if main:
        sim_env.close()
        (out / "results.txt").write_text(result.table() + "\n" + result.time_split() + "\n")
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
