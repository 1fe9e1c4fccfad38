"""Trainers: each lowers its loss on tiny data; a run killed after a checkpoint resumes to the same weights; two
DDP ranks (gloo, CPU) end with identical weights; the command writes its logs, plot and export."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from rla_gym.train.build import TaskOptions, build_task
from rla_gym.train.loop import TrainConfig, latest_checkpoint, train

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    """Synthetic ur10e episodes (frames follow the joint targets) and a tiny random init bundle."""
    from rla_gym.data import synthetic_episode, write_episode
    from rla_gym.models.random_bundle import make_random_bundle

    root = tmp_path_factory.mktemp("train-data")
    for split, seeds in (("train", range(6)), ("heldout", range(100, 102))):
        for s in seeds:
            episode = synthetic_episode(30, 32, robot="ur10e", task="RollBall-v1", seed=s)
            write_episode(root / split / "success", s, episode)
    make_random_bundle("ur10e", "tiny").save_pretrained(root / "init")
    return root


def _options(root: Path, model: str, **kwargs) -> TaskOptions:
    return TaskOptions(
        model=model, init=str(root / "init"), data=root / "train", heldout=root / "heldout", progress=False, **kwargs
    )


def _losses(run: Path) -> list[float]:
    with (run / "loss.csv").open() as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def rla_run(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("rla-run")
    torch.manual_seed(0)
    train(
        build_task(_options(tiny_data, "rla")),
        TrainConfig(steps=150, batch_size=16, lr=1e-3, warmup_steps=10),
        out,
        progress=False,
    )
    return out


@pytest.mark.parametrize("model", ["unet", "rla", "regression", "wm"])
def test_each_trainer_lowers_its_loss(model, tiny_data, rla_run, tmp_path):
    if model == "rla":
        losses = _losses(rla_run)
    else:
        torch.manual_seed(0)
        task = build_task(_options(tiny_data, model, rla_run=rla_run if model == "wm" else None))
        config = TrainConfig(steps=150, batch_size=16, lr=1e-3, warmup_steps=10)
        train(task, config, tmp_path, progress=False)
        losses = _losses(tmp_path)
    first, last = np.mean(losses[:2]), np.mean(losses[-2:])
    assert last < 0.9 * first, f"{model}: loss {first:.4f} -> {last:.4f} did not fall by 10 %"


def test_decoder_only_rla_finetune_keeps_the_latent_space_and_lowers_the_loss(tiny_data, tmp_path):
    """`--decoder-only`: the encoder (hence every latent an RLA-WM was trained on) is bit-for-bit the init's; the
    decoder learns."""
    from rla_gym.models.bundle import load_bundle

    torch.manual_seed(0)
    task = build_task(_options(tiny_data, "rla", finetune=True, decoder_only=True))
    train(task, TrainConfig(steps=60, batch_size=16, lr=1e-3, warmup_steps=5), tmp_path, progress=False)
    init = load_bundle(tiny_data / "init").stack.rla
    for name, before in (("rla_encoder", init.encoder), ("rla_decoder", init.decoder)):
        after = load_file(tmp_path / "final" / f"{name}.safetensors")
        same = all(torch.equal(after[k], v) for k, v in before.state_dict().items())
        assert same == (name == "rla_encoder"), f"{name}: {'unchanged' if same else 'changed'}"
    losses = _losses(tmp_path)
    assert np.mean(losses[-2:]) < 0.9 * np.mean(losses[:2])
    with pytest.raises(ValueError, match="applies to rla with --finetune or --rla RUN; got rla without either"):
        _options(tiny_data, "rla", decoder_only=True)
    with pytest.raises(ValueError, match="got wm"):
        _options(tiny_data, "wm", finetune=True, decoder_only=True)


def test_decoder_only_continues_a_trained_rla_run_under_its_encoder(tiny_data, rla_run, tmp_path):
    """`--rla RUN` on rla: the run's autoencoder is the start (the build's decoder-only stage after the shared RLA)."""
    torch.manual_seed(0)
    task = build_task(_options(tiny_data, "rla", rla_run=rla_run, decoder_only=True))
    train(task, TrainConfig(steps=5, batch_size=8, lr=1e-3, warmup_steps=1), tmp_path, progress=False)
    encoder = load_file(rla_run / "final" / "rla_encoder.safetensors")
    after = load_file(tmp_path / "final" / "rla_encoder.safetensors")
    assert all(torch.equal(after[k], v) for k, v in encoder.items())
    assert not all(
        torch.equal(after[k], v) for k, v in load_file(tiny_data / "init" / "rla_encoder.safetensors").items()
    )


def test_training_writes_logs_plot_and_export(tiny_data, rla_run):
    assert (rla_run / "losses.png").stat().st_size > 1000
    with (rla_run / "eval.csv").open() as f:
        row = next(csv.DictReader(f))
    assert float(row["l1_h10"]) > 0 and float(row["copy_l1_h10"]) > 0
    weights = load_file(rla_run / "final" / "rla_decoder.safetensors")
    assert any(t.abs().sum() > 0 for k, t in weights.items() if k.startswith("out_layer")), "decoder output trained"


def test_rerun_into_a_used_folder_needs_resume(tiny_data, rla_run):
    with pytest.raises(FileExistsError, match="resume"):
        train(build_task(_options(tiny_data, "rla")), TrainConfig(steps=5), rla_run, progress=False)


def test_wm_needs_a_trained_rla_run(tiny_data, tmp_path):
    with pytest.raises(ValueError, match="--rla"):
        build_task(_options(tiny_data, "wm"))
    with pytest.raises(FileNotFoundError, match="final"):
        build_task(_options(tiny_data, "wm", rla_run=tmp_path))


_KILL_SCRIPT = """
import os, signal, sys, torch
from pathlib import Path
from rla_gym.train.build import TaskOptions, build_task
from rla_gym.train.loop import TrainConfig, train

