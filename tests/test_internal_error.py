"""A bug in tcpcli is one line and exit 70 (EX_SOFTWARE), never a wall of Python; TCPCLI_DEBUG=1 adds the
traceback. Signals stay signals even when they arrive wrapped in an ExceptionGroup (an asyncio TaskGroup)."""

from __future__ import annotations

import pytest

from tcpcli import cli
from tcpcli.errors import Terminated


def test_one_line_and_70(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TCPCLI_DEBUG", raising=False)
    assert cli._internal_error(ValueError("bad\nthing"), "never") == 70
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("tcpcli: internal error: ValueError: bad thing (a bug: please report it;")


def test_the_first_error_of_a_task_group_names_it(capsys: pytest.CaptureFixture[str]) -> None:
    group = ExceptionGroup("unhandled errors in a TaskGroup", [OSError(9, "Bad file descriptor")])
    assert cli._internal_error(group, "never") == 70
    assert "internal error: OSError: [Errno 9] Bad file descriptor" in capsys.readouterr().err


def test_traceback_on_request(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TCPCLI_DEBUG", "1")
    try:
        raise RuntimeError("boom")
    except RuntimeError as exc:
        assert cli._internal_error(exc, "never") == 70
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.rstrip().endswith(
        "TCPCLI_DEBUG=1 shows the traceback)"
    )


def test_a_sigterm_inside_a_task_group_stays_a_sigterm() -> None:
    with pytest.raises(Terminated):
        cli._internal_error(ExceptionGroup("group", [Terminated()]), "never")
