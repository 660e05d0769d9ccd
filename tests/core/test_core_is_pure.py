"""tcpcli.core stays sans-I/O: importing it pulls in no networking, event loop or terminal library."""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import tcpcli.core

CORE_DIR = Path(tcpcli.core.__file__).parent
# Must never be loaded by importing the core (checked in a fresh interpreter).
NOT_LOADED = ["asyncio", "socket", "ssl", "selectors", "rich", "prompt_toolkit", "typer", "click"]
# Must never be imported by a core module itself; os, sys and time are always loaded by the interpreter,
# so for those only the source can tell.
NOT_IMPORTED = {*NOT_LOADED, "time", "os", "sys"}

PROBE = """
import importlib, json, pkgutil, sys
import tcpcli.core
names = [info.name for info in pkgutil.walk_packages(tcpcli.core.__path__, "tcpcli.core.")]
for name in names:
    importlib.import_module(name)
print(json.dumps({"modules": names, "loaded": sorted(sys.modules)}))
"""


def core_modules() -> list[Path]:
    return sorted(CORE_DIR.rglob("*.py"))


def imported_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_importing_every_core_module_loads_no_io_library() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=30
    )
    report = json.loads(result.stdout)
    expected = {
        "tcpcli.core." + info.name for info in pkgutil.walk_packages([str(CORE_DIR)]) if not info.ispkg
    }
    assert expected <= set(report["modules"])
    loaded = set(report["loaded"])
    offenders = [
        name for name in NOT_LOADED if name in loaded or any(m.startswith(name + ".") for m in loaded)
    ]
    assert offenders == []


def test_no_core_module_imports_io_modules_directly() -> None:
    offenders = {path.name: sorted(imported_roots(path) & NOT_IMPORTED) for path in core_modules()}
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def test_the_core_has_the_modules_others_build_on() -> None:
    names = {path.stem for path in core_modules()}
    assert {"visible", "decode", "hexdump", "hexinput", "records"} <= names
