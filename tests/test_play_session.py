"""The play session without a browser: both worlds move with one chunk and report the env's own numbers, starts,
episode ends, policies, videos, and the refusals the page shows (out-of-range targets, a second tab), each of which
changes nothing."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from agents_support import one_thread
from play_support import FakeSim, make_session, session, wm_only

from rla_gym.data.video import count_frames, resize_frames
from rla_gym.play.session import PlayError, TabLock, targets_from_qpos
from rla_gym.specs import PANDA, UR10E, XARM6_ROBOTIQ

__all__ = ["one_thread", "session", "wm_only"]  # the fixtures, imported


def snapshot(s) -> tuple:
    return (s.chunks, s.wm_frame.copy(), s.targets.copy(), s.env._tokens.clone(), len(s.sim.chunks) if s.sim else 0)


def assert_unchanged(before: tuple, s) -> None:
    after = snapshot(s)
    assert before[0] == after[0] and before[4] == after[4], "a refused request stepped a world"
    assert np.array_equal(before[1], after[1]) and np.array_equal(before[2], after[2])
    assert torch.equal(before[3], after[3]), "a refused request moved the world model's state"


# ---------------------------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda t: t.__setitem__(0, float(UR10E.action_high[0]) + 0.5), "joint 1: target 6.783 is outside its range"),
        (lambda t: t.__setitem__(2, float(UR10E.action_low[2]) - 1), "joint 3: target -4.142 is outside its range"),
        (lambda t: t.__setitem__(1, float("nan")), "joint 2: expected a finite number"),
        (lambda t: t.__setitem__(4, "1.0"), "joint 5: expected a finite number"),
        (lambda t: t.__setitem__(3, True), "joint 4: expected a finite number"),
        (lambda t: t.append(0.0), "expected 5 joint targets for ur10e; got 6 values"),
    ],
)
def test_an_out_of_range_or_malformed_target_is_refused_and_changes_nothing(session, change, words):
    session.step(session.targets.tolist())  # a chunk in, so that "nothing changed" has something to keep
    before = snapshot(session)
    targets = session.targets.tolist()
    change(targets)
    with pytest.raises(PlayError, match=words.replace("(", r"\(")):
        session.step(targets)
    assert_unchanged(before, session)


def test_targets_that_are_not_a_list_are_refused(session):
    for bad in (None, 3.0, "0,0,0,0,0", {"a": 1}):
        with pytest.raises(PlayError, match="expected 5 joint targets"):
            session.step(bad)


def test_a_second_tab_is_refused_until_it_takes_over_and_the_first_is_told():
    now = [0.0]
    lock = TabLock(timeout_s=20, clock=lambda: now[0])
    lock.claim("tab-first-0001")
    lock.claim("tab-first-0001")  # a reload of the same tab keeps it
    with pytest.raises(PlayError, match="open in another browser tab.*Take over"):
        lock.claim("tab-second-002")
    with pytest.raises(PlayError, match="does not hold the session"):
        lock.check("tab-second-002")
    lock.check("tab-first-0001")
    lock.claim("tab-second-002", take_over=True)
    lock.check("tab-second-002")
    with pytest.raises(PlayError, match="another browser tab took this session over"):
        lock.check("tab-first-0001")
    now[0] = 10.0
    with pytest.raises(PlayError, match="open in another browser tab"):
        lock.claim("tab-third-0003")  # the holder pinged 10 s ago: still there
    now[0] = 31.0
    lock.claim("tab-third-0003")  # the holder went quiet (a closed tab): free again
    lock.release("tab-third-0003")
    lock.claim("tab-fourth-004")
    for bad in (None, "", "short", 12345678):
        with pytest.raises(PlayError, match="must name its tab"):
            lock.claim(bad)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"kind": "demo", "demo": 99}, "start: demo 99 out of range: the demo set has 4 episodes"),
        ({"kind": "demo", "demo": 1, "frame": 24}, "start: frame 24 out of range: demo 1 has 24 frames"),
        ({"kind": "demo", "demo": -1}, "demo: expected an integer >= 0; got -1"),
        ({"kind": "demo", "frame": 1.5}, "frame: expected an integer >= 0; got 1.5"),
        ({"kind": "demo", "seed": "x"}, "seed: expected an integer >= 0; got 'x'"),
        ({"kind": "scene"}, "start: expected one of demo, seed; got 'scene'"),
    ],
)
def test_a_bad_start_is_refused_and_changes_nothing(session, options, words):
    session.step(session.targets.tolist())
    before = snapshot(session)
    with pytest.raises(PlayError, match=words.replace("(", r"\(")):
        session.start(**options)
    assert_unchanged(before, session)
    assert session.chunks == 1 and session.start_options["demo"] == 0


def test_a_scene_start_needs_the_simulator(wm_only):
    with pytest.raises(PlayError, match="a ManiSkill start needs the simulator.*no simulator in this test"):
        wm_only.start("seed", seed=3)


def test_a_finished_episode_refuses_steps_until_reset(session):
    """The tiny demos have 24 frames: from frame 0 the reference runs out in the third chunk."""
    for _ in range(3):
        session.step(session.targets.tolist())
    assert session.ended == "the reference demo ran out after 3 chunk(s)"
    before = snapshot(session)
    for call in (lambda: session.step(session.targets.tolist()), lambda: session.act("demo")):
        with pytest.raises(PlayError, match="the episode ended .*press Reset"):
            call()
    assert_unchanged(before, session)
    session.reset()
    assert session.ended is None and session.chunks == 0
    session.step(session.targets.tolist())


# ---------------------------------------------------------------------------------------------- both worlds
def test_a_key_press_moves_both_worlds_with_the_same_chunk_and_reports_the_envs_numbers(session, random_bundle_dir):
    """The session's reward, L1s and frame are those of a plain env stepped with the same chunk from the same start."""
    from rla_gym.envs.vector import RLAWorldModelVectorEnv

    wm0, sim0 = session.wm_frame.copy(), session.sim_frame.raw.copy()
    targets = session.targets.copy()
    targets[1] += 0.3
    outcome = session.step(targets.tolist())
    chunk = np.tile(targets, (session.k, 1))
    np.testing.assert_allclose(session.sim.chunks[-1], chunk)  # ManiSkill got the chunk the world model got
    assert not np.array_equal(session.wm_frame, wm0), "the predicted frame did not change"
    assert not np.array_equal(session.sim_frame.raw, sim0), "the simulator's frame did not change"
    assert set(outcome.ms) == {"world_model", "simulator", "total"} and outcome.ms["total"] > 0
    assert outcome.sim_reward == pytest.approx(-np.abs(targets).sum(), rel=1e-5)

    twin = RLAWorldModelVectorEnv(num_envs=1, bundle=random_bundle_dir, device="cpu", autoreset_mode="Disabled")
    twin.reset(seed=0, options={"demo": 0, "frame": 0})
    obs, reward, _, _, info = twin.step(torch.from_numpy(chunk)[None])
    assert outcome.reward == pytest.approx(float(reward[0]))
    assert outcome.reward_l1 == pytest.approx(float(info["reward_l1"][0]))
    assert outcome.goal_l1 == pytest.approx(float(info["goal_l1"][0]))
    np.testing.assert_array_equal(session.wm_frame, obs[0].numpy())
    assert session.reference == (0, 8) and outcome.uncertainty is None
    twin.close()

    again = session.step((targets + 0.2).tolist())
    assert again.reward != outcome.reward, "the reward did not change with a different chunk"


