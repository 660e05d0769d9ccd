"""The stderr lines: one safe line each (core.visible.one_line), coloured only when the face decided so."""

from __future__ import annotations

import io

from tcpcli.report import Reporter


def test_a_message_is_one_safe_line_even_with_bidi_and_line_breaks() -> None:
    """The report's own control-character table let U+202E (right-to-left override) through."""
    out = io.StringIO()
    Reporter(stream=out).error("bad value 'a\u202eb\r\n\x1b[2J'")
    assert out.getvalue() == "tcpcli: bad value 'a\\u202eb\\r\\n\\x1b[2J'\n"


def test_colour_is_what_the_face_decided() -> None:
    plain, red = io.StringIO(), io.StringIO()
    Reporter(color=False, stream=plain).error("x")
    Reporter(color=True, stream=red).error("x")
    assert plain.getvalue() == "tcpcli: x\n"
    assert red.getvalue() == "\x1b[31mtcpcli: x\x1b[0m\n"
