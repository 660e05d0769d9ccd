"""Relay mode (`-l [HOST] PORT --to TARGET`): the relay engine (engine.relay) wired to a transcript front.

The front is the transcript on stdout (fronts.pipes.transcript) when stdout is not a terminal, the
terminal's (fronts.terminal.transcript) when a person is on stdin and stdout, or none with --no-transcript
(then the engine moves the bytes in the kernel when neither side is TLS and there is no --hex-log).
"""

from __future__ import annotations

import socket
import ssl

from tcpcli.engine.relay import Relay
from tcpcli.engine.seam import Controls, Transcript, TranscriptFactory
from tcpcli.engine.stdio import write_all
from tcpcli.modes.asyncrun import run_async_engine
from tcpcli.net.bind import listener_for, listening_address, raise_open_file_limit
from tcpcli.net.upstream import check_target, target_label
from tcpcli.report import Reporter
from tcpcli.settings import Settings

__all__ = ["run_relay"]


def run_relay(settings: Settings, reporter: Reporter) -> int:
    """Bind, announce, relay until SIGINT/SIGTERM (or, without -k, until the one client is done)."""
    listen, relay = settings.listen, settings.relay
    assert listen is not None and relay is not None
    check_target(relay.target)  # before binding: a target this build cannot reach
    client_tls = _server_context(settings)  # bad files: fail before binding
    upstream_tls = _client_context(settings, reporter)
    raise_open_file_limit()
    with listener_for(listen) as listener:
        return _relay(listener, settings, reporter, client_tls, upstream_tls)


def _relay(
    listener: socket.socket,
    settings: Settings,
    reporter: Reporter,
    client_tls: ssl.SSLContext | None,
    upstream_tls: ssl.SSLContext | None,
) -> int:
    relay = settings.relay
    assert relay is not None
    address = listening_address(listener)
    from tcpcli.core.events import Listening

    reporter.always(Listening(address))  # first stderr line: scripts read the port
    interactive = relay.transcript and settings.env.interactive
    factory = _front(settings, reporter, interactive, f"{address} -> {target_label(relay.target)}")
    if settings.session.record is not None:  # a recording front around the transcript (or in its place)
        from tcpcli.engine.recorder import Recorder
        from tcpcli.engine.relayrecord import recording_front

        recorder = Recorder(settings.session.record, "relay", settings.session.redact, reporter.warning)
        factory = recording_front(recorder, factory, reporter)
    engine = Relay(listener, settings, reporter, factory, client_tls, upstream_tls)
    return run_async_engine(engine, interactive)


def _front(settings: Settings, reporter: Reporter, interactive: bool, title: str) -> TranscriptFactory | None:
    relay = settings.relay
    assert relay is not None
    if not relay.transcript:
        return None
    if interactive:

        def terminal(controls: Controls) -> Transcript:
            from tcpcli.fronts.terminal.plainfront import terminal_can_be_driven
            from tcpcli.fronts.terminal.transcript import TerminalTranscript

            plain = not terminal_can_be_driven(settings.env.variables)
            return TerminalTranscript(settings, title, controls, plain)

        return terminal

    def pipes(controls: Controls) -> Transcript:
        from tcpcli.fronts.pipes.transcript import PipeTranscript

        return PipeTranscript(settings.view, reporter, controls, _stdout)

    return pipes


def _server_context(settings: Settings) -> ssl.SSLContext | None:
    assert settings.listen is not None
    if not settings.listen.tls.enabled:
        return None
    from tcpcli.net.tls import server_context

    return server_context(settings.listen.tls)


def _client_context(settings: Settings, reporter: Reporter) -> ssl.SSLContext | None:
    """--to-tls: verified by default; --insecure is said once, at start (not per connection)."""
    assert settings.relay is not None
    tls = settings.relay.upstream.tls
    if not tls.enabled:
        return None
    from tcpcli.net.tls import INSECURE_WARNING, client_context

    context = client_context(tls)
    if tls.insecure:
        reporter.warning(INSECURE_WARNING.replace("the server's", "the upstream's"))
    return context


def _stdout(data: bytes) -> None:
    """The transcript's stdout: every byte out, waiting for room on a non-blocking pipe."""
    write_all(1, data)
