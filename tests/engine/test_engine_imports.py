"""The layout's import rule (GUIDE "engines x fronts"): engine/ never imports a front, rich or prompt_toolkit.

Checked twice: statically (every import statement in tcpcli/engine, lazy ones included) and for real
(importing the engine in a fresh interpreter loads none of them).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import tcpcli.engine

ENGINE = Path(tcpcli.engine.__file__).parent
# fronts and the modes that wire them: the engine meets them only through engine/seam.py
FORBIDDEN = (
    "rich",
    "prompt_toolkit",
    "tcpcli.fronts",
    "tcpcli.interactive",
    "tcpcli.listen",
    "tcpcli.modes",
    "tcpcli.cli",
)


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _forbidden(name: str) -> bool:
    return any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN)


def test_no_engine_module_imports_a_front_rich_or_prompt_toolkit() -> None:
    modules = sorted(ENGINE.glob("*.py"))
    assert len(modules) >= 8
    offenders = {path.name: bad for path in modules if (bad := [n for n in _imports(path) if _forbidden(n)])}
    assert offenders == {}


def test_importing_the_engine_loads_no_front() -> None:
    probe = (
        "import sys, tcpcli.engine.hub, tcpcli.engine.seam, tcpcli.engine.stderr;"
        f"bad = [m for m in sys.modules if any(m == b or m.startswith(b + '.') for b in {FORBIDDEN!r})];"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == ""
