"""The package's ladder: every import points down (specs -> data -> models | sim -> envs -> agents -> train ->
commands -> cli); `models` and `sim` stand beside each other and import neither the other; facts are not retyped."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rla_gym"
RUNG = {"specs": 0, "data": 1, "models": 2, "sim": 2, "envs": 3, "agents": 4, "train": 5, "commands": 6, "cli": 7}


def _layer(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "rla_gym" or len(parts) < 2:
        return None
    return parts[1]


def _imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def test_every_import_points_down_the_ladder():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        own = rel.parts[0].removesuffix(".py")
        if own not in RUNG:
            continue
        for module in _imports(path):
            other = _layer(module)
            if other is None or other == own or other not in RUNG:
                continue
            if RUNG[other] > RUNG[own] or {own, other} == {"models", "sim"}:
                problems.append(f"{rel} ({own}) imports {module} ({other})")
    assert not problems, "imports against the ladder:\n" + "\n".join(problems)


def test_facts_live_only_in_specs():
    """The camera name and the action buffer are typed once, in rla_gym/specs."""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.relative_to(PACKAGE).parts[0] == "specs":
            continue
        text = path.read_text()
        if '"front_lower_camera"' in text or "max_horizon=15" in text or "ARM_DOF" in text:
            offenders.append(str(path.relative_to(PACKAGE)))
    assert not offenders, f"facts retyped outside rla_gym/specs: {offenders}"
