"""The --telnet filter as a pure function of the received bytes: refusals, removal, chunking invariance."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tcpcli.core.telnet import DO, DONT, IAC, SB, SE, WILL, WONT, TelnetFilter, TelnetOutput

ECHO, SGA, NAWS, TTYPE = 1, 3, 31, 24


def whole(data: bytes) -> tuple[bytes, bytes]:
    f = TelnetFilter()
    out = f.feed(data)
    return out.data + f.finish(), out.reply


def chunked(data: bytes, cuts: list[int]) -> tuple[bytes, bytes]:
    f = TelnetFilter()
    text = bytearray()
    reply = bytearray()
    start = 0
    for cut in [*sorted(cuts), len(data)]:
        out = f.feed(data[start:cut])
        text += out.data
        reply += out.reply
        start = max(start, cut)
    text += f.finish()
    return bytes(text), bytes(reply)


def test_plain_data_passes_untouched() -> None:
    assert TelnetFilter().feed(b"login: ") == TelnetOutput(b"login: ", b"")


def test_do_is_refused_with_wont_and_will_with_dont() -> None:
    out = TelnetFilter().feed(bytes([IAC, DO, TTYPE, IAC, WILL, ECHO, IAC, DO, NAWS]) + b"login: ")
    assert out.data == b"login: "
    assert out.reply == bytes([IAC, WONT, TTYPE, IAC, DONT, ECHO, IAC, WONT, NAWS])


def test_dont_and_wont_get_no_reply() -> None:
    assert TelnetFilter().feed(bytes([IAC, DONT, ECHO, IAC, WONT, SGA]) + b"x") == TelnetOutput(b"x", b"")


def test_iac_iac_is_one_data_byte_0xff() -> None:
    assert TelnetFilter().feed(b"a" + bytes([IAC, IAC]) + b"b") == TelnetOutput(b"a\xffb", b"")


def test_subnegotiation_is_removed_including_escaped_iac_inside() -> None:
    sub = bytes([IAC, SB, TTYPE, 1, IAC, IAC, 7, IAC, SE])
    assert TelnetFilter().feed(b"<" + sub + b">") == TelnetOutput(b"<>", b"")


def test_other_commands_are_removed_without_reply() -> None:
    assert TelnetFilter().feed(bytes([IAC, 241, IAC, 249]) + b"ok") == TelnetOutput(b"ok", b"")


def test_iac_other_inside_subnegotiation_ends_it_and_is_read_as_a_command() -> None:
    out = TelnetFilter().feed(bytes([IAC, SB, TTYPE, 1, IAC, DO, ECHO]) + b"x")
    assert out == TelnetOutput(b"x", bytes([IAC, WONT, ECHO]))


def test_partial_sequence_at_eof_is_given_back_as_data() -> None:
    for tail in ([IAC], [IAC, DO], [IAC, SB, TTYPE, 1], [IAC, SB, TTYPE, IAC]):
        f = TelnetFilter()
        assert f.feed(b"p" + bytes(tail)) == TelnetOutput(b"p", b"")
        assert f.finish() == bytes(tail)
        assert f.finish() == b""


def test_sequence_split_across_feeds_is_held() -> None:
    f = TelnetFilter()
    assert f.feed(b"a" + bytes([IAC])) == TelnetOutput(b"a", b"")
    assert f.feed(bytes([DO])) == TelnetOutput(b"", b"")
    assert f.feed(bytes([ECHO]) + b"b") == TelnetOutput(b"b", bytes([IAC, WONT, ECHO]))


def test_unterminated_subnegotiation_keeps_bounded_memory() -> None:
    f = TelnetFilter()
    for _ in range(40):
        f.feed(b"z" * 65536)  # before the SB: plain data
    f.feed(bytes([IAC, SB]))
    for _ in range(40):
        assert f.feed(b"y" * 65536) == TelnetOutput(b"", b"")
    assert len(f.finish()) <= 64 * 1024


# Bytes rich in telnet structure: IAC, the verbs and SB/SE much more often than at random.
telnet_bytes = st.lists(
    st.one_of(st.sampled_from([IAC, DO, DONT, WILL, WONT, SB, SE, 241, 1, 24]), st.integers(0, 255)),
    max_size=200,
).map(bytes)


@settings(max_examples=400)
@given(data=telnet_bytes, cuts=st.lists(st.integers(0, 200), max_size=12))
def test_any_chunking_gives_the_same_output_as_the_whole(data: bytes, cuts: list[int]) -> None:
    assert chunked(data, [min(c, len(data)) for c in cuts]) == whole(data)


@given(data=st.binary(max_size=200))
def test_data_without_iac_is_unchanged(data: bytes) -> None:
    data = data.replace(b"\xff", b"")
    assert whole(data) == (data, b"")


@given(data=st.binary(max_size=200))
def test_escaped_data_round_trips(data: bytes) -> None:
    assert whole(data.replace(b"\xff", b"\xff\xff")) == (data, b"")
