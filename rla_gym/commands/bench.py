"""The side-by-side benchmark report: world model vs ManiSkill speed, fidelity, policy ranking (benchmarks/run_all.py).

`rla-gym bench --quick --heldout DIR` writes benchmarks/results/<date>-<machine>/REPORT.md with its figures and
the raw JSON, and prints the tables. The benchmarks live in the source checkout, not in the installed package:
this command runs `python -m benchmarks.run_all` from the checkout the package was installed from (editable
install), and says so when there is none. The arguments are defined here once; run_all.py reads them from here.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

SECTION_NAMES = ("speed", "fidelity", "policies")
FORWARDED = ("out", "heldout", "wmrl_out", "bc", "bundle", "robot", "task", "only", "device", "demo_seed_base")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    preset = parser.add_mutually_exclusive_group()
    preset.add_argument(
        "--quick",
        dest="preset",
        action="store_const",
        const="quick",
        help="CPU, the embedded default bundle, sized for under 30 minutes on 2 idle cores (default)",
    )
    preset.add_argument(
        "--paper", dest="preset", action="store_const", const="paper", help="a GPU, paper sizes (--bundle: released)"
    )
    parser.set_defaults(preset="quick")
    parser.add_argument(
        "--out", type=Path, default=None, help="report folder (default benchmarks/results/<date>-<machine>)"
    )
    parser.add_argument(
        "--heldout", type=Path, default=None, help="held-out ManiSkill episodes (rla-gym collect; fidelity needs them)"
    )
    parser.add_argument(
        "--demo-seed-base", type=int, default=None, help="the held-out collection's --seed (default 100000)"
    )
    parser.add_argument(
        "--wmrl-out", type=Path, default=None, help="rla-gym wmrl --out: RL checkpoints in checkpoints/iter_*/"
    )
    parser.add_argument("--bc", type=Path, default=None, help="BC policy folder (default: beside the bundle)")
    parser.add_argument("--bundle", default=None, help="bundle folder or hub id (default: the preset's)")
    parser.add_argument("--robot", default=None, help="default ur10e")
    parser.add_argument("--task", default=None, help="default: the bundle's task (RollBall)")
    parser.add_argument(
        "--only", default=None, help=f"comma-separated sections to run, of {','.join(SECTION_NAMES)} (default: all)"
    )
    parser.add_argument("--device", default=None, help="default: the preset's (quick cpu, paper auto)")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the sections this run skips (--only) from the report folder's results.json, e.g. to time "
        "speed alone on a quiet machine after the other sections",
    )


def to_argv(args: argparse.Namespace) -> list[str]:
    """The parsed arguments back as a command line for benchmarks/run_all.py."""
    argv = [f"--{args.preset}"] + (["--merge"] if getattr(args, "merge", False) else [])
    for name in FORWARDED:
        value = getattr(args, name, None)
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv


def checkout_root() -> Path | None:
    """The source checkout holding benchmarks/run_all.py beside the rla_gym package, or None (installed wheel)."""
    import rla_gym

    root = Path(rla_gym.__file__).resolve().parents[1]
    return root if (root / "benchmarks" / "run_all.py").is_file() else None


def run(args: argparse.Namespace) -> int:
    root = checkout_root()
    if root is None:
        print(
            "rla-gym bench: the benchmarks are not part of the installed package; run it from a source checkout "
            "(git clone, then pip install -e .), where it runs benchmarks/run_all.py",
            file=sys.stderr,
        )
        return 2
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return subprocess.call([sys.executable, "-m", "benchmarks.run_all", *to_argv(args)], env=env)
