"""The package's ladder: every import points down (specs -> data -> models | sim -> args -> envs -> agents -> eval ->
train -> play -> commands -> cli); `models` and `sim` stand beside each other and import neither the other. `args` (the
argparse value types) sits just above `models`, whose device check its `device` type asks, so that the scripts above
the package can parse arguments the way the commands do. The recipes in `agents/` and the scripts in `benchmarks/`
sit above the package: they may import any rung but not the command line (`rla_gym.commands`, `rla_gym.cli`), and
the package never imports them. Every import form counts: `import a.b`, `from a.b import c`,
`from rla_gym import <rung>`, relative imports and `importlib.import_module("...")`. Facts are typed once, in
rla_gym/specs, and imported everywhere else."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "rla_gym"
ABOVE = ("agents", "benchmarks")  # top-level folders above the package
RUNG = {
    "specs": 0,
    "data": 1,
    "models": 2,
    "sim": 2,
    "args": 3,
    "envs": 4,
    "agents": 5,
    "eval": 6,
    "train": 7,
    "play": 8,
    "commands": 9,
    "cli": 10,
}
COMMAND_LINE = ("commands", "cli")  # rungs the folders above the package must not import


def _module_name(path: Path, root: Path) -> str:
    """Dotted name of a source file under `root` (`rla_gym/envs/vector.py` -> `rla_gym.envs.vector`)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = REPO) -> list[str]:
    """Absolute dotted names of every module `path` imports, in any of the forms the module docstring lists."""
    own = _module_name(path, root)
    package = own if path.name == "__init__.py" else own.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolved against this file's package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append(module)
            found += [f"{module}.{alias.name}" for alias in node.names]  # `from rla_gym import envs` is rla_gym.envs
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append(node.args[0].value)
    return found


def _rung(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "rla_gym" or len(parts) < 2 or parts[1] not in RUNG:
        return None
    return parts[1]


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (REPO / folder).rglob("*.py"))


def ladder_problems(path: Path, root: Path = REPO) -> list[str]:
    """Imports of `path` against the ladder (a package file) or into the command line (a file above the package)."""
    rel = path.relative_to(root)
    problems = []
    if rel.parts[0] == "rla_gym":
        own = rel.parts[1].removesuffix(".py") if len(rel.parts) > 1 else None
        if own not in RUNG:
            return []
        for module in imported_modules(path, root):
            top = module.split(".")[0]
            if top in ABOVE:
                problems.append(f"{rel} ({own}) imports {module}, which sits above the package")
            other = _rung(module)
            if other is None or other == own:
                continue
            if RUNG[other] > RUNG[own] or {own, other} == {"models", "sim"}:
                problems.append(f"{rel} ({own}) imports {module} ({other})")
    else:
        for module in imported_modules(path, root):
            if _rung(module) in COMMAND_LINE:
                problems.append(f"{rel} (above the package) imports the command line: {module}")
    return problems


def test_every_import_points_down_the_ladder():
    problems = [p for path in _sources("rla_gym", *ABOVE) for p in ladder_problems(path)]
    assert not problems, "imports against the ladder:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("where", "source", "found"),
    [
        ("rla_gym/data/x.py", "from rla_gym import envs\n", "rla_gym.envs (envs)"),
        ("rla_gym/envs/x.py", "from ..train import loop\n", "rla_gym.train (train)"),
        ("rla_gym/args.py", "from rla_gym import envs\n", "rla_gym.envs (envs)"),
        ("rla_gym/eval/x.py", "from .. import commands\n", "rla_gym.commands (commands)"),
        ("rla_gym/models/x.py", "import rla_gym.sim.make\n", "rla_gym.sim.make (sim)"),
        ("rla_gym/agents/x.py", "importlib.import_module('rla_gym.eval.speed')\n", "rla_gym.eval.speed (eval)"),
        ("rla_gym/commands/x.py", "from benchmarks import run_all\n", "sits above the package"),
        ("benchmarks/x.py", "from rla_gym.commands.bench import add_arguments\n", "the command line"),
        ("agents/x.py", "from rla_gym import cli\n", "the command line: rla_gym.cli"),
    ],
)
def test_the_ladder_check_sees_every_import_form(where, source, found, tmp_path):
    path = tmp_path / where
    path.parent.mkdir(parents=True)
    path.write_text(source)
    problems = ladder_problems(path, root=tmp_path)
    assert any(found in p for p in problems), problems


# ---------------------------------------------------------------------------------------------- facts
CHUNK_NAMES = {"k", "chunk", "chunk_size", "n_action_steps"}  # names that hold K, the action chunk length


def _constants(nodes: list[ast.expr]) -> bool:
    return bool(nodes) and all(isinstance(e, ast.Constant) for e in nodes)


def retyped_facts(path: Path) -> list[str]:
    """Facts typed outside rla_gym/specs: the camera name, the action buffer, K = 8 (as a default, a field, a keyword
    or in printed text) and the evaluation seeds (`range(42, ...)`, a tuple of seeds from 42)."""
    text = path.read_text()
    found = [f for f in ('"front_lower_camera"', "max_horizon=15", "ARM_DOF") if f in text]
    tree = ast.parse(text)

    def eight(node: ast.AST | None) -> bool:
        return isinstance(node, ast.Constant) and node.value == 8 and not isinstance(node.value, bool)

    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            positional = a.posonlyargs + a.args
            pairs = list(zip(positional[len(positional) - len(a.defaults) :], a.defaults))
            pairs += [(arg, d) for arg, d in zip(a.kwonlyargs, a.kw_defaults) if d is not None]
            found += [f"{node.name}({arg.arg}=8)" for arg, d in pairs if arg.arg in CHUNK_NAMES and eight(d)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            if node.target.id in CHUNK_NAMES and eight(node.value):
                found.append(f"{node.target.id}: ... = 8")
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            found += [f"{n} = 8" for n in names if n in CHUNK_NAMES and eight(node.value)]
        elif isinstance(node, ast.keyword) and node.arg in CHUNK_NAMES and eight(node.value):
            found.append(f"{node.arg}=8")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and "K = 8" in node.value:
            found.append("'K = 8' in text")
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "range" and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and first.value == 42:
                found.append("range(42, ...)")
        elif isinstance(node, ast.Tuple) and _constants(node.elts) and node.elts[0].value == 42:
            found.append("a tuple of seeds from 42")
    return found


def test_facts_live_only_in_specs():
    offenders = {}
    for path in _sources("rla_gym", *ABOVE):
        if path.is_relative_to(PACKAGE / "specs"):
            continue
        if found := retyped_facts(path):
            offenders[str(path.relative_to(REPO))] = found
    assert not offenders, f"facts retyped outside rla_gym/specs: {offenders}"


@pytest.mark.parametrize(
    "source",
    [
        "def f(stack, chunk: int = 8): ...\n",
        "def f(*, k=8): ...\n",
        "class C:\n    n_action_steps: int = 8\n",
        "x = component_times(stack, chunk=8)\n",
        "print(f'{n} Euler step(s), K = 8, on cpu')\n",
        "seeds = range(42, 92)\n",
        "def f(seeds=(42, 43, 44, 45)): ...\n",
    ],
)
def test_the_fact_check_sees_a_retyped_chunk_length_or_seed_range(source, tmp_path):
    path = tmp_path / "x.py"
    path.write_text(source)
    assert retyped_facts(path), source
