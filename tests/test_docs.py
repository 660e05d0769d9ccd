"""The docs keep up with the program: every option is documented, the README gives the two commands."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tcpcli.options import OPTIONS

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("option", sorted(name for option in OPTIONS for name in option.names))
def test_every_option_is_in_the_options_reference(option: str) -> None:
    text = (ROOT / "docs" / "options.md").read_text()
    assert f"`{option}" in text or f" {option}`" in text or f", {option}" in text


INSTALL_COMMAND = "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/tcpcli --demo"
TEST_COMMAND = "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest"


def _shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```sh\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def test_readme_gives_the_install_and_test_commands_ci_runs() -> None:
    """A bare `pip install .` fails on Debian/Ubuntu (PEP 668): the README installs into a venv, says why,
    and CI runs its first two shell blocks exactly as written."""
    text = (ROOT / "README.md").read_text()
    assert [block.strip() for block in _shell_blocks(text)[:2]] == [INSTALL_COMMAND, TEST_COMMAND]
    assert "externally-managed-environment" in text
    ci = (ROOT / ".ci" / "run").read_text()
    assert "install_command=$(readme_block 1)" in ci and "test_command=$(readme_block 2)" in ci
    assert 'bash -euo pipefail -c "$install_command" </dev/null' in ci
    assert 'bash -euo pipefail -c "$test_command"' in ci


SEED = re.compile(r"\bseed(?:'s)?\b", re.IGNORECASE)


@pytest.mark.parametrize(
    "page", ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]
)
def test_docs_speak_to_users_not_about_the_project_history(page: str) -> None:
    """'the seed's C server' meant something only to the people who wrote tcpcli."""
    for number, line in enumerate((ROOT / page).read_text().splitlines(), 1):
        assert not SEED.search(line), f"{page}:{number}: {line}"


RUNNABLE = "<!-- docs test: runnable -->"


def _runnable_blocks() -> list[tuple[str, str]]:
    found = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        parts = page.read_text().split(RUNNABLE)
        for part in parts[1:]:
            found.append((page.name, _shell_blocks(part.lstrip("\n"))[0]))
    return found


@pytest.mark.parametrize(("page", "script"), _runnable_blocks())
def test_runnable_recipes_run_and_end(page: str, script: str, tmp_path: Path) -> None:
    """A recipe marked runnable runs as written (tcpcli on PATH, loopback only) and ends by itself.

    The port-0 recipe used to be `tcpcli -l 0 2>&1 >/dev/null | head -1`, which never ends.
    """
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "tcpcli").write_text(f'#!/bin/sh\nexec {sys.executable} -m tcpcli "$@"\n')
    (shim / "tcpcli").chmod(0o755)
    env = {**os.environ, "PATH": f"{shim}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        timeout=30,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, (page, proc.stdout, proc.stderr)
    assert b"Traceback" not in proc.stderr


def test_every_exit_code_is_documented() -> None:
    from tcpcli.errors import ExitCode

    text = (ROOT / "docs" / "guide.md").read_text()
    for code in ExitCode:
        assert f"| {code.value} " in text or f"| {code.value} /" in text or f"/ {code.value} |" in text, code


def test_doc_links_point_at_files_that_exist() -> None:
    import re

    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
