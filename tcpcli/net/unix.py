"""Unix stream sockets (-U PATH): names as shown, connect within a deadline, listen with stale-file handling.

A PATH starting with `@` is a Linux abstract name (the kernel's leading NUL): no file, nothing to clean up.
A path socket's file is ours to remove at exit, but only while it is still the file we bound (same device and
inode): a second server that replaced it keeps its file.
"""

from __future__ import annotations

import errno
import os
import socket
import stat

from tcpcli.errors import ExitCode, TcpcliError, translate_os_error

__all__ = [
    "ABSTRACT",
    "STALE_PROBE_SECONDS",
    "SocketFile",
    "bind_unix",
    "check_unix_path",
    "connect_unix",
    "show_bound",
    "show_unix",
    "sockaddr",
    "unix_client_label",
    "unix_connect_error",
]

ABSTRACT = "@"  # -U @name: the abstract namespace (Linux), written the way ss(8) and systemd show it
# sun_path is 108 bytes on Linux, one of them the terminating NUL (an abstract name uses its leading byte).
_MAX_PATH_BYTES = 107
# Listening where a socket file exists: a server that does not accept within this long counts as alive.
STALE_PROBE_SECONDS = 1.0
TARGET_PREFIX = "unix:"


def check_unix_path(path: str) -> str | None:
    """Why the kernel would refuse PATH as a socket address (a short phrase), or None when it is fine."""
    if not path or path == ABSTRACT:
        return "empty socket name (give a path like /tmp/app.sock, or @name for an abstract socket)"
    if "\0" in path:
        return "a socket path cannot contain a NUL byte"
    size = len(os.fsencode(path))
    if size > _MAX_PATH_BYTES:
        return f"'{path}' is {size} bytes; the kernel takes at most {_MAX_PATH_BYTES} (use a shorter path)"
    return None


def sockaddr(path: str) -> str | bytes:
    """The address for connect/bind: `@name` becomes the abstract `\\0name`."""
    if path.startswith(ABSTRACT):
        return b"\0" + os.fsencode(path[1:])
    return path


def show_unix(path: str) -> str:
    """How messages and labels name a Unix socket: `unix:/run/app.sock`, or `@name` for an abstract one."""
    return path if path.startswith(ABSTRACT) else f"{TARGET_PREFIX}{path}"


def show_bound(sock: socket.socket) -> str:
    """`show_unix` for a bound socket: its name as the kernel reports it (bytes with a NUL when abstract)."""
    name = sock.getsockname()
    if isinstance(name, bytes):
        return ABSTRACT + os.fsdecode(name[1:]) if name.startswith(b"\0") else show_unix(os.fsdecode(name))
    return show_unix(str(name))


def unix_client_label(listener: socket.socket, number: int) -> str | None:
    """`unix:PATH#N` / `@name#N` for the Nth client of a Unix listener (no address to show); None for TCP."""
    if listener.family != socket.AF_UNIX:
        return None
    return f"{show_bound(listener)}#{number}"


