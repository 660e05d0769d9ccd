"""--telnet with the many-clients server (-k, --echo, --exec): each client's option requests are refused to
that client, and the negotiation never reaches stdout, the relay or the program."""

from __future__ import annotations

import socket
import subprocess

from tests.conftest import recv_all
from tests.listen_helpers import recv_exactly, running

LOCAL = "127.0.0.1"
IAC, DONT, DO, WONT, WILL = 255, 254, 253, 252, 251


def test_keep_open_refuses_each_clients_options_and_keeps_them_out_of_stdout() -> None:
    with running("-l", "-k", "-v", "--telnet", LOCAL, "0", stdout=subprocess.PIPE) as server:
        first, second = server.connect(), server.connect()
        server.wait_stderr("(2 clients)")
        first.sendall(bytes((IAC, DO, 1)) + b"login: " + bytes((IAC, WILL, 3)))
        second.sendall(bytes((IAC, IAC)) + b"x" + bytes((IAC,)))  # an escaped 0xFF, then a command cut in two
        assert recv_exactly(first, 6) == bytes((IAC, WONT, 1, IAC, DONT, 3))
        second.sendall(bytes((DO, 24)))
        assert recv_exactly(second, 3) == bytes((IAC, WONT, 24))  # to that client only
        first.sendall(b"ab" + bytes((IAC,)))  # a FIN inside a command: the byte is data after all
        first.shutdown(socket.SHUT_WR)
        assert recv_all(first) == b""
        second.close()
        first.close()
        server.wait_stderr("left")
        server.wait_stderr("left")
        assert server.stop() == 143
        assert server.proc.stdout is not None
        out = server.proc.stdout.read()
        assert out.endswith(b"ab\xff")  # the last data: after the other client's, which came first
        assert out[:9] in (b"login: \xffx", b"\xffxlogin: ") and len(out) == 12  # either client first


def test_exec_program_gets_the_data_without_the_negotiation() -> None:
    with running("-l", "--telnet", "--exec", "od -An -tx1", LOCAL, "0", stdin=subprocess.DEVNULL) as server:
        with server.connect() as client:
            client.sendall(bytes((IAC, DO, 1)) + b"A" + bytes((IAC, IAC)))
            assert recv_exactly(client, 3) == bytes((IAC, WONT, 1))
            client.shutdown(socket.SHUT_WR)
            assert recv_all(client).split() == [b"41", b"ff"]
        assert server.wait() == 0
