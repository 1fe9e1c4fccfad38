"""`rla-gym play` refuses what it cannot serve with one line on stderr naming the argument, exit code 2: a port in use
(before any model loads), a bad port, a bundle of another robot, a task the robot does not run, a broken --rl, an
uncertainty the bundle cannot give."""

from __future__ import annotations

import socket
import time

import pytest
from test_cli_errors import assert_refused


@pytest.fixture(autouse=True)
def keep_threads():
    """`rla-gym play` sets torch's threads (--threads, default 1): give the other tests theirs back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def panda_bundle(tmp_path_factory):
    from rla_gym.models.random_bundle import make_random_bundle

    path = tmp_path_factory.mktemp("bundles") / "panda-tiny"
    make_random_bundle("panda", "tiny", episodes=2, length=12, seed=0).save_pretrained(path)
    return path


def test_a_port_in_use_is_one_line_before_anything_loads(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        start = time.perf_counter()
        line = assert_refused(["play", "--port", str(port)], "--port", capsys, words="in use")
    assert line == f"rla-gym play: argument --port: expected a free port on 127.0.0.1; got {port} (in use)"
    assert time.perf_counter() - start < 5, "the port is checked before the bundle and the simulator load"


@pytest.mark.parametrize(
    ("value", "words"), [("70000", "expected a port number 0-65535"), ("http", "got 'http'"), ("-1", "got '-1'")]
)
def test_a_bad_port_is_refused(value, words, capsys):
    assert_refused(["play", "--port", value], "--port", capsys, words=words)


def test_a_bundle_of_another_robot_is_refused(panda_bundle, capsys):
    argv = ["play", "--robot", "ur10e", "--bundle", str(panda_bundle), "--port", "0", "--no-sim"]
    assert_refused(argv, "--bundle", capsys, words="was made for robot 'panda', not 'ur10e'")


def test_a_task_of_another_robot_is_refused(capsys):
    assert_refused(["play", "--task", "PokeCube", "--port", "0", "--no-sim"], "--task", capsys, words="PokeCube")


def test_a_folder_that_is_no_rl_checkpoint_is_refused(random_bundle_dir, tmp_path, capsys):
    argv = ["play", "--bundle", str(random_bundle_dir), "--rl", str(tmp_path), "--port", "0", "--no-sim"]
    assert_refused(argv, "--rl", capsys, words="agent.json missing")


def test_an_uncertainty_the_bundle_cannot_give_is_refused(random_bundle_dir, capsys):
    argv = ["play", "--bundle", str(random_bundle_dir), "--uncertainty", "regression", "--port", "0", "--no-sim"]
    assert_refused(argv, "--uncertainty", capsys, words="ships no regression baseline")
