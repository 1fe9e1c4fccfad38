"""The PPO-iteration benchmark on the tiny random bundle: it times a real rollout and a real update."""

from __future__ import annotations


def test_times_a_rollout_and_an_update_that_trains(random_bundle_dir):
    from benchmarks.ppo_iteration import measure_ppo
    from rla_gym.models.bundle import load_bundle

    r = measure_ppo(
        load_bundle(random_bundle_dir), "cpu", num_envs=2, num_steps=2, minibatch_size=2, update_epochs=1,
        iterations=1, policy_preset="tiny",
    )  # fmt: skip
    assert r["iterations_timed"] == 1 and r["num_envs"] == 2
    assert r["rollout_s"] > 0 and r["update_s"] > 0
    assert 0 < r["policy_s"] + r["world_model_s"] <= r["rollout_s"]
    assert r["chunk_steps_per_s"] == 2 * 2 / (r["rollout_s"] + r["update_s"])
    assert r["trainable_mean_abs_change"] > 0  # the update moved the adapters: not a timed no-op
