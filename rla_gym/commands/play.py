"""Drive the world model and ManiSkill side by side from a local web page (`rla-gym play`).

Binds the port first (a port in use is one line on stderr, exit code 2, before any model loads), loads the bundle
into a one-world env, starts ManiSkill where it can run (else the page runs world-model only and says why), and
serves the page on 127.0.0.1 until Ctrl-C. See `rla_gym.play`."""

from __future__ import annotations

import argparse
import errno
import faulthandler
import logging
import os
import signal
import sys
from pathlib import Path

from rla_gym.args import (
    ArgumentError,
    bundle_source,
    device,
    even_int_at_least,
    existing_dir,
    non_negative_int,
    out_dir,
)
from rla_gym.specs import ROBOTS

log = logging.getLogger(__name__)


def port(text: str) -> int:
    """A TCP port, 0-65535 (0: any free port; the URL printed at start names it)."""
    expected = "a port number 0-65535 (0: any free port)"
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {expected}; got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected {expected}; got {text!r}")
    return value


CLOSE_S = 30.0  # seconds Ctrl-C waits for the session (ManiSkill, the env) to close


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--robot", choices=sorted(ROBOTS), default="ur10e")
    parser.add_argument("--task", default=None, help="one of the robot's tasks (default: the bundle's)")
    parser.add_argument("--bundle", type=bundle_source, default=None, help="folder or hub id (default: embedded)")
    parser.add_argument("--bc", type=existing_dir, default=None, help="BC policy folder (default: beside the bundle)")
    parser.add_argument(
        "--rl", type=existing_dir, default=None, help="an RL checkpoint folder (or enter it on the page)"
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: this machine only)")
    parser.add_argument("--port", type=port, default=8000, help="0: any free port")
    parser.add_argument(
        "--uncertainty",
        choices=("draws", "regression", "off"),
        default="draws",
        help="the env's info['uncertainty'] shown on the page: a second flow-noise draw, the regression baseline, or off",
    )
    parser.add_argument("--no-sim", action="store_true", help="world model only, even where ManiSkill runs")
    parser.add_argument("--sim-size", type=even_int_at_least(16, "pixels"), default=128, help="ManiSkill camera size")
    parser.add_argument("--out", type=out_dir, default=Path("out/play"), help="where saved videos go")
    parser.add_argument("--device", type=device, default="auto", help="cpu, cuda, cuda:N or auto")
    parser.add_argument("--threads", type=non_negative_int, default=1, help="torch CPU threads (0: torch's default)")


def run(args: argparse.Namespace) -> int:
    import torch

    from rla_gym.play.server import PlayServer

    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        server = PlayServer((args.host, args.port))
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise ArgumentError("--port", f"a free port on {args.host}", f"{args.port} (in use)") from None
        raise ArgumentError("--port", f"a port {args.host} can serve on", f"{args.port} ({err.strerror})") from None
    try:
        session = server.open(lambda: open_session(args))
    except BaseException:
        server.close()
        raise
    worlds = (
        f"world model + {session.sim.label}" if session.sim is not None else f"world model only: {session.sim_note}"
    )
    # Ctrl-C stops the page even where the parent process ignored SIGINT (an ignored signal is inherited, and Python
    # then installs no KeyboardInterrupt handler): seen when a test suite starts the command
    signal.signal(signal.SIGINT, signal.default_int_handler)
    print(f"rla-gym play: serving {server.url} ({worlds}); Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if not server.close(timeout=CLOSE_S):  # Ctrl-C must stop the page even if ManiSkill's teardown hangs
            print(f"rla-gym play: the session did not close in {CLOSE_S:.0f} s; exiting", file=sys.stderr, flush=True)
            faulthandler.dump_traceback(all_threads=True)  # where it hung, for a bug report
            os._exit(0)
    return 0


def open_session(args: argparse.Namespace):
    """The session the page drives: the env, ManiSkill where it runs, the policies; started at demo 0, frame 0."""
    from rla_gym.envs.vector import RLAWorldModelVectorEnv
    from rla_gym.play.session import PlayError, PlaySession
    from rla_gym.play.simulator import ManiSkillWorld, simulator_problem
    from rla_gym.specs import check_pair

    if args.task is not None:
        try:
            check_pair(args.robot, args.task)
        except ValueError as err:
            raise ArgumentError("--task", f"one of {args.robot}'s tasks", f"{args.task!r} ({err})") from None
    try:
        env = RLAWorldModelVectorEnv(
            num_envs=1,
            robot=args.robot,
            task=args.task,
            bundle=args.bundle,
            device=args.device,
            autoreset_mode="Disabled",
            uncertainty=None if args.uncertainty == "off" else args.uncertainty,
        )
    except (ValueError, OSError) as err:  # BundleError is a ValueError: another robot's bundle, a broken one
        second = args.uncertainty == "regression" and "no regression baseline" in str(err)
        if second or str(err).startswith("uncertainty="):  # a second opinion the bundle or the dynamics cannot give
            raise ArgumentError(
                "--uncertainty", "a second opinion this bundle has", f"{args.uncertainty} ({err})"
            ) from None
        got = f"{args.bundle or 'the embedded default'} ({err})"
        raise ArgumentError("--bundle", f"a bundle for robot {args.robot}", got) from None
    sim, note = None, "--no-sim" if args.no_sim else simulator_problem()
    if note is None and env.task is None:
        note = "the bundle names no task; pass --task to pick ManiSkill's"
    if note is None:
        try:
            sim = ManiSkillWorld(args.robot, env.task, args.sim_size, bool(env.bundle.metadata.get("masked", False)))
        except Exception as err:  # the page says why and runs world-model only
            log.debug("ManiSkill did not start", exc_info=True)
            note = f"ManiSkill did not start: {type(err).__name__}: {err}"
    session = PlaySession(env, sim, note, policies={"bc": _bc_beside(args.bc, env.bundle.path)}, out=args.out)
    if args.rl is not None:
        try:
            session.load_policy("rl", str(args.rl))
        except PlayError as err:
            session.close()
            raise ArgumentError("--rl", "an RL checkpoint folder of rla-gym wmrl", f"{args.rl} ({err})") from None
    session.reset()
    return session


def _bc_beside(bc: Path | None, bundle_path: Path) -> Path | None:
    if bc is not None:
        return bc
    from rla_gym.train.wmrl import default_bc_path

    try:
        return default_bc_path(Path(bundle_path))
    except FileNotFoundError:
        return None
