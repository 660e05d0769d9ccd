"""Keep-alive and no-delay socket options, set the same way for connected and accepted sockets."""

from __future__ import annotations

import math
import socket

from tcpcli.settings import SocketOptions

# macOS names the idle time TCP_KEEPALIVE; Linux and the BSDs call it TCP_KEEPIDLE.
_KEEPIDLE = getattr(socket, "TCP_KEEPIDLE", getattr(socket, "TCP_KEEPALIVE", None))


def apply_socket_options(sock: socket.socket, opts: SocketOptions) -> None:
    """Set what the user asked for; options this platform lacks are skipped rather than failing."""
    if opts.nodelay:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not opts.keepalive:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    timers = (
        (_KEEPIDLE, opts.keepalive_idle),
        (getattr(socket, "TCP_KEEPINTVL", None), opts.keepalive_interval),
        (getattr(socket, "TCP_KEEPCNT", None), opts.keepalive_count),
    )
    for option, value in timers:
        if option is not None and value is not None:
            # The kernel counts these in whole seconds; round up so 1.5 never becomes "1".
            sock.setsockopt(socket.IPPROTO_TCP, option, math.ceil(value))
