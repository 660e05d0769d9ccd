"""`tcpcli --demo`: a small line server on 127.0.0.1 in this process, and a normal client session to it.

The server serves exactly one client (ours), so a plain thread with blocking sockets is enough. It greets,
echoes each line, answers `records` with binary records (something to try --hex and --struct on) and says
goodbye when the client ends its input. With a --struct view it sends records only: text would be cut into
meaningless records.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

from tcpcli.core.events import DemoServerStarted, format_address
from tcpcli.errors import ExitCode, TcpcliError
from tcpcli.modes.connect import run_on_socket
from tcpcli.net.connect import open_connection
from tcpcli.report import Reporter
from tcpcli.settings import Settings, View

__all__ = ["HELP", "RECORDS", "RECORD_FIELDS", "RECORD_FORMAT", "goodbye", "greeting", "records", "run_demo"]

RECORD_FORMAT = "<HI"  # little-endian: uint16 id, uint32 len (6 bytes, no padding)
RECORD_FIELDS = "id,len"
RECORDS = ((1, 64), (2, 1500), (3, 9000), (4, 65535))

# The demo client connects at once; this only bounds the wait if something went wrong before it could.
ACCEPT_TIMEOUT = 15.0
# Longest line the demo server buffers while waiting for its newline (echoed as is when exceeded).
MAX_LINE = 64 * 1024

HELP = """\
Type a line: it comes back to you (echo). Commands:
  records   4 binary records of 6 bytes: uint16 id, uint32 len (struct '<HI')
  help      this text
  bye       the server says goodbye and closes (so does Ctrl-D)
Try the binary views too:
  tcpcli --demo --struct '<HI' --fields id,len     records as a table
  tcpcli --demo --hex     then type "records" as hex: 72 65 63 6f 72 64 73 0a
                          (or F2 to type text, F2 again for the hex view)
"""


def greeting(address: str) -> bytes:
    return f"Welcome to the tcpcli demo server on {address}.\n{HELP}".encode()


def records() -> bytes:
    return b"".join(struct.pack(RECORD_FORMAT, *record) for record in RECORDS)


def goodbye(lines: int, received: int) -> bytes:
    line_word = "line" if lines == 1 else "lines"
    return f"Goodbye from the tcpcli demo: you sent {lines} {line_word} ({received} bytes).\n".encode()


class DemoServer:
    """Listens on 127.0.0.1 (a free port), serves one client in a background thread."""

    def __init__(self, records_only: bool) -> None:
        self._records_only = records_only
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self._listener.settimeout(ACCEPT_TIMEOUT)
        self.port: int = self._listener.getsockname()[1]
        self.address = format_address("127.0.0.1", self.port)
        self._conn: socket.socket | None = None
        self._thread = threading.Thread(target=self._serve, name="demo-server", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self._listener.close()
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
        self._thread.join(1.0)

    def _serve(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except OSError:
            return
        self._conn = conn
        with contextlib.suppress(OSError):  # our own client went away: nothing to report
            self._talk(conn)

    def _talk(self, conn: socket.socket) -> None:
        conn.sendall(records() if self._records_only else greeting(self.address))
        pending = b""
        lines = received = 0
        said_bye = False
        while data := conn.recv(65536):
            received += len(data)
            if said_bye:
                continue  # read on until the client's FIN: closing with unread data would send a reset
            pending += data
            while not said_bye and (b"\n" in pending or len(pending) > MAX_LINE):
                line, newline, pending = pending.partition(b"\n")
                lines += 1
                said_bye = not self._answer(conn, line + newline)
        if said_bye:
            return
        if pending:  # a last line without its newline still counts
            lines += 1
            self._answer(conn, pending)
        if not self._records_only:
            conn.sendall(goodbye(lines, received))
        conn.shutdown(socket.SHUT_WR)

    def _answer(self, conn: socket.socket, line: bytes) -> bool:
        """Reply to one line; False when the client said bye (the server has sent its FIN then)."""
        command = line.strip().lower()
        if self._records_only or command == b"records":
            conn.sendall(records())
        elif command == b"help":
            conn.sendall(HELP.encode())
        elif command in (b"bye", b"quit", b"exit"):
            conn.sendall(b"Goodbye from the tcpcli demo.\n")
            conn.shutdown(socket.SHUT_WR)
            return False
        else:
            conn.sendall(line)
        return True


def run_demo(settings: Settings, reporter: Reporter) -> int:
    """Start the demo server, then run the session a connect would (interactive or stream) against it."""
    assert settings.connect is not None
    if settings.connect.tls.enabled:
        raise TcpcliError("--demo speaks plain TCP: leave out --tls", ExitCode.USAGE)
    records_only = settings.view.view is View.STRUCT
    server = DemoServer(records_only)
    event = DemoServerStarted(server.address, records_only, RECORD_FORMAT, RECORD_FIELDS)
    if records_only:
        reporter.always(event)  # otherwise the user would wonder where the greeting went
    else:
        reporter.event(event)
    server.start()
    try:
        target = settings.connect._replace(port=server.port)
        return run_on_socket(open_connection(target, reporter.event), settings, reporter)
    finally:
        server.stop()
