"""What every session needs from a connection, whether a plain socket or a TLS channel.

Sessions make blocking calls only. Kernel fast paths (splice, sendfile) need the real socket underneath,
which `plain_socket` tells apart: a TLS channel must see every byte to encrypt or decrypt it.
"""

from __future__ import annotations

import socket
from typing import Any, Protocol, TypeGuard


class Connection(Protocol):
    def recv(self, size: int, flags: int = ..., /) -> bytes: ...
    def recv_into(self, buffer: Any, nbytes: int = ..., flags: int = ..., /) -> int: ...
    def sendall(self, data: Any, /) -> None: ...
    def shutdown(self, how: int, /) -> None: ...
    def close(self) -> None: ...
    def getpeername(self) -> Any: ...
    def fileno(self) -> int: ...


def plain_socket(conn: Connection) -> TypeGuard[socket.socket]:
    """A kernel socket with nothing in between (an ssl.SSLSocket is a socket too, but not a plain one)."""
    return type(conn) is socket.socket