def test_a_demo_start_replays_the_demos_targets_in_the_simulator_up_to_its_frame(session):
    session.start("demo", demo=2, frame=5, seed=7)
    ref = session.env.reference
    first = int(ref.starts[2])
    assert session.sim.resets[-1] == (7, 5)
    np.testing.assert_allclose(session.targets, targets_from_qpos(UR10E, ref.qpos[first + 5].numpy()), atol=1e-6)
    assert session.reference == (2, 5) and session.chunks == 0


def test_a_scene_start_starts_the_world_model_from_the_simulators_frame(session):
    session.start("seed", demo=1, seed=3)
    stack = session.env.stack
    seen = session.sim_frame.seen
    tokens = stack.encode(torch.from_numpy(resize_frames(seen[None], stack.image_size)))
    torch.testing.assert_close(session.env._tokens, tokens)
    np.testing.assert_array_equal(session.wm_frame, stack.render(tokens)[0].numpy())
    assert session.sim.resets[-1] == (3, 0) and session.reference == (1, 0)
    np.testing.assert_allclose(session.targets, session.sim_frame.qpos[: UR10E.action_dim])
    session.act("demo")  # the reward reference is demo 1's next chunk
    assert session.reference == (1, 8)


def test_the_envs_uncertainty_is_shown_where_the_env_offers_it(random_bundle_dir, tmp_path):
    from rla_gym.envs.vector import RLAWorldModelVectorEnv

    with_it = make_session(random_bundle_dir, tmp_path, FakeSim(), uncertainty="draws")
    targets = with_it.targets.copy()
    targets[0] += 0.5
    outcome = with_it.step(targets.tolist())
    assert outcome.uncertainty is not None and outcome.uncertainty > 0
    assert with_it.summary()["last"]["uncertainty"] == outcome.uncertainty
    twin = RLAWorldModelVectorEnv(
        num_envs=1, bundle=random_bundle_dir, device="cpu", autoreset_mode="Disabled", uncertainty="draws"
    )
    twin.reset(seed=0, options={"demo": 0, "frame": 0})
    info = twin.step(torch.from_numpy(np.tile(targets, (with_it.k, 1)))[None])[4]
    assert outcome.uncertainty == pytest.approx(float(info["uncertainty"][0]))
    twin.close()
    with_it.close()


