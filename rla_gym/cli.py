"""The one `rla-gym` command. Each subcommand lives in its own module, imported only when used,
so `rla-gym --help` stays fast and a missing optional dependency only breaks its own subcommand."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# subcommand -> module providing `add_arguments(parser)`, `run(args) -> int` and a docstring line
COMMANDS: dict[str, str] = {
    "demo": "rla_gym.demo",
    "make-bundle": "rla_gym.models.bundle_cli",
    "collect": "rla_gym.sim.collect",
    "featurize": "rla_gym.data.featurize",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rla-gym", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    argv = sys.argv[1:] if argv is None else argv
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, module_name in COMMANDS.items():
        if name == wanted:
            module = importlib.import_module(module_name)
            doc = (module.__doc__ or "").strip().split("\n")[0]
            p = sub.add_parser(name, help=doc, description=doc)
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
        else:
            sub.add_parser(name, help=f"(see `rla-gym {name} --help`)")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    return int(args._run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
