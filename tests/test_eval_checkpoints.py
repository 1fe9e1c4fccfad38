"""The main job's run folder: evaluation records round-trip through JSON, and a checkpoint gives `--resume` back the
agent, its optimisers, the torch generator and the best evaluation; one cut short is skipped."""

from __future__ import annotations

import torch
from agents_support import one_thread, random_frames, tiny_bc

from rla_gym.agents.lora import LoRAActorCritic, LoRAAgentConfig
from rla_gym.agents.ppo import PPOConfig, make_optimizers
from rla_gym.eval.checkpoints import RLProgress, checkpoint_dir, list_checkpoints, load_checkpoint, save_checkpoint
from rla_gym.eval.records import load_eval, save_eval
from rla_gym.sim.evaluate import EvalResult, SeedResult

__all__ = ["one_thread"]  # the autouse fixture, imported

CONFIG = LoRAAgentConfig(residual_hidden=(16,), value_hidden=(16,))


def _result(*successes: bool) -> EvalResult:
    return EvalResult("ur10e", "RollBall", [SeedResult(42 + i, s, 10 + i, 0.5 * i) for i, s in enumerate(successes)])


def _trained(seed: int) -> tuple[LoRAActorCritic, tuple[torch.optim.Optimizer, ...]]:
    """A tiny agent after one optimiser step (so adapters and the optimisers' moments are not their initial values)."""
    torch.manual_seed(seed)
    agent = LoRAActorCritic(tiny_bc(), CONFIG)
    optimizers = make_optimizers(agent, PPOConfig())
    logprob, entropy, value = agent(random_frames(seed=seed), torch.randn(3, 8, 5) * 0.1)
    (-(logprob.mean()) + value.pow(2).mean()).backward()
    for o in optimizers:
        o.step()
    return agent, optimizers


def test_eval_record_round_trips_without_the_video_path(tmp_path):
    result = _result(True, False, True)
    result.episodes[0] = SeedResult(42, True, 10, 0.0, video=tmp_path / "seed42.mp4")
    save_eval(tmp_path / "bc_eval.json", result)
    back = load_eval(tmp_path / "bc_eval.json")
    assert back.episodes == [SeedResult(42, True, 10, 0.0), *result.episodes[1:]]
    assert (back.robot, back.task, back.success_rate) == ("ur10e", "RollBall", result.success_rate)


def test_checkpoint_restores_agent_optimisers_generator_and_best(tmp_path):
    agent, optimizers = _trained(seed=1)
    progress = RLProgress(iteration=3)
    assert progress.improves(3, _result(True, False)) and not progress.improves(3, _result(False, True)), "ties keep"
    save_checkpoint(tmp_path, agent, optimizers, progress, improved=True)
    expected = torch.rand(4)  # what the run draws next

    fresh, fresh_optimizers = _trained(seed=2)
    back = load_checkpoint(checkpoint_dir(tmp_path, 3), fresh, fresh_optimizers, torch.device("cpu"))
    assert torch.equal(torch.rand(4), expected), "the generator continues where the checkpoint left it"
    assert (back.iteration, back.best, back.best_iteration) == (3, 0.5, 3)
    assert back.rl_result.episodes == _result(True, False).episodes
    state, loaded = agent.state_dict(), fresh.state_dict()
    assert all(torch.equal(state[k], loaded[k]) for k in state)
    for saved, restored in zip(optimizers, fresh_optimizers):
        for p_saved, p_restored in zip(saved.state.values(), restored.state.values()):
            assert torch.equal(p_saved["exp_avg"], p_restored["exp_avg"])
    assert (tmp_path / "best" / "adapter_model.safetensors").is_file() and (tmp_path / "last" / "agent.json").is_file()


def test_list_checkpoints_skips_one_cut_short(tmp_path):
    agent, optimizers = _trained(seed=1)
    for iteration in (1, 2):
        save_checkpoint(tmp_path, agent, optimizers, RLProgress(iteration=iteration), improved=False)
    assert [i for i, _ in list_checkpoints(tmp_path)] == [1, 2]
    assert not (tmp_path / "best").exists(), "best/ only when the evaluation improved"
    (checkpoint_dir(tmp_path, 2) / "trainer_state.pt").unlink()  # killed while writing it (the format's name)
    assert list_checkpoints(tmp_path) == [(1, checkpoint_dir(tmp_path, 1))]
