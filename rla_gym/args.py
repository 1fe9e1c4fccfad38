"""Argument value types and checks shared by the commands and the benchmark scripts, so every bad value reads the
same way.

Each type is an argparse `type=`: a bad value makes argparse stop with one line on stderr and exit code 2
(`rla_gym.cli.Parser`, `benchmarks.run_all`'s parser): `<prog>: argument --arg: expected ...; got ...`. Checks that
need more than one value (a used `--out` without `--resume`) raise `ArgumentError`, reported in the same words.
Nothing here writes anything: commands check all of their arguments before touching `--out`.

A rung of its own just above `models` (its `device` type asks `models.device`) and below everything that parses a
command line, so that `benchmarks/` and `agents/`, which may not import the command line, use these types too."""

from __future__ import annotations

import argparse
import math
from pathlib import Path


class ArgumentError(ValueError):
    """A command-line value that cannot be used: says which argument, what was expected and what came."""

    def __init__(self, arg: str, expected: str, got: object):
        super().__init__(f"argument {arg}: expected {expected}; got {got}")


def _fail(expected: str, text: str, note: str = "") -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(f"expected {expected}; got {text!r}" + (f" ({note})" if note else ""))


def _int(text: str, expected: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise _fail(expected, text) from None


def positive_int(text: str) -> int:
    """An integer >= 1 (counts, lengths, steps)."""
    value = _int(text, "an integer >= 1")
    if value < 1:
        raise _fail("an integer >= 1", text)
    return value


def positive_int_or_all(text: str) -> int | None:
    """An integer >= 1, or `all` (None: no limit)."""
    if text.strip().lower() == "all":
        return None
    value = _int(text, "an integer >= 1 or 'all'")
    if value < 1:
        raise _fail("an integer >= 1 or 'all'", text)
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (seeds, 'every N' where 0 means never, thread counts where 0 means the default)."""
    value = _int(text, "an integer >= 0")
    if value < 0:
        raise _fail("an integer >= 0", text)
    return value


def int_at_least(minimum: int, why: str = ""):
    """An argparse type for an integer >= `minimum`; `why` says where the bound comes from."""
    expected = f"an integer >= {minimum}" + (f" ({why})" if why else "")

    def parse(text: str) -> int:
        value = _int(text, expected)
        if value < minimum:
            raise _fail(expected, text)
        return value

    parse.__name__ = f"int_at_least_{minimum}"  # argparse names the type in its messages
    return parse


def int_between(minimum: int, maximum: int, why: str = ""):
    """An argparse type for an integer in [`minimum`, `maximum`]; `why` says where the bounds come from."""
    expected = f"an integer in [{minimum}, {maximum}]" + (f" ({why})" if why else "")

    def parse(text: str) -> int:
        value = _int(text, expected)
        if not minimum <= value <= maximum:
            raise _fail(expected, text)
        return value

    parse.__name__ = f"int_between_{minimum}_{maximum}"
    return parse


def even_int_at_least(minimum: int, unit: str = "", why: str = ""):
    """An argparse type for an even integer >= `minimum` (video frame sizes)."""
    expected = f"an even number{f' of {unit}' if unit else ''} >= {minimum}" + (f" ({why})" if why else "")

    def parse(text: str) -> int:
        value = _int(text, expected)
        if value < minimum or value % 2:
            raise _fail(expected, text)
        return value

    parse.__name__ = f"even_int_at_least_{minimum}"
    return parse


def positive_float(text: str) -> float:
    """A finite number > 0 (scales, learning rates)."""
    try:
        value = float(text)
    except ValueError:
        raise _fail("a finite number > 0", text) from None
    if not math.isfinite(value) or value <= 0:
        raise _fail("a finite number > 0", text)
    return value


def non_negative_float(text: str) -> float:
    """A finite number >= 0 (noise levels, weights where 0 means off)."""
    try:
        value = float(text)
    except ValueError:
        raise _fail("a finite number >= 0", text) from None
    if not math.isfinite(value) or value < 0:
        raise _fail("a finite number >= 0", text)
    return value


def existing_dir(text: str) -> Path:
    """A folder that exists (data, runs)."""
    path = Path(text).expanduser()
    if not path.is_dir():
        raise _fail("an existing folder", text, "a file" if path.exists() else "does not exist")
    return path


def out_dir(text: str) -> Path:
    """A folder to write into: new, or an existing folder; never an existing file."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise _fail("a folder to write into (new or existing)", text, "a file")
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise _fail("a folder to write into (new or existing)", text, f"{blocker} is a file")
    return path


def bundle_out(text: str) -> Path:
    """A folder to write a bundle into: new, empty, or a bundle (replaced whole); not a file, not other files."""
    path = out_dir(text)
    if path.is_dir() and any(path.iterdir()) and not (path / "manifest.json").is_file():
        raise _fail("a new folder or a bundle to replace", text, "a folder of other files")
    return path


def bundle_source(text: str) -> str:
    """A bundle folder or a hub id (`owner/repo[/subfolder]`): a local-looking path must be a folder with config.json."""
    path = Path(text).expanduser()
    local = path.exists() or text.startswith((".", "/", "~"))
    if local and not (path / "config.json").is_file():
        what = "a file" if path.is_file() else "a folder without config.json" if path.is_dir() else "does not exist"
        raise _fail("a bundle folder (config.json, manifest.json, *.safetensors) or a hub id", text, what)
    return text


def device(text: str) -> str:
    """cpu, auto, cuda or cuda:N where this machine has it (`rla_gym.models.device.check_device`)."""
    from rla_gym.models.device import check_device

    try:
        check_device(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def fresh_out(
    path: Path,
    arg: str = "--out",
    *,
    resume: bool = False,
    overwrite: bool = False,
    run_files: tuple[str, ...] = ("checkpoints",),
) -> None:
    """Refuse to start a new run in a folder that holds something, unless resuming it or told to clear it.

    A run written over another one keeps the old one's later files and a later `--resume` continues the wrong
    run. With `overwrite` the folder is removed here, after every other argument was checked, but only if it
    holds one of `run_files` (what a run writes): a mistyped `--out ~ --overwrite` must not delete a home folder."""
    import shutil

    if resume and overwrite:
        raise ArgumentError("--overwrite", "either --resume (continue the run) or --overwrite (clear it)", "both")
    if not path.is_dir() or resume or not any(path.iterdir()):
        return
    if not overwrite:
        raise ArgumentError(
            arg, "a new or empty folder (or --resume to continue its run, --overwrite to clear it)", f"{path} (used)"
        )
    if not any((path / name).exists() for name in run_files):
        raise ArgumentError(
            arg, f"a run folder to clear with --overwrite (one holding {', '.join(run_files)})", f"{path} (other files)"
        )
    shutil.rmtree(path)
