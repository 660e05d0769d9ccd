"""make_visible / VisibleFilter: nothing a terminal could interpret gets through."""

from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tcpcli.core.visible import Piece, PieceKind, VisibleFilter, make_visible, merge_pieces, one_line

TEXT, ESCAPE, INVALID = PieceKind.TEXT, PieceKind.ESCAPE, PieceKind.INVALID

# Any code point, surrogates included, with the troublesome ones drawn often.
tricky_text = st.lists(
    st.one_of(
        st.characters(exclude_categories=()),
        st.sampled_from(["\r", "\n", "\r\n", "\t", "\x1b", "\x00", "\x7f", "\x9b", "\u202e", "\udc80", "é"]),
    ),
    max_size=40,
).map("".join)


def split_at(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *sorted(cuts), len(text)]
    return [text[a:b] for a, b in pairwise(bounds)]


def filtered(chunks: list[str]) -> list[Piece]:
    vf = VisibleFilter()
    out: list[Piece] = []
    for chunk in chunks:
        out += vf.feed(chunk)
    return merge_pieces(out + vf.finish())


def test_plain_text_is_one_text_piece() -> None:
    assert make_visible("hello, world") == [Piece(TEXT, "hello, world")]


def test_empty_text_gives_no_pieces() -> None:
    assert make_visible("") == []


def test_newline_and_tab_stay_text() -> None:
    assert make_visible("a\tb\nc\n") == [Piece(TEXT, "a\tb\nc\n")]


def test_escape_sequence_is_shown_not_interpreted() -> None:
    assert make_visible("a\x1b[2Jb") == [Piece(TEXT, "a"), Piece(ESCAPE, "\\x1b"), Piece(TEXT, "[2Jb")]


def test_osc_title_sequence_is_shown() -> None:
    assert make_visible("\x1b]0;pwned\x07") == [
        Piece(ESCAPE, "\\x1b"),
        Piece(TEXT, "]0;pwned"),
        Piece(ESCAPE, "\\x07"),
    ]


@pytest.mark.parametrize(
    ("char", "shown"),
    [("\x00", "\\x00"), ("\x07", "\\x07"), ("\x08", "\\x08"), ("\x0c", "\\x0c"), ("\x7f", "\\x7f")],
)
def test_c0_controls_and_del_use_two_hex_digits(char: str, shown: str) -> None:
    assert make_visible(char) == [Piece(ESCAPE, shown)]


