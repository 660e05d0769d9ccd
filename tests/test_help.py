"""--help, shell completion and the manual page: all from the one option declaration in command.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tcpcli.command import EPILOG, HELP
from tests.conftest import TCPCLI, run_tcpcli

ROOT = Path(__file__).resolve().parent.parent
MAN_PAGE = ROOT / "man" / "tcpcli.1"

EXAMPLES = [
    "tcpcli example.org 80",
    "printf 'PING\\r\\n' | tcpcli host 6379",
    "tcpcli -z db.local 5432",
    "tcpcli host 6379 --send 'PING\\r\\n' --expect PONG",
    "tcpcli -l 8080 --echo -k",
    "tcpcli --demo",
]
EXIT_CODES = [
    "0   ok",
    "1   port closed, no match",
    "2   usage error",
    "65  bad script or -u line",
    "66  unreadable input file",
    "68  unknown host",
]
EXIT_CODES += ["69  refused, address in use", "73  cannot create output", "74  reset or I/O error"]
EXIT_CODES += ["75  timeout", "76  TLS failed", "77  permission denied", "130 Ctrl-C, 143 SIGTERM"]
EXIT_CODES += ["70  a bug in tcpcli"]


@pytest.mark.parametrize("columns", [80, 60])
def test_help_fits_the_terminal_and_keeps_examples_and_exit_codes_whole(columns: int) -> None:
    """At 80 columns the examples' descriptions and the exit-code list wrapped mid-phrase."""
    result = run_tcpcli("--help", env={"COLUMNS": str(columns)})
    assert result.code == 0
    lines = result.stdout.decode().splitlines()
    assert max(len(line.rstrip()) for line in lines) <= columns
    text = "\n".join(lines)
    for example in EXAMPLES:
        assert f"   {example}" in text, example
    for entry in EXIT_CODES:
        assert entry in text, entry


def test_help_mentions_completion_and_the_manual_page() -> None:
    text = run_tcpcli("--help", env={"COLUMNS": "80"}).stdout.decode()
    assert "--install-completion" in text and "man tcpcli" in text


def test_help_text_lines_never_need_wrapping_at_60_columns() -> None:
    for line in (HELP + EPILOG).splitlines():
        if not line.startswith(("A netcat", "Shell completion", "(installed")):  # prose: wraps at spaces
            assert len(line) <= 56, line


def _complete(shell: str, words: str) -> str:
    env = {**os.environ, "_TCPCLI_COMPLETE": f"complete_{shell}", "_TYPER_COMPLETE_ARGS": words}
    if shell == "bash":
        env.update(COMP_WORDS=words, COMP_CWORD=str(len(words.split()) - 1))
    if shell == "fish":
        env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    proc = subprocess.run(
        TCPCLI, env=env, capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_answers_each_shell_with_our_options(shell: str) -> None:
    """`--install-completion` was 'No such option'; the scripts it installs call tcpcli like this."""
    answer = _complete(shell, "tcpcli --keepalive-i")
    assert "--keepalive-idle" in answer and "--keepalive-interval" in answer
    assert "--keep-open" not in answer


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_show_completion_gives_a_script_for_each_shell(shell: str) -> None:
    env = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    result = run_tcpcli("--show-completion", shell, env=env)
    assert result.code == 0, result.stderr
    assert "_TCPCLI_COMPLETE" in result.stdout.decode()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completes_an_option_through_the_installed_script(tmp_path: Path) -> None:
    """The real thing: bash sources the script and calls its completion function, which runs tcpcli."""
    shim = tmp_path / "tcpcli"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m tcpcli "$@"\n')
    shim.chmod(0o755)
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    env["_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION"] = "1"
    script = (
        'eval "$(tcpcli --show-completion bash)"; COMP_WORDS=(tcpcli --no-h); COMP_CWORD=1; '
        '_tcpcli_completion tcpcli; printf "%s\\n" "${COMPREPLY[@]}"'
    )
    proc = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert proc.stdout.split() == ["--no-history", "--no-half-close"], proc.stderr


def test_plain_runs_never_import_typer_even_with_completion_installed() -> None:
    """Completion is answered only when the shell asks (_TCPCLI_COMPLETE set): plain runs stay fast."""
    code = (
        "import sys; from tcpcli import cli; sys.argv = ['tcpcli', '-z', '127.0.0.1', '1'];\n"
        "import os\n"
        "real_exit = os._exit\n"
        "os._exit = lambda c: (print('typer' in sys.modules), real_exit(0))\n"
        "cli.main()"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert proc.stdout.strip() == "False", proc.stderr


def test_the_manual_page_is_generated_from_the_current_declaration() -> None:
    """Regenerate with: python -m tcpcli.manpage > man/tcpcli.1"""
    from tcpcli.manpage import render_manpage

    assert MAN_PAGE.read_text() == render_manpage()


def test_the_manual_page_documents_every_option_and_exit_code() -> None:
    from tcpcli.errors import ExitCode
    from tcpcli.fastargs import SWITCHES, VALUED

    page = MAN_PAGE.read_text()
    for option in [*SWITCHES, *VALUED, "--help", "--version", "--install-completion"]:
        escaped = option.replace("-", "\\-")
        assert f"\\fB{escaped}\\fR" in page, option
    for code in ExitCode:
        assert f".TP\n\\fB{code.value}\\fR\n" in page, code


def test_the_manual_page_is_installed_where_man_looks() -> None:
    """PREFIX/share/man/man1 of the venv or pipx environment: man finds it from PATH's PREFIX/bin."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert config["tool"]["setuptools"]["data-files"]["share/man/man1"] == ["man/tcpcli.1"]


@pytest.mark.skipif(shutil.which("man") is None, reason="needs man")
def test_man_renders_the_page_without_warnings() -> None:
    proc = subprocess.run(
        ["man", "--warnings", "-l", str(MAN_PAGE)],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "MANWIDTH": "80", "MANPAGER": "cat", "PAGER": "cat"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "EXIT STATUS" in proc.stdout and "--keepalive-idle" in proc.stdout.replace("\u2010", "-")
