"""scripts/install_zoo.sh on a tiny layered zoo: nothing is installed unless every task beats copy-first at t+30;
then the parts replace models/'s of the same name, the BC policy lands in fp16 beside its task folder with its card,
and every task folder loads with its checksums verified."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def _prediction(wm_l1: float, copy_l1: float = 0.08) -> dict:
    """A prediction_quality.json as the benchmark writes it (the fields the cards read)."""

    def model(l1: float, ssim: float) -> dict:
        return {"horizons": [{"horizon": t, "token_l1": l1, "ssim": ssim, "psnr": 25.0} for t in (10, 20, 30)]}

    return {
        "starts": 12,
        "reconstruction": {"ssim": 0.95},
        "models": {"RLA-WM (1 Euler step)": model(wm_l1, 0.9), "copy first frame": model(copy_l1, 0.8)},
    }


@pytest.fixture
def built(tmp_path):
    """What build_zoo.sh leaves in $WORK: a two-robot zoo, its measurements and one BC run."""
    from rla_gym.models.layered import save_layered
    from rla_gym.models.random_bundle import make_random_bundle
    from tests.agents_support import tiny_bc

    work = tmp_path / "work"
    ur10e = make_random_bundle("ur10e", "tiny", episodes=2, length=24, seed=0, task="RollBall")
    panda = make_random_bundle("panda", "tiny", episodes=2, length=24, seed=1, task="PullCube")
    for name in ("encoder", "image_decoder", "rla_encoder", "rla_decoder"):
        panda.stack.components()[name].load_state_dict(ur10e.stack.components()[name].state_dict())
    panda.stack.config.latent_scale = ur10e.stack.config.latent_scale
    save_layered(ur10e, work / "zoo", shared="shared-cpu", dynamics="ur10e-cpu", task="ur10e-RollBall-cpu")
    save_layered(panda, work / "zoo", shared="shared-cpu", dynamics="panda-cpu", task="panda-PullCube-cpu")
    for pair in ("ur10e-RollBall", "panda-PullCube"):
        (work / "zoo-pq" / pair).mkdir(parents=True)
        (work / "zoo-pq" / pair / "prediction_quality.json").write_text(json.dumps(_prediction(0.05)))
    run = work / "zoo-runs" / "bc-ur10e-RollBall"
    tiny_bc().save_pretrained(run / "final")
    (run / "train_config.json").write_text(
        json.dumps({"steps": 10, "batch_size": 8, "lr": 3e-4, "weight_decay": 1e-4, "warmup_steps": 2})
    )
    (run / "eval.csv").write_text("step,mse\n5,0.2\n10,0.1\n")
    models = tmp_path / "models"
    (models / "shared-cpu").mkdir(parents=True)
    (models / "shared-cpu" / "stale.safetensors").write_bytes(b"old weights")  # the old shared part: replaced
    (models / "other").mkdir()  # anything else in models/ is left alone
    return work, models


def _install(work: Path, models: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", str(REPO / "scripts" / "install_zoo.sh")],
        env={
            **os.environ,
            "WORK": str(work),
            "MODELS": str(models),
            "PY": str(REPO / ".venv" / "bin" / "python"),
            "PYTHONPATH": str(REPO),
            "OMP_NUM_THREADS": "1",
            **env,
        },  # fmt: skip
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_a_task_that_does_not_beat_copy_first_stops_the_install(built):
    work, models = built
    pq = work / "zoo-pq" / "panda-PullCube" / "prediction_quality.json"
    pq.write_text(json.dumps(_prediction(0.09)))  # worse than copy's 0.08
    done = _install(work, models)
    assert done.returncode == 1
    assert "install_zoo: panda-PullCube-cpu: does not beat copy-first at t+30" in done.stderr
    assert "ur10e-RollBall" not in done.stderr
    assert sorted(p.name for p in models.iterdir()) == ["other", "shared-cpu"], "nothing installed"
    pq.unlink()
    assert "panda-PullCube-cpu: held-out prediction not measured" in _install(work, models).stderr
    forced = _install(work, models, FORCE="1")
    assert forced.returncode == 0, forced.stderr
    assert (models / "panda-PullCube-cpu" / "README.md").is_file()


def test_the_zoo_replaces_models_parts_and_its_bc_policy_lands_beside_its_task(built):
    from rla_gym.agents.bc import BCPolicy
    from rla_gym.models.bundle import load_bundle

    work, models = built
    done = _install(work, models)
    assert done.returncode == 0, done.stderr
    names = sorted(p.name for p in models.iterdir())
    assert names == ["other", "panda-PullCube-cpu", "panda-cpu", "shared-cpu", "ur10e-RollBall-cpu",
                     "ur10e-RollBall-cpu-bc", "ur10e-cpu"]  # fmt: skip
    assert not (models / "shared-cpu" / "stale.safetensors").exists(), "the old part was replaced, not merged"
    assert "ur10e-RollBall-cpu loads (ur10e RollBall, checksums verified)" in done.stdout
    assert "panda-PullCube-cpu loads (panda PullCube, checksums verified)" in done.stdout
    bc = BCPolicy.from_pretrained(models / "ur10e-RollBall-cpu-bc")
    trained = BCPolicy.from_pretrained(work / "zoo-runs" / "bc-ur10e-RollBall" / "final")
    for name, value in trained.state_dict().items():
        if value.is_floating_point():
            torch.testing.assert_close(bc.state_dict()[name].float(), value.float(), atol=1e-2, rtol=1e-2)
    assert "0.2000 at step 5, 0.1000 at step 10" in (models / "ur10e-RollBall-cpu-bc" / "README.md").read_text()
    card = (models / "ur10e-RollBall-cpu" / "README.md").read_text()
    assert "RLA-WM beats copy-first at t+30" in card
    assert load_bundle(models / "panda-PullCube-cpu", verify=True).robot == "panda"