root, out, kill_at, resume = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
torch.manual_seed(0)
opts = TaskOptions(model="regression", init=str(root / "init"), data=root / "train", progress=False)
config = TrainConfig(steps=20, batch_size=8, lr=1e-3, warmup_steps=5, checkpoint_every=10)

def maybe_kill(step, loss):
    if step == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)  # no clean-up, no final save: as a killed job

train(build_task(opts), config, out, resume=resume, progress=False, on_step=maybe_kill)
"""


def test_killed_and_resumed_run_ends_with_the_same_weights(tiny_data, tmp_path):
    script = tmp_path / "kill.py"
    script.write_text(textwrap.dedent(_KILL_SCRIPT))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run(out: Path, kill_at: int, resume: bool) -> int:
        cmd = [sys.executable, str(script), str(tiny_data), str(out), str(kill_at), "1" if resume else "0"]
        return subprocess.run(cmd, env=env, capture_output=True, timeout=300).returncode

    assert run(tmp_path / "straight", -1, False) == 0
    assert run(tmp_path / "killed", 15, False) == -9, "the run should die by SIGKILL at step 15"
    assert latest_checkpoint(tmp_path / "killed").name == "step_0000010"
    assert not (tmp_path / "killed" / "final").exists()
    assert run(tmp_path / "killed", -1, True) == 0
    a = load_file(tmp_path / "straight" / "final" / "regression.safetensors")
    b = load_file(tmp_path / "killed" / "final" / "regression.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), f"{key} differs after kill and resume"
    steps = [int(float(r)) for r in np.loadtxt(tmp_path / "killed" / "loss.csv", delimiter=",", skiprows=1)[:, 0]]
    assert steps == sorted(set(steps)), "each logged step appears once after the resume"


_DDP_SCRIPT = """
import sys, torch
from pathlib import Path
from accelerate import PartialState
from rla_gym.train.build import TaskOptions, build_task
from rla_gym.train.loop import TrainConfig, train

