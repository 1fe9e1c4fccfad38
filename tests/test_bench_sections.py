"""The side-by-side benchmark's sections on a tiny random bundle and tiny synthetic data: the time split of a step,
speed ratios from measurements of the same run, open-loop fidelity per chunk step, policy ranking and its rank
correlation. The ManiSkill halves run under the `sim` mark."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from agents_support import one_thread, tiny_bc
from policies_support import policies

from benchmarks import policy_ranking as pr
from benchmarks import sim_fidelity as sf
from benchmarks import speed
from rla_gym.eval import sim_fidelity as esf
from rla_gym.eval.policies import find_policies, load_policy
from rla_gym.eval.ranking import rate, spearman, world_model_scores
from rla_gym.eval.speed import run_speed

__all__ = ["one_thread", "policies"]  # the fixtures, imported

pytestmark = [
    pytest.mark.filterwarnings("ignore::DeprecationWarning:mani_skill"),
    pytest.mark.filterwarnings("ignore:.*precision lowered by casting:UserWarning"),
]


@pytest.fixture(scope="module")
def bundle():
    from rla_gym.models.random_bundle import make_random_bundle

    return make_random_bundle("ur10e", "tiny", episodes=3, length=24, seed=0, task="RollBall")


@pytest.fixture(scope="module")
def regression(bundle):
    from rla_gym.models.regression import RegressionConfig, RegressionWorldModel

    torch.manual_seed(0)
    model = RegressionWorldModel(RegressionConfig.matching(bundle.stack.config))
    torch.nn.init.normal_(model.out_proj.weight, std=0.05)  # not the zero-init identity: it must move
    return model.eval()


@pytest.fixture(scope="module")
def windows(bundle):
    """Two windows of 3 chunks of 8 synthetic frames/targets at the stack's size (standing in for sim frames)."""
    from rla_gym.data import synthetic_episode

    size = bundle.stack.image_size
    episodes = [synthetic_episode(25, size, robot="ur10e", task="RollBall-v1", seed=s) for s in (1, 2)]
    frames = torch.stack([torch.from_numpy(e.frames[0:25:8].copy()) for e in episodes])
    chunks = torch.stack([torch.from_numpy(e.target_qpos[:24]).view(3, 8, -1) for e in episodes])
    check = {"episodes": 2, "pixel_mae": 2.5, "success_agreement": 1.0, "seed_base": 100}
    return esf.Windows(frames, chunks, ["a@0", "b@0"], check)


# ---------------------------------------------------------------------------------------------- profile
def test_component_times_reports_each_part_and_follows_euler_steps(bundle):
    from rla_gym.models.profile import COMPONENT_NAMES, component_times

    one = component_times(bundle.stack, batch=2, euler_steps=1, repeats=2)
    many = component_times(bundle.stack, batch=2, euler_steps=40, repeats=2)
    assert set(one) == {*COMPONENT_NAMES, "step"}
    assert all(v > 0 and math.isfinite(v) for v in one.values())
    assert many["flow"] > 3 * one["flow"], "40 Euler steps must cost more than one"
    with pytest.raises(ValueError, match="chunk must lie in 1..15"):
        component_times(bundle.stack, chunk=16)


# ---------------------------------------------------------------------------------------------- speed
class FakeSim:
    """ManiSkill's side, recorded: which sizes were asked for (the real one runs under the sim mark)."""

    def __init__(self, fps: float = 50.0) -> None:
        self.fps, self.calls = fps, []

    def __call__(self, robot, task, num_envs, steps, size):
        self.calls.append((robot, task, num_envs, steps, size))
        return self.fps


