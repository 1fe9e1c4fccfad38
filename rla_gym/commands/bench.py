"""The side-by-side benchmark report: world model vs ManiSkill speed, fidelity, policy ranking (benchmarks/run_all.py).

`rla-gym bench --quick --heldout DIR` writes benchmarks/results/<date>-<machine>/REPORT.md with its figures and
the raw JSON, and prints the tables. The benchmarks live in the source checkout, not in the installed package:
this command runs benchmarks/run_all.py from the checkout the package was installed from (editable install), and
says so when there is none. run_all owns the arguments: every argument after `bench` is passed to it unread
(`rla-gym bench --help` prints run_all's help), and a bad one comes back as one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

# run in the child: run_all's parser, with `rla-gym bench` as the name its usage errors give
_RUN_ALL = "import sys; from benchmarks.run_all import main; sys.exit(main(sys.argv[1:], prog='rla-gym bench'))"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # Nothing here is an option, not even -h: with no prefix character every word is a plain value, so argparse
    # hands the whole command line to run_all instead of refusing options it does not know.
    parser.prefix_chars = "\0"
    parser.add_argument(
        "argv", nargs=argparse.REMAINDER, help="arguments of benchmarks/run_all.py (rla-gym bench --help lists them)"
    )


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
    return subprocess.call([sys.executable, "-c", _RUN_ALL, *args.argv], env=env)
