"""The package as a user installs it: a wheel of this checkout, installed outside it, finds the zoo's default
bundle and runs `gym.make` with no bundle argument."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

_USER_SCRIPT = """
import gymnasium as gym
import rla_gym
from rla_gym.models.zoo import models_dir

assert "/site/rla_gym/" in rla_gym.__file__, rla_gym.__file__  # the installed copy, not the checkout
env = gym.make("RLAWorldModel-v0", robot="ur10e")
obs, info = env.reset(seed=0)
env.step(env.action_space.sample())
assert env.unwrapped.vector_env.bundle.regression is None  # its part is left out of the wheel; the world model steps anyway
print("ZOO", models_dir())
print("SHAPE", obs.shape)
"""


def test_installed_wheel_finds_the_embedded_default_bundle(tmp_path, random_bundle_dir):
    src = tmp_path / "src"
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    for rel in files:
        target = src / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if (REPO / rel).is_symlink():
            target.symlink_to(os.readlink(REPO / rel))
        elif (REPO / rel).is_file():
            shutil.copy2(REPO / rel, target)
    for old in (src / "models").glob("*/manifest.json"):
        shutil.rmtree(old.parent)  # only the tiny test bundle in this copy's zoo, layered as the real zoo is
    from rla_gym.models.bundle import load_bundle
    from rla_gym.models.layered import save_layered
    from rla_gym.models.regression import RegressionConfig, RegressionWorldModel

    tiny = load_bundle(random_bundle_dir)
    tiny.regression = RegressionWorldModel(RegressionConfig.matching(tiny.stack.config))
    save_layered(tiny, src / "models", shared="shared-tiny", dynamics="ur10e-dyn", task="ur10e-tiny")
    assert (src / "models" / "ur10e-dyn-regression" / "manifest.json").is_file()
    bc = src / "models" / "ur10e-tiny-bc"  # a BC policy beside the task folder, as models/ has one
    bc.mkdir(exist_ok=True)
    (bc / "bc_policy.json").write_text("{}")
    pip = [sys.executable, "-m", "pip", "-q"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(src)], check=True
    )
    wheel = next((tmp_path / "dist").glob("rla_gym-*.whl"))
    installed = tmp_path / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(installed), str(wheel)], check=True)
    for part in ("ur10e-tiny", "ur10e-dyn", "shared-tiny"):
        assert (installed / "rla_gym" / "zoo" / part / "manifest.json").is_file(), f"{part} shipped as package data"
    for part in ("ur10e-tiny-bc", "ur10e-dyn-regression"):
        assert not (installed / "rla_gym" / "zoo" / part).exists(), f"{part}: BC and baselines stay in the checkout"

    env = {**os.environ, "PYTHONPATH": str(installed), "HF_HUB_OFFLINE": "1"}
    env.pop("RLA_GYM_MODELS", None)
    script = tmp_path / "user.py"
    script.write_text(_USER_SCRIPT)
    out = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"ZOO {installed / 'rla_gym' / 'zoo'}" in out.stdout
    assert "SHAPE (48, 48, 3)" in out.stdout