def test_speed_ratio_is_the_quotient_of_both_sides_measured_in_the_run(bundle, tmp_path):
    fake = FakeSim()
    result = run_speed(
        bundle, "RollBall", (1, 2), (1,), wm_steps=2, sim_steps=3, euler=(3, 1), sweep_envs=2, profile_repeats=1,
        measure_sim=fake,
    )  # fmt: skip
    assert fake.calls == [("ur10e", "RollBall", 1, 3, bundle.stack.image_size)], "ManiSkill at the same size"
    first, second = result["rows"]
    assert first["wm"]["sim_step_equivalents_per_s"] > 0 and first["maniskill_steps_per_s"] == 50.0
    assert first["ratio"] == pytest.approx(first["wm"]["sim_step_equivalents_per_s"] / 50.0)
    assert "ratio" not in second and "not measured" in second["maniskill_error"], "no ratio without both sides"
    assert result["target"]["met"] is None and "num_envs 8 not run" in result["target"]["why"]
    assert set(result["euler_sweep"]) == {3, 1} and result["profile"]["ms"]["step"] > 0
    text = speed.table(result)
    assert "| 1 |" in text and "not measured" in text and "Time split" in text
    sweep = {3: {"horizon": 16, "token_l1": 0.5, "ssim": 0.2}}
    assert "| 3 |" in speed.euler_table(result, sweep, "demos") and "not measured" in speed.euler_table(result, None)
    for plot in (speed.plot_throughput, speed.plot_components):
        assert plot(result, tmp_path / f"{plot.__name__}.png").stat().st_size > 1000
    assert speed.plot_euler(result, sweep, tmp_path / "euler.png").stat().st_size > 1000


def test_speed_records_a_maniskill_failure_instead_of_a_number(bundle):
    def broken(*args):
        raise RuntimeError("no Vulkan")

    result = run_speed(
        bundle, "RollBall", (1,), (1,), wm_steps=1, sim_steps=1, euler=(), sweep_envs=1, profile_repeats=1,
        measure_sim=broken,
    )  # fmt: skip
    row = result["rows"][0]
    assert "ratio" not in row and row["maniskill_error"] == "RuntimeError: no Vulkan"


# ---------------------------------------------------------------------------------------------- fidelity
def test_fidelity_scores_every_predictor_per_chunk_step_and_writes_figures(bundle, regression, windows, tmp_path):
    results = esf.evaluate(bundle, {"held-out demos": windows}, regression, euler=(2, 1), batch=1)
    models = results["sources"]["held-out demos"]["models"]
    assert list(models) == ["RLA-WM (2 Euler)", "regression", "copy first frame"]
    assert [r["horizon"] for r in models["regression"]["horizons"]] == [8, 16, 24]
    stack = bundle.stack
    tokens = stack.encode(windows.frames.flatten(0, 1)).view(2, 4, stack.num_tokens, stack.token_dim)
    copy_l1 = (tokens[:, 1:] - tokens[:, :1]).abs().mean(dim=(0, 2, 3))  # copy-first: s_0 against s_k
    assert [r["token_l1"] for r in models["copy first frame"]["horizons"]] == pytest.approx(copy_l1.tolist())
    last = {m: v["horizons"][-1]["token_l1"] for m, v in models.items()}
    assert len({round(v, 6) for v in last.values()}) == 3, "three different predictors, three errors"
    assert all(0 < r["ssim"] <= 1 for m in models.values() for r in m["horizons"])
    assert set(results["euler_sweep"]) == {2, 1} and results["euler_source"] == "held-out demos"
    assert results["euler_sweep"][2] == models["RLA-WM (2 Euler)"]["horizons"][-1], "the same seeded noise"
    written = sf.write_outputs(bundle, results, tmp_path, "RollBall")
    assert "_previews" not in written
    assert all((tmp_path / name).stat().st_size > 1000 for name in written["figures"])
    text = sf.table(written)
    assert "| regression |" in text and "token L1 t+24" in text and "Replay check (2 episodes" in text


def test_windows_reject_frames_that_do_not_fit_the_chunks(windows):
    with pytest.raises(ValueError, match="disagree"):
        esf.Windows(windows.frames[:, :3], windows.chunks)


