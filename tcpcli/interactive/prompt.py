"""The input line: a prompt_toolkit PromptSession with history, the inline-error validator and the toolbar.

Separate from the session loop so unit tests can drive it with a pipe input and a dummy output.
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit import PromptSession
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import ANSI, AnyFormattedText, StyleAndTextTuples, to_formatted_text
from prompt_toolkit.history import History
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.output import ColorDepth, Output
from prompt_toolkit.styles import Style
from prompt_toolkit.validation import ValidationError, Validator

from tcpcli.interactive.typed import InputRules, Refuse, decide_line
from tcpcli.settings import View

# How often the toolbar's byte counters refresh while nothing else redraws the screen.
TOOLBAR_REFRESH = 0.25

PROMPTS = {View.TEXT: "> ", View.STRUCT: "> ", View.BINARY: "bin> ", View.HEX: "hex> "}

_STYLE = Style.from_dict(
    {
        "marker": "bold",
        "toolbar.peer": "bold",
        "toolbar.state.half_closed": "fg:ansiyellow",
        "toolbar.state.closed": "fg:ansired",
        "validation-toolbar": "bg:ansired fg:ansiwhite",
    }
)


def prompt_message(partial: str, mode: View) -> StyleAndTextTuples:
    """The peer's partial line (`login: `, already made safe and styled) then the mode's marker.

    In text views the partial line is the prompt, as on a terminal; in `-b` and `-x` the marker stays, to say
    how typed input is read.
    """
    marker = PROMPTS[mode]
    if partial and mode in (View.TEXT, View.STRUCT):
        marker = ""
    fragments = to_formatted_text(ANSI(partial)) if partial else []
    return [*fragments, ("class:marker", marker)]


class LineValidator(Validator):
    """Refuses, on Enter, a line that cannot be sent as typed: the cursor jumps to the bad token."""

    def __init__(self, rules: Callable[[], InputRules]) -> None:
        self._rules = rules

    def validate(self, document: Document) -> None:
        decision = decide_line(document.text, self._rules())
        if isinstance(decision, Refuse):
            raise ValidationError(cursor_position=decision.position, message=decision.message)


def key_bindings(on_toggle_view: Callable[[], None] | None) -> KeyBindings:
    """Keys beyond prompt_toolkit's emacs set (which already gives Ctrl-D on an empty line and Ctrl-C)."""
    bindings = KeyBindings()
    if on_toggle_view is not None:

        @bindings.add("f2")
        def _toggle(event: KeyPressEvent) -> None:
            on_toggle_view()

    return bindings


def make_prompt_session(
    message: Callable[[], AnyFormattedText],
    rules: Callable[[], InputRules],
    on_line: Callable[[str], None],
    toolbar: Callable[[], StyleAndTextTuples],
    history: History,
    color: bool,
    on_toggle_view: Callable[[], None] | None = None,
    pt_input: Input | None = None,
    pt_output: Output | None = None,
) -> PromptSession[str]:
    """One input line for the whole connection: Enter hands the line to `on_line`; the prompt keeps running.

    A prompt that exits on every Enter would leave moments with no input line on screen, in which received
    data would print below where the next prompt appears; one long-lived prompt has no such gaps.
    """
    session: PromptSession[str] = PromptSession(
        message=message,
        history=history,
        validator=LineValidator(rules),
        validate_while_typing=False,
        bottom_toolbar=toolbar,
        refresh_interval=TOOLBAR_REFRESH,
        key_bindings=key_bindings(on_toggle_view),
        style=_STYLE,
        color_depth=None if color else ColorDepth.DEPTH_1_BIT,
        erase_when_done=True,  # the sent line is echoed in its own style instead
        enable_suspend=False,
        input=pt_input,
        output=pt_output,
    )

    def accept(buffer: Buffer) -> bool:
        on_line(buffer.text)
        return False  # clear the line (it was validated, sent, and added to the history)

    session.default_buffer.accept_handler = accept
    return session