root, out = Path(sys.argv[1]), Path(sys.argv[2])
torch.manual_seed(0)
task = build_task(TaskOptions(model="rla", init=str(root / "init"), data=root / "train", progress=False))
torch.save({k: v.detach().clone() for k, v in task.module.state_dict().items()}, out / "before.pt")
train(task, TrainConfig(steps=2, batch_size=4, warmup_steps=0, cpu=True), out / "run", progress=False)
rank = PartialState().process_index
torch.save({k: v.detach().clone() for k, v in task.module.state_dict().items()}, out / f"rank{rank}.pt")
"""


def test_two_ddp_ranks_end_with_identical_weights(tiny_data, tmp_path):
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(_DDP_SCRIPT))
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--nproc_per_node", "2", "--master_port", "29517", str(script), str(tiny_data), str(tmp_path)]
    proc = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    w0, w1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    before = torch.load(tmp_path / "before.pt")
    assert any(not torch.equal(w0[k], v) for k, v in before.items()), "the steps changed the weights"
    for key in w0:
        assert torch.equal(w0[key], w1[key]), f"{key} differs between ranks"


def test_cli_train_reports_and_exports(tiny_data, tmp_path, capsys):
    from rla_gym.cli import main

    out = tmp_path / "unet"
    args = ["train", "unet", "--init", str(tiny_data / "init"), "--data", str(tiny_data / "train")]
    args += ["--heldout", str(tiny_data / "heldout"), "--out", str(out), "--steps", "4", "--batch-size", "4"]
    assert main([*args, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "held-out ssim" in printed and (out / "final" / "image_decoder.safetensors").is_file()
    assert main([*args, "--no-progress"]) == 2, "a used run folder without --resume is refused"
    assert "resume" in capsys.readouterr().err


def test_cli_trains_the_world_model_with_a_share_of_its_flow_samples_at_t1(tiny_data, rla_run, tmp_path, monkeypatch):
    from rla_gym.cli import main
    from rla_gym.models.rla_wm import RLAWorldModel

    shares = []
    terms = RLAWorldModel.flow_matching_terms
    monkeypatch.setattr(
        RLAWorldModel, "flow_matching_terms", lambda *a, **k: shares.append(k["t1_prob"]) or terms(*a, **k)
    )
    out = tmp_path / "wm"
    args = ["train", "wm", "--init", str(tiny_data / "init"), "--data", str(tiny_data / "train"), "--rla", str(rla_run)]
    args += ["--out", str(out), "--steps", "3", "--batch-size", "4", "--t1-prob", "0.5", "--no-progress"]
    assert main(args) == 0
    assert shares == [0.5] * 3 and (out / "final" / "world_model.safetensors").is_file()


def test_make_bundle_from_runs_assembles_a_bundle_that_drives_the_env(tiny_data, rla_run, tmp_path):
    import gymnasium as gym

    import rla_gym  # noqa: F401
    from rla_gym.cli import main
    from rla_gym.models.bundle import load_bundle
    from rla_gym.models.regression import load_regression

    runs = {}
    for model in ("unet", "wm", "regression"):
        runs[model] = tmp_path / model
        task = build_task(_options(tiny_data, model, rla_run=rla_run if model == "wm" else None))
        train(task, TrainConfig(steps=3, batch_size=4, warmup_steps=0), runs[model], progress=False)
    out = tmp_path / "bundle"
    args = ["make-bundle", "--from-runs", "--init", str(tiny_data / "init"), "--unet", str(runs["unet"])]
    args += ["--rla", str(rla_run), "--wm", str(runs["wm"]), "--regression", str(runs["regression"])]
    args += ["--demos", str(tiny_data / "train"), "--num-demos", "2", "--task", "RollBall", "--fp16", "--out", str(out)]
    assert main(args) == 0
    bundle = load_bundle(out, verify=True)
    assert not bundle.random and bundle.task == "RollBall" and bundle.demos.num_episodes == 2
    trained = load_file(rla_run / "final" / "rla_decoder.safetensors")
    for key, value in bundle.stack.rla.decoder.state_dict().items():
        assert torch.allclose(value, trained[key].float(), atol=1e-3), f"rla_decoder.{key} is not the trained one"
    assert load_regression(out).config.residual_output
    envs = gym.make_vec("RLAWorldModel-v0", num_envs=2, vectorization_mode="vector_entry_point", bundle=str(out))
    envs.reset(seed=0)
    low, high = envs.single_action_space.low, envs.single_action_space.high
    actions = torch.from_numpy(np.stack([low * 0.02, high * 0.02]).astype(np.float32))
    obs, reward, *_ = envs.step(actions)
    assert obs.shape[0] == 2 and torch.isfinite(torch.as_tensor(reward)).all()
    envs.close()

    # the same runs as a layered zoo: shared and dynamics parts beside the task folder, the same weights
    zoo = tmp_path / "zoo" / "ur10e-RollBall-tiny"
    layered = [*args[: args.index("--out")], "--out", str(zoo), "--layered", "shared-tiny", "ur10e-tiny"]
    assert main(layered) == 0
    parts = ["shared-tiny", "ur10e-RollBall-tiny", "ur10e-tiny", "ur10e-tiny-regression"]
    assert sorted(p.name for p in zoo.parent.iterdir()) == parts
    assert (zoo.parent / "ur10e-tiny-regression" / "regression.safetensors").is_file()
    parts = load_bundle(zoo, verify=True)
    for name, module in bundle.stack.components().items():
        other = parts.stack.components()[name].state_dict()
        assert all(torch.equal(v, other[k]) for k, v in module.state_dict().items()), name
    assert parts.regression is not None and parts.demos.num_episodes == 2


def test_an_autoencoder_trained_encoder_seeds_an_init_bundle(tiny_data, tmp_path, capsys):
    """Encoder candidate (b): a UNet run with --train-encoder changes the encoder; `make-bundle --random
    --encoder-run` puts it (from the run's end or from one of its checkpoints) into an init bundle."""
    from rla_gym.cli import main
    from rla_gym.models.bundle import load_bundle

    run = tmp_path / "aeenc"
    task = build_task(_options(tiny_data, "unet", train_encoder=True))
    train(task, TrainConfig(steps=4, batch_size=4, warmup_steps=0, lr=1e-3, checkpoint_every=2), run, progress=False)
    init = load_bundle(tiny_data / "init").stack.encoder.state_dict()
    final = load_file(run / "final" / "encoder.safetensors")
    assert any(not torch.equal(init[k], final[k]) for k in init), "--train-encoder left the encoder unchanged"
    step2 = run / "checkpoints" / "step_0000002"
    assert (step2 / "DONE").is_file() and latest_checkpoint(run).name == "step_0000004"
    for source, expected in ((run, final), (step2, None)):
        out = tmp_path / f"init-{source.name}"
        assert (
            main(["make-bundle", "--random", "--preset", "tiny", "--encoder-run", str(source), "--out", str(out)]) == 0
        )
        got = load_bundle(out).stack.encoder.state_dict()
        if expected is None:  # the checkpoint's encoder: trained (not the init one) and not the final one
            expected = {
                k[len("encoder.") :]: v
                for k, v in load_file(source / "model.safetensors").items()
                if k.startswith("encoder.")
            }
            assert any(not torch.equal(expected[k], final[k]) for k in final)
        assert all(torch.equal(got[k], expected[k].to(got[k].dtype)) for k in got)
    frozen = tmp_path / "frozen-unet"
    train(
        build_task(_options(tiny_data, "unet")),
        TrainConfig(steps=2, batch_size=4, warmup_steps=0),
        frozen,
        progress=False,
    )
    assert (
        main(
            [
                "make-bundle",
                "--random",
                "--preset",
                "tiny",
                "--encoder-run",
                str(frozen),
                "--out",
                str(tmp_path / "bad"),
            ]
        )
        == 2
    )
    assert "--train-encoder" in capsys.readouterr().err


def test_token_only_trainers_neither_keep_nor_decode_frames(tiny_data, monkeypatch):
    """RLA, RLA-WM, regression and BC see tokens only: with the tokens cached, their data loads without decoding
    a video and holds no frames, with the same tokens and targets as a full load; the UNet refuses such data."""
    from rla_gym.data.dataset import EpisodeDataset
    from rla_gym.models.bundle import load_bundle
    from rla_gym.train.data import load_training_data
    from rla_gym.train.unet import UNetTask

    stack = load_bundle(tiny_data / "init").stack
    full = load_training_data(tiny_data / "train", stack.encoder, stack.image_size, progress=False)  # caches tokens

    def no_video(self, index):
        raise AssertionError(f"episode {index}'s video was decoded")

    monkeypatch.setattr(EpisodeDataset, "__getitem__", no_video)
    lean = load_training_data(tiny_data / "train", stack.encoder, stack.image_size, progress=False, keep_frames=False)
    assert full.frames is not None and lean.frames is None
    assert all(torch.equal(a, b) for a, b in zip(full.tokens, lean.tokens))
    assert all(np.array_equal(a, b) for a, b in zip(full.targets, lean.targets))
    assert all(np.array_equal(a, b) for a, b in zip(full.interaction, lean.interaction))
    assert full.success == lean.success and lean.successes().frames is None
    for model in ("rla", "regression"):
        build_task(_options(tiny_data, model))  # would decode a video if it loaded frames
    with pytest.raises(ValueError, match="trains on frames"):
        UNetTask(stack.image_decoder, lean)


def test_shared_parts_learn_from_every_robot_and_the_dynamics_from_their_own(tiny_data, rla_run, tmp_path):
    """Issue 20: one UNet and RLA autoencoder for all robots; RLA-WM and the regression baseline read joints, so a
    data root with another robot's episodes is refused for them, naming the robot."""
    from rla_gym.data import synthetic_episode, write_episode

    mixed = tmp_path / "mixed"
    for s in range(3):
        write_episode(
            mixed / "ur10e" / "success", s, synthetic_episode(30, 32, robot="ur10e", task="RollBall-v1", seed=s)
        )
        panda = synthetic_episode(30, 32, robot="panda", task="PullCube-v2", seed=10 + s)
        write_episode(mixed / "panda" / "success", 10 + s, panda)

    def options(model: str, **kwargs) -> TaskOptions:
        return TaskOptions(model=model, init=str(tiny_data / "init"), data=mixed, progress=False, **kwargs)

    for model in ("unet", "rla"):
        out = tmp_path / model
        train(
            build_task(options(model)), TrainConfig(steps=3, batch_size=4, lr=1e-3, warmup_steps=1), out, progress=False
        )
        assert (out / "final").is_dir(), f"{model} trained on ur10e and panda episodes"
    for model in ("regression", "wm"):
        with pytest.raises(ValueError, match="holds panda episodes .*expected ur10e episodes"):
            build_task(options(model, rla_run=rla_run if model == "wm" else None))


def test_a_view_of_encoded_episodes_reuses_their_tokens(tiny_data, tmp_path, monkeypatch):
    """A second root of links to the same episodes (the zoo's per-robot views) takes the tokens of the first load
    instead of encoding them again: the same tokens, no encoder call, no video decoded; another encoder's are refused."""
    from rla_gym.data.dataset import EpisodeDataset
    from rla_gym.models.bundle import load_bundle
    from rla_gym.train import data as data_module
    from rla_gym.train.data import load_training_data

    stack = load_bundle(tiny_data / "init").stack
    view = tmp_path / "view"
    view.mkdir()
    (view / "all").symlink_to((tiny_data / "train").resolve())
    first = load_training_data(tiny_data / "train", stack.encoder, stack.image_size, progress=False, keep_frames=False)
    calls = []
    real_encode = data_module.encode_frames
    monkeypatch.setattr(data_module, "encode_frames", lambda *a, **k: calls.append(1) or real_encode(*a, **k))
    plain = load_training_data(view, stack.encoder, stack.image_size, progress=False, keep_frames=False, cache=False)
    assert len(calls) == len(plain)  # without reuse every episode of the view is encoded again

    calls.clear()

    def no_video(self, index):
        raise AssertionError(f"episode {index}'s video was decoded")

    monkeypatch.setattr(EpisodeDataset, "__getitem__", no_video)
    reused = load_training_data(view, stack.encoder, stack.image_size, progress=False, keep_frames=False, reuse=[first])
    assert calls == []
    assert reused.sources == first.sources and reused.keys != first.keys  # same folders under other names
    assert all(torch.equal(a, b) for a, b in zip(plain.tokens, reused.tokens))
    assert reused.subset([0]).sources == reused.sources[:1]
    with pytest.raises(ValueError, match="another encoder, image size or mask"):
        load_training_data(view, stack.encoder, stack.image_size * 2, progress=False, cache=False, reuse=[first])