# ---------------------------------------------------------------------------------------------- policies
def test_policy_table_and_plot_from_measured_world_model_scores(bundle, policies, tmp_path):
    entries, _ = find_policies(policies / "bc", None)
    rows = []
    for entry, successes in zip(entries, (3, 0)):  # ManiSkill's side made up here: the template is under test
        wm = world_model_scores(bundle, load_policy(entry, bundle, torch.device("cpu")), [0], num_envs=2)
        rows.append(
            {"name": entry.name, "kind": entry.kind, "wm": wm, "sim": {"mean_return": 0.0, **rate(successes, 4)}}
        )
    results = {
        "policies": rows,
        "spearman": {"wm_return": spearman([1.0, 2.0], [1.0, 0.0]), "wm_success": spearman([1.0], [1.0])},
        "sim_seeds": [42, 43, 44, 45],
        "sim_max_steps": 80,
        "wm_seeds": [0],
        "wm_num_envs": 2,
    }
    text = pr.table(results)
    assert "| BC | 75 % (3/4) |" in text and "| random | 0 % (0/4) |" in text and "not defined" in text
    assert pr.plot(results, tmp_path / "ranking.png").stat().st_size > 1000


# ---------------------------------------------------------------------------------------------- ManiSkill halves
@pytest.fixture(scope="module")
def heldout(tmp_path_factory):
    """Two short synthetic RollBall episodes in the collection layout (traj_000000, traj_000001)."""
    from rla_gym.data import synthetic_episode, write_episode

    root = tmp_path_factory.mktemp("heldout")
    for i in range(2):
        write_episode(root / "success", i, synthetic_episode(20, 32, robot="ur10e", task="RollBall-v1", seed=i))
    return root


@pytest.mark.sim
def test_maniskill_windows_replay_demos_and_run_policies(bundle, heldout, envs):
    from rla_gym.agents.bc import SimPolicy

    env = envs.get("RollBall")
    size = bundle.stack.image_size
    demos = esf.demo_windows(env, heldout, size, chunk=8, chunks=2, stride=4, seed_base=100)
    assert demos.frames.shape == (2 * 2, 3, size, size, 3) and demos.chunks.shape == (4, 2, 8, 5)
    assert demos.where == [
        "success/traj_000000@0",
        "success/traj_000000@4",
        "success/traj_000001@0",
        "success/traj_000001@4",
    ]
    assert demos.check["episodes"] == 2 and demos.check["pixel_mae"] > 10, "a synthetic video is no ManiSkill replay"
    raw, _, _ = esf.replay(env, 100, np.zeros((0, 5), np.float32))
    again, _, _ = esf.replay(env, 100, np.zeros((0, 5), np.float32))
    assert np.array_equal(raw, again), "the same seed, the same start frame"
    bc = tiny_bc(0)
    runs = esf.policy_windows(env, SimPolicy(bc.act, "ur10e", torch.device("cpu")), [42], size, chunks=2)
    assert runs.frames.shape == (1, 3, size, size, 3) and runs.chunks.shape == (1, 2, 8, 5)
    assert not torch.equal(runs.frames[0, 0], runs.frames[0, 2]), "the robot moved"


@pytest.mark.sim
def test_speed_measures_maniskill_in_the_same_run(bundle):
    from sim_support import require_sim

    require_sim()
    result = run_speed(bundle, "RollBall", (1,), (1,), wm_steps=2, sim_steps=5, euler=(), profile_repeats=1)
    row = result["rows"][0]
    assert row["maniskill_steps_per_s"] > 0 and row["wm"]["sim_step_equivalents_per_s"] > 0
    assert row["ratio"] == pytest.approx(row["wm"]["sim_step_equivalents_per_s"] / row["maniskill_steps_per_s"])


def test_replay_seed_comes_from_the_collections_metadata(tmp_path):
    import json

    from rla_gym.data.split_metadata import episode_seed

    recorded, older = tmp_path / "new" / "success", tmp_path / "old" / "success"
    (recorded / "traj_000003").mkdir(parents=True)
    (older / "traj_000003").mkdir(parents=True)
    (recorded / "metadata.json").write_text(json.dumps({"rla_gym": {"seed": 7}}))
    assert episode_seed(recorded / "traj_000003", seed_base=100000) == 10
    assert episode_seed(older / "traj_000003", seed_base=100000) == 100003, "data without the seed: the base"