def connect_unix(path: str, timeout: float) -> socket.socket:
    """A connected, blocking Unix stream socket, or a TcpcliError: 69 refused or no such socket, 77, 75.

    `timeout` (seconds) bounds the connect: a server whose backlog is full makes connect(2) wait.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.settimeout(timeout)
        sock.connect(sockaddr(path))
        sock.settimeout(None)
    except OSError as exc:
        sock.close()
        raise unix_connect_error(exc, path, timeout) from exc
    return sock


def unix_connect_error(exc: OSError, path: str, timeout: float, doing: str | None = None) -> TcpcliError:
    """connect(2) to a Unix socket failed: the one wording (69 missing or refused, 77, 75 after `timeout` s),
    after `doing` (default `connect to unix:PATH`)."""
    if doing is None:
        doing = f"connect to {show_unix(path)}"
    if exc.errno == errno.ENOENT:
        what = "no such socket" if path.startswith(ABSTRACT) else "no such file (is the server running?)"
        return TcpcliError(f"{doing}: {what}", ExitCode.UNAVAILABLE)
    if exc.errno == errno.ECONNREFUSED:
        return TcpcliError(f"{doing}: connection refused (nothing is listening on it)", ExitCode.UNAVAILABLE)
    if exc.errno in (errno.EACCES, errno.EPERM):
        return TcpcliError(
            f"{doing}: permission denied (the socket's owner or group can use it)", ExitCode.NO_PERMISSION
        )
    if exc.errno == errno.ENOTDIR:
        return TcpcliError(f"{doing}: a part of the path is not a directory", ExitCode.UNAVAILABLE)
    error = translate_os_error(exc, doing)
    if error.exit_code is ExitCode.TIMEOUT:
        return TcpcliError(f"{doing}: timed out after {timeout:g} s (raise it with -w)", ExitCode.TIMEOUT)
    return error


class SocketFile:
    """The file of a bound path socket, removed by `remove()` only if it is still the one we bound."""

    def __init__(self, path: str) -> None:
        info = os.stat(path)
        self.path = path
        self._identity = (info.st_dev, info.st_ino)

    def remove(self) -> None:
        """Unlink the file unless it is gone or another process has bound a new one there since."""
        try:
            info = os.stat(self.path)
            if (info.st_dev, info.st_ino) == self._identity:
                os.unlink(self.path)
        except OSError:
            pass  # gone already, or not ours to remove: nothing to clean up


def bind_unix(path: str, backlog: int) -> tuple[socket.socket, SocketFile | None]:
    """A listening Unix socket and, for a path, its file to remove at exit (None for `@name`).

    A socket file left by a server that died (connect is refused) is removed and bound again; a live server
    there is exit 69; a file that is not a socket is never removed (69, the user decides).
    """
    try:
        return _bind(path, backlog)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise _bind_error(exc, path) from exc
    shown = show_unix(path)
    if path.startswith(ABSTRACT):
        raise TcpcliError(
            f"listen on {shown}: address in use: another process has bound it", ExitCode.UNAVAILABLE
        )
    _refuse_if_alive(path)
    try:
        os.unlink(path)
        return _bind(path, backlog)
    except OSError as exc:
        raise _bind_error(exc, path) from exc


def _bind(path: str, backlog: int) -> tuple[socket.socket, SocketFile | None]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(sockaddr(path))
        sock.listen(backlog)
        file = None if path.startswith(ABSTRACT) else SocketFile(path)
    except BaseException:
        sock.close()
        raise
    return sock, file


def _refuse_if_alive(path: str) -> None:
    """The file at PATH blocks the bind: a TcpcliError unless it is a socket nobody accepts on."""
    shown = show_unix(path)
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return  # gone meanwhile: the next bind decides
    if not stat.S_ISSOCK(mode):
        raise TcpcliError(
            f"listen on {shown}: {path} exists and is not a socket (not removed; pick another path)",
            ExitCode.UNAVAILABLE,
        )
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(STALE_PROBE_SECONDS)
    try:
        probe.connect(path)
    except ConnectionRefusedError:
        return  # stale: its server is gone
    except OSError as exc:
        if exc.errno in (errno.ENOENT,):
            return
        # a full backlog (timeout) or no permission: someone is there, or it is not ours to judge
        raise TcpcliError(
            f"listen on {shown}: address in use: cannot tell whether a server is listening there"
            f" ({exc.strerror or 'timed out'})",
            ExitCode.UNAVAILABLE,
        ) from exc
    finally:
        probe.close()
    raise TcpcliError(f"address in use: a server is listening on {shown}", ExitCode.UNAVAILABLE)


def _bind_error(exc: OSError, path: str) -> TcpcliError:
    doing = f"listen on {show_unix(path)}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return TcpcliError(
            f"{doing}: permission denied (the directory is not writable for you)", ExitCode.NO_PERMISSION
        )
    if exc.errno == errno.ENOENT:
        return TcpcliError(f"{doing}: no such directory", ExitCode.CANT_CREATE)
    return translate_os_error(exc, doing)