def test_world_model_only_steps_and_shows_the_demo_frame(wm_only):
    outcome = wm_only.step(wm_only.targets.tolist())
    assert wm_only.sim_frame is None and outcome.sim_reward is None and "simulator" not in outcome.ms
    assert wm_only.summary()["simulator"] is None and wm_only.summary()["simulator_note"] == "no simulator in this test"
    np.testing.assert_array_equal(wm_only._video[-1][0], wm_only.demo_frame())


def test_targets_from_qpos_inverts_the_commanded_joints():
    for spec in (UR10E, PANDA, XARM6_ROBOTIQ):
        targets = torch.tensor(spec.action_high) * 0.3
        full = spec.to_full_qpos(targets)
        np.testing.assert_allclose(targets_from_qpos(spec, full.numpy()), targets.numpy(), rtol=1e-6)


# ---------------------------------------------------------------------------------------------- policies, video
def test_policies_load_and_act_and_bad_folders_answer_with_a_message(session, tmp_path):
    from agents_support import tiny_bc

    from rla_gym.agents.bc import BCPolicy
    from rla_gym.agents.normalization import ActionNormalizer
    from rla_gym.agents.resnet import policy_config

    with pytest.raises(PlayError, match="no RL checkpoint: enter its folder first"):
        session.act("rl")
    with pytest.raises(PlayError, match="no BC policy beside this bundle"):
        session.act("bc")
    with pytest.raises(PlayError, match="RL checkpoint: no folder at /nonexistent"):
        session.load_policy("rl", "/nonexistent/run")
    with pytest.raises(PlayError, match="cannot load the RL checkpoint at .*agent.json missing"):
        session.load_policy("rl", str(tmp_path))
    a = PANDA.action_dim
    panda = BCPolicy("panda", policy_config("tiny", a), ActionNormalizer(torch.zeros(a), torch.ones(a)))
    panda.save_pretrained(tmp_path / "panda-bc")
    with pytest.raises(PlayError, match="cannot load the BC policy .* is for robot 'panda'; expected 'ur10e'"):
        session.load_policy("bc", str(tmp_path / "panda-bc"))
    with pytest.raises(PlayError, match="act: expected one of demo, bc, rl; got 'dance'"):
        session.act("dance")

    tiny_bc(0).save_pretrained(tmp_path / "bc")
    session.load_policy("bc", str(tmp_path / "bc"))
    outcome = session.act("bc")
    assert outcome.source == "bc" and "policy" in outcome.ms
    assert session.sim.chunks[-1].shape == (session.k, UR10E.action_dim)


def test_save_video_writes_the_simulator_beside_the_world_model(session):
    with pytest.raises(PlayError, match="nothing to save yet"):
        session.save_video()
    session.step(session.targets.tolist())
    session.act("demo")
    path = session.save_video()
    assert path.parent == session.out and path.suffix == ".mp4"
    assert count_frames(path) == 3  # the start and two chunks
    import imageio.v2 as iio

    frame = iio.get_reader(str(path)).get_data(0)
    assert frame.shape[1] == 2 * frame.shape[0], "sim | world model, side by side"
    assert session.summary()["videos"] == [path.name]
