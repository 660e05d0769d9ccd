"""The layout's import rule for engine/ (GUIDE "engines x fronts"), at run time: importing the many-peer
engine loads no front, rich or prompt_toolkit. (The static rule, every import statement, is a row of
tests/test_imports.py.)"""

from __future__ import annotations

import subprocess
import sys

# fronts and the modes that wire them: the engine meets them only through engine/seam.py
FORBIDDEN = ("rich", "prompt_toolkit", "tcpcli.fronts", "tcpcli.modes")


def loaded_modules(imports: str, forbidden: tuple[str, ...]) -> list[str]:
    """The modules among `forbidden` (and their submodules) that `import IMPORTS` loads in a fresh Python."""
    probe = (
        f"import sys, {imports};"
        f"bad = [m for m in sys.modules if any(m == b or m.startswith(b + '.') for b in {forbidden!r})];"
        "print(','.join(bad))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    return [name for name in result.stdout.strip().split(",") if name]


def test_importing_the_engine_loads_no_front() -> None:
    assert loaded_modules("tcpcli.engine.hub, tcpcli.engine.seam, tcpcli.engine.stderr", FORBIDDEN) == []


def test_importing_the_relay_engine_loads_no_front() -> None:
    assert loaded_modules("tcpcli.engine.relay, tcpcli.engine.relayed, tcpcli.engine.splice", FORBIDDEN) == []