@pytest.mark.parametrize(
    ("char", "shown"),
    [
        ("\x85", "\\u0085"),  # C1 NEL
        ("\x9b", "\\u009b"),  # C1 CSI: a one-byte escape sequence introducer on some terminals
        ("\u061c", "\\u061c"),
        ("\u200e", "\\u200e"),
        ("\u200f", "\\u200f"),
        ("\u202a", "\\u202a"),
        ("\u202e", "\\u202e"),
        ("\u2066", "\\u2066"),
        ("\u2069", "\\u2069"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
        ("\u200b", "\\u200b"),  # zero width space
        ("\ufeff", "\\ufeff"),  # BOM / zero width no-break space
        ("\u00a0", "\\u00a0"),  # no-break space looks like a space but is not one
        ("\ue000", "\\ue000"),  # private use
        ("\U000e0001", "\\U000e0001"),  # language tag (Cf)
        ("\U000f0000", "\\U000f0000"),  # supplementary private use
        ("\U0010ffff", "\\U0010ffff"),  # noncharacter / unassigned
        ("\ud800", "\\ud800"),  # a surrogate that is not an invalid-byte marker
    ],
)
def test_invisible_and_reordering_characters_use_u_escapes(char: str, shown: str) -> None:
    assert make_visible(f"a{char}b") == [Piece(TEXT, "a"), Piece(ESCAPE, shown), Piece(TEXT, "b")]


def test_invalid_byte_markers_become_invalid_pieces() -> None:
    assert make_visible("a\udcff\udc00b") == [
        Piece(TEXT, "a"),
        Piece(INVALID, "\\xff\\x00"),
        Piece(TEXT, "b"),
    ]


def test_crlf_is_a_plain_line_break() -> None:
    assert make_visible("one\r\ntwo\r\n") == [Piece(TEXT, "one\ntwo\n")]


def test_lone_cr_is_escaped() -> None:
    assert make_visible("50%\r100%") == [Piece(TEXT, "50%"), Piece(ESCAPE, "\\r"), Piece(TEXT, "100%")]


def test_cr_cr_lf_keeps_the_first_cr_visible() -> None:
    assert make_visible("a\r\r\n") == [Piece(TEXT, "a"), Piece(ESCAPE, "\\r"), Piece(TEXT, "\n")]


def test_trailing_cr_in_one_shot_call_is_escaped() -> None:
    assert make_visible("a\r") == [Piece(TEXT, "a"), Piece(ESCAPE, "\\r")]


def test_non_ascii_printable_text_is_untouched() -> None:
    # Hebrew: right-to-left letters are printable; only the bidi *controls* are escaped.
    text = "héllo wörld 日本語 🙂\r\n\u05e9\u05dc\u05d5\u05dd\n"
    assert make_visible(text) == [Piece(TEXT, text.replace("\r\n", "\n"))]


def test_adjacent_escapes_are_merged() -> None:
    assert make_visible("\x00\x01\x02") == [Piece(ESCAPE, "\\x00\\x01\\x02")]


def test_rich_markup_is_plain_text() -> None:
    assert make_visible("[bold red]hi[/]") == [Piece(TEXT, "[bold red]hi[/]")]


def test_filter_holds_back_cr_until_lf_arrives() -> None:
    vf = VisibleFilter()
    assert vf.feed("line\r") == [Piece(TEXT, "line")]
    assert vf.feed("\nnext") == [Piece(TEXT, "\nnext")]
    assert vf.finish() == []


def test_filter_shows_held_cr_when_something_else_follows() -> None:
    vf = VisibleFilter()
    assert vf.feed("a\r") == [Piece(TEXT, "a")]
    assert vf.feed("b") == [Piece(ESCAPE, "\\r"), Piece(TEXT, "b")]


def test_filter_finish_releases_a_held_cr() -> None:
    vf = VisibleFilter()
    assert vf.feed("\r") == []
    assert vf.feed("") == []
    assert vf.finish() == [Piece(ESCAPE, "\\r")]
    assert vf.finish() == []


@settings(max_examples=300)
@given(tricky_text)
def test_output_is_printable_apart_from_newline_and_tab(text: str) -> None:
    for piece in make_visible(text):
        assert piece.text
        assert piece.text.replace("\n", "").replace("\t", "").isprintable()


@settings(max_examples=200)
@given(tricky_text)
def test_neighbouring_pieces_have_different_kinds(text: str) -> None:
    pieces = make_visible(text)
    assert all(a.kind is not b.kind for a, b in pairwise(pieces))


@settings(max_examples=200)
@given(st.text(alphabet=st.characters(exclude_categories=("C", "Z")) | st.sampled_from(" \n\t")))
def test_printable_text_comes_back_unchanged(text: str) -> None:
    assert "".join(p.text for p in make_visible(text)) == text


@settings(max_examples=200)
@given(st.data(), tricky_text)
def test_chunking_never_changes_the_output(data: st.DataObject, text: str) -> None:
    whole = merge_pieces(make_visible(text))
    assert filtered([text]) == whole
    assert filtered(list(text)) == whole
    cuts = data.draw(st.lists(st.integers(0, len(text)), max_size=6))
    assert filtered(split_at(text, cuts)) == whole


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("plain text", "plain text"),
        ("a\nb\tc", "a\\nb\\tc"),
        ("a\r\nb", "a\\r\\nb"),
        ("50%\r100%", "50%\\r100%"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("\x85\u2028\u202e", "\\u0085\\u2028\\u202e"),
        ("\udcff", "\\xff"),
    ],
)
def test_one_line_escapes_everything_that_could_break_or_drive_a_line(text: str, line: str) -> None:
    assert one_line(text) == line


@given(st.text())
def test_one_line_is_always_one_printable_line(text: str) -> None:
    line = one_line(text)
    assert line.isprintable()
    assert len(line.splitlines()) <= 1
