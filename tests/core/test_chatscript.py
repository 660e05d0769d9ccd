"""The --script language, the option form of a dialogue, and how outcomes are worded."""

from __future__ import annotations

import pytest

from tcpcli.core.chatscript import ScriptError, parse_script
from tcpcli.core.steps import (
    Expect,
    FailOn,
    PatternError,
    Quit,
    Send,
    Sleep,
    captures_names,
    render,
    steps_from_options,
)
from tcpcli.core.verdict import SHOWN_BYTES, captures_json, fail_on_matched, not_seen, peer_closed

SCRIPT = """\
# a health check
fail-on ^-ERR
send AUTH secret\\r\\n

expect-within 2 \\+OK\\r\\n
send HELLO\\x00
expect (?P<token>[0-9a-f]+)\\r\\n
sleep 0.5
send USE ${token}\\r\\n
expect login: \r
quit QUIT\\r\\n
"""


def test_a_script_becomes_its_steps() -> None:
    steps = parse_script(SCRIPT, "check.chat", within=5)
    kinds = [type(step) for step in steps]
    assert kinds == [FailOn, Send, Expect, Send, Expect, Sleep, Send, Expect, Quit]
    assert steps[1] == Send((b"AUTH secret\r\n",))
    assert isinstance(steps[2], Expect) and (steps[2].within, steps[2].number) == (2, 1)
    assert steps[3] == Send((b"HELLO\x00",))
    assert isinstance(steps[4], Expect) and steps[4].within == 5 and steps[4].number == 2
    assert steps[5] == Sleep(0.5)
    assert steps[6] == Send((b"USE ", "token", b"\r\n"))
    assert isinstance(steps[7], Expect) and steps[7].source == "login: "  # trailing space kept, CR dropped
    assert steps[8] == Quit((b"QUIT\r\n",))


def test_names_are_filled_in_from_earlier_captures() -> None:
    assert render((b"USE ", "token", b"\r\n"), {"token": b"ab12"}) == b"USE ab12\r\n"
    assert render(("missing",), {"missing": None}) == b""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("send hi\nsned hi\n", "check.chat:2: unknown step 'sned'"),
        ("\n\nexpect (\n", "check.chat:3: bad regex /(/: missing ), unterminated subpattern at position 0"),
        ("send ${who}\n", "check.chat:1: ${who}: no earlier expect captures a group named 'who'"),
        ("expect-within soon x\n", "check.chat:1: 'soon' is not a number of seconds > 0 (e.g. 2 or 0.5)"),
        ("expect-within 2\n", "check.chat:1: expect-within needs S and a REGEX"),
        ("sleep -1\n", "check.chat:1: '-1' is not a number of seconds >= 0"),
        ("send\n", "check.chat:1: send needs the TEXT to send"),
        ("send \\q\n", "check.chat:1: unknown escape '\\q' at position 0"),
        ("quit\nsend x\n", "check.chat:2: a step after quit (line 1): quit ends the dialogue"),
        ("# only a comment\n\n", "check.chat: no steps"),
        ("expect\n", "check.chat:1: expect needs a REGEX"),
    ],
)
def test_a_malformed_script_names_the_file_and_line(text: str, message: str) -> None:
    with pytest.raises(ScriptError) as caught:
        parse_script(text, "check.chat")
    assert str(caught.value).startswith(message)


def test_the_option_form_watches_fail_ons_first_then_sends_then_expects_then_quits() -> None:
    steps = steps_from_options(["PING\\r\\n", "INFO\\r\\n"], ["PONG", "redis"], ["ERR"], "QUIT\\r\\n", 2)
    assert [type(step) for step in steps] == [FailOn, Send, Send, Expect, Expect, Quit]
    assert steps[1] == Send((b"PING\r\n",))
    assert isinstance(steps[4], Expect) and (steps[4].number, steps[4].within) == (2, 2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"expects": ["a(b"]}, "--expect: bad regex /a(b/: missing ), unterminated subpattern at position 1"),
        ({"fail_ons": ["[x"]}, "--fail-on: bad regex /[x/"),
        ({"sends": ["\\x4"]}, "--send: bad escape"),
        ({"quit_text": "\\"}, "--quit: lone backslash"),
    ],
)
def test_a_bad_option_value_names_the_option(kwargs: dict[str, object], message: str) -> None:
    arguments: dict[str, object] = {"sends": [], "expects": [], "fail_ons": [], "quit_text": None, **kwargs}
    with pytest.raises(PatternError) as caught:
        steps_from_options(**arguments)  # type: ignore[arg-type]
    assert str(caught.value).startswith(message)


def test_captured_names_come_in_order_of_first_appearance() -> None:
    steps = steps_from_options([], ["(?P<b>x)(?P<a>y)", "(?P<a>z)(?P<c>w)"], [], None)
    assert captures_names(steps) == ["b", "a", "c"]


def test_failure_lines_name_the_step_and_show_what_arrived_safely() -> None:
    (expect,) = steps_from_options([], ["\\+PONG"], [], None, within=2)
    (expect2,) = [step._replace(number=2) for step in (expect,) if isinstance(step, Expect)]
    assert (
        not_seen(expect2, b"-ERR nope\r\n")
        == 'expect #2 /\\+PONG/ not seen within 2s; received "-ERR nope\\r\\n"'
    )
    assert not_seen(expect2, b"") == "expect #2 /\\+PONG/ not seen within 2s; received nothing"
    assert "the peer closed the connection first" in peer_closed(expect2, b'\x1b[2J"')
    assert peer_closed(expect2, b'\x1b[2J"').endswith('received "\\x1b[2J\\x22"')
    long = not_seen(expect2, b"a" * 1000 + b"END")
    assert long.endswith(f'received (the last {SHOWN_BYTES} of 1003 bytes) "{"a" * 197}END"')
    fail = FailOn(expect.pattern, "ERR") if isinstance(expect, Expect) else None
    assert fail is not None
    assert fail_on_matched(fail, expect2, b"-ERR") == (
        'fail-on /ERR/ matched while waiting for expect #2 /\\+PONG/; received "-ERR"'
    )


def test_captures_are_one_ascii_json_object_with_invalid_bytes_spelled_out() -> None:
    text = captures_json({"ver": b"OpenSSH_9.6", "odd": b"\xff\xc3\xa9", "none": None})
    assert text == '{"ver": "OpenSSH_9.6", "odd": "\\\\xff\\u00e9", "none": null}'
