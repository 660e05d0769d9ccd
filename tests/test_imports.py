"""The import rules of the design guide (GUIDE.md, "Layout: engines x fronts"), read from the source.

Each rule says which modules may not import which: a table, so a new package adds its row (the engine and
front rules apply as soon as those packages have modules). Also: only the face exits, and nothing imports
the face, so there is no import cycle through it.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path
from typing import NamedTuple

import pytest

import tcpcli

PACKAGE_DIR = Path(tcpcli.__file__).parent


class Rule(NamedTuple):
    """Modules within `importers` (but not `exempt`) may not import `forbidden` (but may import `allowed`)."""

    importers: str
    forbidden: tuple[str, ...]
    why: str
    exempt: tuple[str, ...] = ()
    allowed: tuple[str, ...] = ()


# module-name prefixes; a package that does not exist yet simply has no module a rule applies to
RULES = [
    Rule("tcpcli", ("tcpcli.cli",), "only `python -m tcpcli` starts the face", exempt=("tcpcli.__main__",)),
    Rule("tcpcli", ("tcpcli.modes",), "the face alone picks the mode", exempt=("tcpcli.cli", "tcpcli.modes")),
    Rule("tcpcli.core", ("tcpcli.",), "the core is pure", allowed=("tcpcli.core",)),
    Rule(
        "tcpcli.engine",
        ("tcpcli.fronts", "tcpcli.modes", "rich", "prompt_toolkit"),
        "engines never know a front (nor the modes that wire them)",
    ),
    Rule("tcpcli.fronts", ("tcpcli.engine",), "fronts know only the seam", allowed=("tcpcli.engine.seam",)),
    Rule(
        "tcpcli.checks",
        ("tcpcli.engine", "tcpcli.fronts", "tcpcli.modes"),
        "option rules decide before anything runs",
    ),
]

# Only the face ends the process: these calls anywhere else would skip its error funnel and cleanup.
EXITS = {("sys", "exit"), ("os", "_exit"), ("os", "abort")}
MAY_EXIT = {"tcpcli.cli"}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache
def modules() -> dict[str, ast.Module]:
    return {
        module_name(path): ast.parse(path.read_text(encoding="utf-8"), str(path))
        for path in sorted(PACKAGE_DIR.rglob("*.py"))
    }


def imports_of(tree: ast.Module) -> set[str]:
    """Every module TREE imports, anywhere in it (function-level imports too: a cycle is a cycle)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, "tcpcli uses absolute imports only"
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}  # `from tcpcli import cli`
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix.rstrip(".") or name.startswith(prefix if prefix.endswith(".") else prefix + ".")


def violations(known: dict[str, ast.Module]) -> list[str]:
    """`module imports module: why` for every import a rule forbids."""
    found = []
    for name, tree in known.items():
        for rule in RULES:
            if not _within(name, rule.importers) or any(_within(name, free) for free in rule.exempt):
                continue
            for imported in sorted(imports_of(tree)):
                if imported.startswith("tcpcli.") and imported not in known:
                    continue  # `from tcpcli.x import function`: the module itself is listed as well
                if any(_within(imported, ok) for ok in rule.allowed):
                    continue
                if any(_within(imported, bad) for bad in rule.forbidden):
                    found.append(f"{name} imports {imported}: {rule.why}")
    return found


def test_the_import_rules_of_the_guide_hold() -> None:
    assert violations(modules()) == []


def test_the_rules_catch_what_they_forbid() -> None:
    """The table is live: the old cycle (a listen module importing the face), an impure core, a loose mode."""
    known = {
        **modules(),
        "tcpcli.listen.old": ast.parse("from tcpcli.cli import Terminated\n"),
        "tcpcli.core.impure": ast.parse("import tcpcli.net.connect\n"),
        "tcpcli.stream2": ast.parse("from tcpcli.modes import connect\n"),
    }
    assert sorted(violations(known)) == [
        "tcpcli.core.impure imports tcpcli.net.connect: the core is pure",
        "tcpcli.listen.old imports tcpcli.cli: only `python -m tcpcli` starts the face",
        "tcpcli.stream2 imports tcpcli.modes.connect: the face alone picks the mode",
        "tcpcli.stream2 imports tcpcli.modes: the face alone picks the mode",
    ]


@pytest.mark.parametrize("name", sorted(set(modules()) - MAY_EXIT))
def test_no_module_below_the_face_exits(name: str) -> None:
    tree = modules()[name]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
            if isinstance(target, ast.Name):
                assert (target.id, node.func.attr) not in EXITS, f"{name}:{node.lineno}"
        if isinstance(node, ast.Raise) and node.exc is not None:
            raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            assert not (isinstance(raised, ast.Name) and raised.id == "SystemExit"), f"{name}:{node.lineno}"


def test_modes_exist_for_every_mode_the_face_dispatches() -> None:
    from tcpcli.settings import Mode

    names = set(modules())
    assert {f"tcpcli.modes.{mode.value}" for mode in Mode} <= names
