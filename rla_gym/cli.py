"""rla-gym: reinforcement learning inside the RLA world model, and the ManiSkill tasks to check it against.

Each subcommand is a module of `rla_gym.commands`, imported only when it runs, so `rla-gym --help` is fast
and a missing optional dependency (ManiSkill) breaks only the subcommands that need it."""

from __future__ import annotations

import argparse
import logging
import sys
from types import ModuleType

# subcommand -> one-line description shown by `rla-gym --help` (the module's docstring says the same)
COMMANDS: dict[str, str] = {
    "demo": "the main job on the embedded default: env throughput, a rollout video, a short SB3 PPO run",
    "make-bundle": "write a bundle: --from-runs assembles trained runs, --random gives random weights to try the API",
    "collect": "collect scripted ManiSkill demonstrations in the paper authors' layout (resumable, parallel)",
    "train": "train one model of the stack (unet, rla, wm, regression) or the BC policy: resumable, CPU, GPUs",
    "wmrl": "the main job: RL in the world model from the BC policy, BC vs RL success in ManiSkill",
    "wmrl-summary": "several RL seeds of the main job in one table, pooled against BC on the report seeds",
    "select-bc": "choose a BC run's best epoch on ManiSkill's selection seeds and write it as a BC policy",
    "calibrate": "measure a bundle's world-model success threshold on its demos and write it into the bundle",
    "bench": "side-by-side benchmark report: world model vs ManiSkill speed, fidelity, policy ranking",
    "play": "drive the world model and ManiSkill side by side from a local web page (keys, sliders, policies)",
}


def load_command(name: str) -> ModuleType:
    """Import one subcommand's module (explicitly, lazily: the heavy imports happen only here)."""
    if name == "demo":
        from rla_gym.commands import demo as module
    elif name == "make-bundle":
        from rla_gym.commands import make_bundle as module
    elif name == "collect":
        from rla_gym.commands import collect as module
    elif name == "train":
        from rla_gym.commands import train as module
    elif name == "wmrl":
        from rla_gym.commands import wmrl as module
    elif name == "wmrl-summary":
        from rla_gym.commands import wmrl_summary as module
    elif name == "bench":
        from rla_gym.commands import bench as module
    elif name == "select-bc":
        from rla_gym.commands import select_bc as module
    elif name == "calibrate":
        from rla_gym.commands import calibrate as module
    elif name == "play":
        from rla_gym.commands import play as module
    else:
        raise ValueError(f"unknown command {name!r}; commands: {', '.join(COMMANDS)}")
    return module


class UsageError(Exception):
    """A bad command line: `main` prints it as one line on stderr and returns exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (`rla-gym <cmd>: argument --arg: expected ...; got ...`) instead
    of the usage text; `--help` still shows the usage. Subcommand parsers are of this class too."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = Parser(prog="rla-gym", description=(__doc__ or "").split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, description in COMMANDS.items():
        p = sub.add_parser(name, help=description, description=description)
        if name == wanted:  # only the chosen command's module is imported
            module = load_command(name)
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser(argv).parse_args(argv)
    except UsageError as err:
        print(err, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    from rla_gym.args import ArgumentError

    try:
        return int(args._run(args) or 0)
    except ArgumentError as err:  # a check of several values together, after parsing: same line, same exit code
        print(f"rla-gym {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
