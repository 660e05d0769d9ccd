"""The input line: a prompt_toolkit PromptSession with history, the inline-error validator and the toolbar.

Separate from the session loop so unit tests can drive it with a pipe input and a dummy output. The input
area never grows past half the screen (a pasted block scrolls inside it instead of pushing the screen, and
its toolbar, into the scrollback), Ctrl-Z suspends the program as in any terminal program, and Ctrl-O makes
the next line secret (shown as `*`, not echoed, not saved in the history).
"""

from __future__ import annotations

from collections.abc import Callable

from prompt_toolkit import PromptSession
from prompt_toolkit.buffer import Buffer
from prompt_toolkit.document import Document
from prompt_toolkit.filters import Condition, to_filter
from prompt_toolkit.formatted_text import ANSI, AnyFormattedText, StyleAndTextTuples, to_formatted_text
from prompt_toolkit.history import History
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout.controls import BufferControl
from prompt_toolkit.layout.dimension import Dimension
from prompt_toolkit.output import ColorDepth, Output
from prompt_toolkit.styles import Style
from prompt_toolkit.validation import ValidationError, Validator

from tcpcli.fronts.terminal.secret import SecretLine
from tcpcli.fronts.terminal.typed import InputRules, Refuse, decide_line
from tcpcli.settings import View

__all__ = ["PROMPTS", "LineValidator", "input_height_limit", "make_prompt_session", "prompt_message"]

# How often the toolbar's byte counters refresh while nothing else redraws the screen.
TOOLBAR_REFRESH = 0.25

PROMPTS = {View.TEXT: "> ", View.STRUCT: "> ", View.BINARY: "bin> ", View.HEX: "hex> "}

_STYLE = Style.from_dict(
    {
        "marker": "bold",
        "toolbar.peer": "bold",
        "toolbar.state.half_closed": "fg:ansiyellow",
        "toolbar.state.closed": "fg:ansired",
        "toolbar.tls": "bold",
        "toolbar.tls.unverified": "bold fg:ansired",
        "toolbar.secret": "bold fg:ansiyellow",
        "toolbar.input": "bold",
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


def input_height_limit(rows: int) -> int:
    """Rows the input area may take on a screen of `rows`: half of it, so received data stays in view."""
    return max(1, rows // 2)


class _BoundedPromptSession(PromptSession[str]):
    """A PromptSession whose input area is at most `input_height_limit` rows; beyond, it scrolls."""

    def _get_default_buffer_control_height(self) -> Dimension:
        base = super()._get_default_buffer_control_height()
        limit = input_height_limit(self.app.output.get_size().rows)
        return Dimension(min=min(base.min, limit), max=limit)

    def bound_input_area(self) -> None:
        """The input area takes the rows its text needs (up to the limit), not all the limit allows."""
        for window in self.app.layout.find_all_windows():
            content = window.content
            if isinstance(content, BufferControl) and content.buffer is self.default_buffer:
                window.dont_extend_height = to_filter(True)


def key_bindings(on_toggle_view: Callable[[], None] | None, secret: SecretLine) -> KeyBindings:
    """Keys beyond prompt_toolkit's emacs set (which already gives Ctrl-D on an empty line and Ctrl-C)."""
    bindings = KeyBindings()

    @bindings.add("c-o")
    def _secret(event: KeyPressEvent) -> None:
        secret.toggle()

    if on_toggle_view is not None:

        @bindings.add("f2")
        def _toggle(event: KeyPressEvent) -> None:
            on_toggle_view()

    return bindings


def make_prompt_session(
    message: Callable[[], AnyFormattedText],
    rules: Callable[[], InputRules],
    on_line: Callable[[str, bool], None],
    toolbar: Callable[[int], StyleAndTextTuples],
    history: History,
    color: bool,
    secret: SecretLine,
    on_toggle_view: Callable[[], None] | None = None,
    pt_input: Input | None = None,
    pt_output: Output | None = None,
) -> PromptSession[str]:
    """One input line for the whole connection: Enter hands the line (and whether it is secret) to `on_line`;
    the prompt keeps running. `toolbar` gets the terminal's width in columns.

    A prompt that exits on every Enter would leave moments with no input line on screen, in which received
    data would print below where the next prompt appears; one long-lived prompt has no such gaps.
    """
    session = _BoundedPromptSession(
        message=message,
        history=history,
        validator=LineValidator(rules),
        validate_while_typing=False,
        bottom_toolbar=lambda: toolbar(session.app.output.get_size().columns),
        refresh_interval=TOOLBAR_REFRESH,
        key_bindings=key_bindings(on_toggle_view, secret),
        style=_STYLE,
        color_depth=None if color else ColorDepth.DEPTH_1_BIT,
        erase_when_done=True,  # the sent line is echoed in its own style instead
        enable_suspend=True,  # Ctrl-Z stops the program (SIGTSTP); `fg` redraws the input line
        is_password=Condition(lambda: secret.active),
        input=pt_input,
        output=pt_output,
    )

    def accept(buffer: Buffer) -> bool:
        if not secret.active:
            on_line(buffer.text, False)
            return False  # clear the line (it was validated, sent, and added to the history)
        on_line(buffer.text, True)
        secret.sent()
        buffer.reset()  # emptied before prompt_toolkit adds the line to the history: it adds nothing
        return True

    session.default_buffer.accept_handler = accept
    session.bound_input_area()
    return session
