"""One module per `rla-gym` subcommand: `add_arguments(parser)`, `run(args) -> int`, a one-line docstring.

Commands are the only code that prints; the library below logs."""
