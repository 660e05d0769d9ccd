"""The environment is decided once at the face: colour of the stderr lines, tty-ness, TERM, the state home.

`--color never` on a terminal printed its final error line in red: the error funnel made its own Reporter
with `auto` colour, not knowing what the command line asked for.
"""

from __future__ import annotations

import os
import sys

import pexpect
import pytest

from tcpcli.settings import Environment, Flags
from tcpcli.validate import validate
from tests.conftest import free_port

RED = "\x1b[31m"


def _in_a_pty(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run tcpcli with stdin, stdout and stderr on one pty; (exit status, everything it wrote)."""
    environment = {name: value for name, value in os.environ.items() if name != "NO_COLOR"}
    environment.update({"TERM": "xterm-256color", **(env or {})})
    child = pexpect.spawn(sys.executable, ["-m", "tcpcli", *args], env=environment, timeout=20)
    output = child.read().decode("utf-8", "replace")  # up to EOF: the program has ended
    child.close()
    assert child.exitstatus is not None, output
    return child.exitstatus, output


def test_color_never_keeps_the_final_error_line_plain_on_a_terminal() -> None:
    code, output = _in_a_pty("--color", "never", "127.0.0.1", str(free_port()))
    assert code == 69
    assert "tcpcli: connect to 127.0.0.1:" in output
    assert "\x1b[" not in output


def test_the_error_line_is_red_on_a_terminal_by_default() -> None:
    """The control for the test above: the pty does show colour when nothing turns it off."""
    code, output = _in_a_pty("127.0.0.1", str(free_port()))
    assert code == 69
    assert f"{RED}tcpcli: connect to 127.0.0.1:" in output


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (["127.0.0.1", "CLOSED"], {"NO_COLOR": "1"}),
        (["--color", "never", "-w", "ten", "127.0.0.1", "CLOSED"], None),  # a usage error from validate
        (["--color", "never", "--bogus", "127.0.0.1", "CLOSED"], None),  # a usage error from typer
        (["--color=never", "-xv", "--bogus", "127.0.0.1", "CLOSED"], None),
    ],
)
def test_no_color_and_color_never_reach_every_error_line(args: list[str], env: dict[str, str] | None) -> None:
    port = str(free_port())
    code, output = _in_a_pty(*(port if arg == "CLOSED" else arg for arg in args), env=env)
    assert code in (2, 69)
    assert "tcpcli: " in output and "\x1b[" not in output


TERMINAL = Environment(stdin_tty=True, stdout_tty=True, stderr_tty=True, term="xterm")


@pytest.mark.parametrize(
    ("choice", "env", "stdout", "stderr"),
    [
        ("auto", TERMINAL, "always", True),
        ("auto", TERMINAL._replace(no_color=True), "never", False),
        ("auto", TERMINAL._replace(stdout_tty=False), "never", True),
        ("auto", TERMINAL._replace(stderr_tty=False), "always", False),
        ("never", TERMINAL, "never", False),
        ("always", Environment(no_color=True), "always", True),  # an explicit choice beats NO_COLOR
    ],
)
def test_colour_is_resolved_once_from_the_choice_and_the_environment(
    choice: str, env: Environment, stdout: str, stderr: bool
) -> None:
    settings = validate(Flags(args=("127.0.0.1", "80"), color=choice), env)
    assert settings.view.color == stdout
    assert settings.stderr_color is stderr
    assert settings.env is env


def test_interactive_needs_a_terminal_on_both_ends() -> None:
    assert TERMINAL.interactive
    assert not TERMINAL._replace(stdin_tty=False).interactive
    assert not TERMINAL._replace(stdout_tty=False).interactive


def test_the_face_reads_no_terminal_for_stdin_with_d_and_resolves_the_state_home() -> None:
    from tcpcli.cli import detect_environment

    env = detect_environment(read_stdin=False)
    assert env.stdin_tty is False
    assert os.path.isabs(env.state_home)
    assert env.variables["XDG_STATE_HOME"] == env.state_home
