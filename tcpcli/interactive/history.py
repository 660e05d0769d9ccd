"""Where typed lines are remembered between sessions, and what happens when that place is not writable.

History is a convenience: a read-only home, a full disk or a bad XDG_STATE_HOME must never stop a session,
so every failure falls back to in-memory history with one warning.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from prompt_toolkit.history import FileHistory, History, InMemoryHistory

Warn = Callable[[str], None]


def history_path(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_STATE_HOME/tcpcli/history`; the XDG spec says to ignore a relative value, so we do."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME", "")
    if not os.path.isabs(base):
        home = env.get("HOME") or os.path.expanduser("~")
        base = os.path.join(home, ".local", "state")
    return Path(base) / "tcpcli" / "history"


class SafeFileHistory(FileHistory):
    """A FileHistory that goes on in memory (and says so once) when its file fails mid-session."""

    def __init__(self, path: Path, warn: Warn) -> None:
        super().__init__(str(path))
        self._path = path
        self._warn = warn
        self._failed = False

    def load_history_strings(self) -> Iterable[str]:
        try:
            return list(super().load_history_strings())
        except OSError as exc:
            self._fail(exc, "read")
            return []

    def store_string(self, string: str) -> None:
        if self._failed:
            return
        try:
            super().store_string(string)
        except OSError as exc:
            self._fail(exc, "write")

    def _fail(self, exc: OSError, doing: str) -> None:
        if not self._failed:
            self._failed = True
            self._warn(f"history kept in memory only: cannot {doing} {self._path} ({exc.strerror or exc})")


def open_history(enabled: bool, warn: Warn, environ: Mapping[str, str] | None = None) -> History:
    """The session's history; the file is created private (0600): typed lines may hold passwords."""
    if not enabled:
        return InMemoryHistory()
    path = history_path(environ)
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600))
    except OSError as exc:
        warn(
            f"history kept in memory only: cannot write {path} ({exc.strerror or exc});"
            " --no-history turns it off"
        )
        return InMemoryHistory()
    return SafeFileHistory(path, warn)
