"""rla_gym.eval.speed: ManiSkill is measured once per size and only where asked, a ratio exists only where both sides
were measured, a failure is recorded instead of a number, and the target is judged only on a measured ratio."""

from __future__ import annotations

import pytest

from rla_gym.eval.speed import TARGET_ENVS, TARGET_RATIO, add_maniskill, target


def _rows(*sizes: int, rate: float = 800.0, precisions: int = 1) -> list[dict]:
    """World-model rows as `world_model_rows` makes them (one per precision and num_envs)."""
    return [
        {"num_envs": n, "wm": {"sim_step_equivalents_per_s": rate * n * (p + 1), "image_size": 64}}
        for p in range(precisions)
        for n in sizes
    ]


def test_maniskill_is_measured_once_per_size_at_the_world_models_image_size():
    calls = []

    def sim(robot, task, n, steps, size):
        calls.append((robot, task, n, steps, size))
        return 10.0 * n

    rows = add_maniskill(_rows(1, 8, precisions=2), "ur10e", "RollBall", 5, measure_sim=sim)
    assert calls == [("ur10e", "RollBall", 1, 5, 64), ("ur10e", "RollBall", 8, 5, 64)], "once per size, not per row"
    assert [r["ratio"] for r in rows] == pytest.approx([80.0, 80.0, 160.0, 160.0])
    assert [r["maniskill_steps_per_s"] for r in rows] == [10.0, 80.0, 10.0, 80.0]


def test_sizes_not_asked_for_and_failures_get_no_ratio_but_a_reason():
    def sim(robot, task, n, steps, size):
        raise RuntimeError("no Vulkan")

    rows = add_maniskill(
        _rows(1, 8), "ur10e", "RollBall", 5, sim_num_envs=(8,), skipped="--sim-num-envs", measure_sim=sim
    )
    assert rows[0]["maniskill_error"] == "not measured at 1 envs (--sim-num-envs)"
    assert rows[1]["maniskill_error"] == "RuntimeError: no Vulkan"
    assert not any("ratio" in r or "maniskill_steps_per_s" in r for r in rows)


def test_the_target_is_judged_only_on_a_measured_ratio():
    assert target(None) == {"met": None, "why": f"num_envs {TARGET_ENVS} not run"}
    assert target({"num_envs": TARGET_ENVS, "maniskill_error": "boom"}) == {"met": None, "why": "boom"}
    assert target({"num_envs": TARGET_ENVS, "ratio": TARGET_RATIO}) == {"ratio": TARGET_RATIO, "met": True}
    assert target({"num_envs": TARGET_ENVS, "ratio": TARGET_RATIO - 0.1})["met"] is False


def test_the_maniskill_baseline_runs_with_plain_resets(monkeypatch):
    """make_sim_env rebuilds the scene at every CPU reset (episodes independent of their order, ~0.2 s each); the
    speed baseline is ManiSkill as a user runs it, so the measurement asks for plain resets."""
    import rla_gym.sim.make as make
    from rla_gym.eval.speed import measure_sim_fps

    asked = {}

    def stand_in(robot, task, **kwargs):
        asked.update(kwargs)
        raise RuntimeError("stop here: only the arguments are checked")

    monkeypatch.setattr(make, "make_sim_env", stand_in)
    with pytest.raises(RuntimeError, match="stop here"):
        measure_sim_fps("ur10e", "RollBall", num_envs=1, steps=1, size=64)
    assert asked["reconfiguration_freq"] == 0
