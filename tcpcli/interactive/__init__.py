"""tcpcli.interactive: the terminal session (prompt_toolkit input line, rich rendering of received data)."""

from __future__ import annotations

import importlib
import threading


def preload() -> None:
    """Import the session (prompt_toolkit, rich: ~150 ms) in a thread while the connection is being opened.

    Name resolution, the TCP handshake and TLS wait on the network with the GIL released, so the imports
    overlap them and the input line appears sooner after connecting. Importing from a thread is safe: the
    main thread simply waits on the module lock if it needs the session before the import has finished.

    The light part that starts reading the socket is imported here first, in this thread: once connected, the
    reader must start at once, not wait for a module lock held by the heavy import (dataclasses, socket...).
    """
    importlib.import_module("tcpcli.interactive.session")
    threading.Thread(
        target=importlib.import_module,
        args=("tcpcli.interactive.peersession",),
        name="tcpcli-preload",
        daemon=True,
    ).start()
