"""Where typed lines are remembered between sessions, and what happens when that place is not writable.

History is a convenience: a read-only home, a full disk or a bad XDG_STATE_HOME must never stop a session,
so every failure falls back to in-memory history with one warning.

Each service (the HOST:PORT connected to, as typed) keeps its own file, `$XDG_STATE_HOME/tcpcli/history.d/
HOST:PORT`, so Up in a Redis session recalls Redis commands, not a chat line. The shared file
`$XDG_STATE_HOME/tcpcli/history` is the fallback: sessions with no one service (listen mode, --demo) use it,
and a service's Up goes on into it once the service's own lines are exhausted (older lines, read only).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from prompt_toolkit.history import FileHistory, History, InMemoryHistory

__all__ = ["SafeFileHistory", "history_path", "open_history", "service_history_path"]

Warn = Callable[[str], None]

# Characters kept in a service's history file name; anything else (a `/` cannot be in a host, but be sure)
# becomes `_`.
_SAFE = re.compile(r"[^A-Za-z0-9._:\[\]-]")


def history_path(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_STATE_HOME/tcpcli/history`; the XDG spec says to ignore a relative value, so we do."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_STATE_HOME", "")
    if not os.path.isabs(base):
        home = env.get("HOME") or os.path.expanduser("~")
        base = os.path.join(home, ".local", "state")
    return Path(base) / "tcpcli" / "history"


def service_history_path(service: str, environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_STATE_HOME/tcpcli/history.d/HOST:PORT` (`[::1]:6379` for IPv6), lower case."""
    return history_path(environ).parent / "history.d" / _SAFE.sub("_", service.lower())


class SafeFileHistory(FileHistory):
    """A FileHistory that goes on in memory (and says so once) when its file fails mid-session.

    With a `fallback` file, its lines come after this file's own (older, never written to).
    """

    def __init__(self, path: Path, warn: Warn, fallback: Path | None = None) -> None:
        super().__init__(str(path))
        self._path = path
        self._warn = warn
        self._fallback = fallback
        self._failed = False

    def load_history_strings(self) -> Iterable[str]:
        try:
            own = list(super().load_history_strings())  # newest first
        except OSError as exc:
            self._fail(exc, "read")
            own = []
        if self._fallback is None or not self._fallback.exists():
            return own
        try:
            shared = list(FileHistory(str(self._fallback)).load_history_strings())
        except OSError:
            return own  # the shared file is a bonus: unreadable, it is simply not offered
        known = set(own)
        return own + [line for line in shared if line not in known]

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


def open_history(
    enabled: bool, warn: Warn, environ: Mapping[str, str] | None = None, service: str | None = None
) -> History:
    """The session's history: the service's own file (with the shared one behind it) or the shared file.

    Files are created private (0600, in 0700 directories): typed lines may hold passwords.
    """
    if not enabled:
        return InMemoryHistory()
    shared = history_path(environ)
    path = shared if service is None else service_history_path(service, environ)
    try:
        shared.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600))
    except OSError as exc:
        warn(
            f"history kept in memory only: cannot write {path} ({exc.strerror or exc});"
            " --no-history turns it off"
        )
        return InMemoryHistory()
    return SafeFileHistory(path, warn, None if service is None else shared)
