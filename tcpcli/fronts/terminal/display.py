"""The screen above the input line: received data, the echo of sent lines and events, in arrival order.

prompt_toolkit can only draw its input line from column 0, so a partial line from the peer (`login: `) is not
printed: it is held and shown as the start of the input line, where a terminal would show it. Once the answer
is sent, the partial line is printed as it is and the echo starts on a line of its own, `> root`: an echo that
continued the peer's line would look like more peer data (with colour off, or after binary data).
Events are wrapped at word boundaries to the terminal's width; peer data and echoes are not (a copied line
must stay the line that was received or sent).
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from tcpcli.fronts.terminal.inbox import Batch, Chunk, Note
from tcpcli.fronts.terminal.render import ECHO, ECHO_PREFIX, EVENT, NOTE, echo_text, event_line, stamp_text
from tcpcli.fronts.terminal.views import ReceivedView

__all__ = ["PARTIAL_LIMIT", "SECRET_ECHO", "Display", "flood_note"]

# What the echo of a secret line says instead of the line.
SECRET_ECHO = "(secret line sent: not shown, not saved)"

# A partial line longer than this (in terminal cells) is printed with a line break instead of being held:
# the input line would otherwise start far to the right, or redraw kilobytes on each key press.
PARTIAL_LIMIT = 160


def flood_note(skipped: int, output_path: str | None) -> str:
    """What the screen says when it skips part of a flood, and where the bytes are kept."""
    where = f"all of them are in {output_path}" if output_path else "-o FILE keeps every byte"
    noun = "byte" if skipped == 1 else "bytes"
    return f"{skipped:,} {noun} not shown (flood); {where}"


class Display:
    """Prints through one rich Console; every peer byte goes through the current view first."""

    def __init__(
        self,
        console: Console,
        view: ReceivedView,
        timestamps: bool = False,
        output_path: str | None = None,
        hold_partials: bool = True,
    ) -> None:
        """`hold_partials=False`: a plain terminal in its cooked mode, with no input line to hold a partial
        line in (printed as it comes) and its own echo of what is typed (so `echo` prints nothing)."""
        self._console = console
        self._hold = hold_partials
        self._open_line = ""  # without holding: the printed line not yet ended, plain
        self.view = view
        self._timestamps = timestamps
        self._output_path = output_path
        self._partial = Text()
        self._partial_ansi = ""
        self.last_line = ""  # the peer's last line (held or printed), plain text: does it ask for a password?
        self.position = 0  # received bytes shown or skipped so far: the offset a new hex view starts at

    @property
    def partial(self) -> str:
        """The held partial line, rendered with the console's styles (ANSI SGR only), for the input line."""
        return self._partial_ansi

    @property
    def holds_partial(self) -> bool:
        return bool(self._partial.plain or self._open_line)

    def show(self, text: Text) -> None:
        """Already rendered peer data (the keep-open server's labelled lines), after a held partial line."""
        self._emit(text)

    def show_header(self) -> None:
        header = self.view.header()
        if header is not None:
            self._emit(self._line_start().append_text(header))

    def received(self, batch: Batch) -> None:
        out = Text()
        if batch.skipped:
            self.view.skip(batch.skipped)
            self.position += batch.skipped
            note = event_line(flood_note(batch.skipped, self._output_path), NOTE)
            self._emit(self._line_start().append_text(note))
        for chunk in batch.chunks:
            if isinstance(chunk, Note):  # a record's header (-u: `< 1.2.3.4:53 12 bytes`), in its place
                out.append_text(self.view.finish())  # the previous record ends here, whole
                self._emit(out)
                out = Text()
                self.event(chunk.message, chunk.style or EVENT)
                continue
            if not isinstance(chunk, Chunk):
                continue  # events among one peer's data come only through `event`
            if chunk.stamp is not None and self._timestamps:
                out.append_text(stamp_text(chunk.stamp, own_line=self.view.line_based))
            out.append_text(self.view.feed(chunk.data))
            self.position += len(chunk.data)
        if batch.ended:
            out.append_text(self.view.finish())
        self._emit(out)
        self._note_last_line(out.plain)

    def _note_last_line(self, shown: str) -> None:
        if self._partial.plain or self._open_line:
            self.last_line = self._partial.plain or self._open_line
        elif shown:
            self.last_line = shown.rstrip("\n").rpartition("\n")[2]

    def switch_view(self, view: ReceivedView) -> None:
        """F2: flush what the old view held back, then show the rest through the new one."""
        self._emit(self.view.finish())
        self.end_partial_line()
        self.view = view
        self.show_header()

    def terminal_ended_line(self) -> None:
        """A plain terminal echoed a typed line and its Enter: the cursor is at the start of a line."""
        self._open_line = ""

    def echo(self, lines: list[str]) -> None:
        """The sent lines, each `> line` on a line of its own (a held partial line is printed first)."""
        if not self._hold:
            return  # the terminal has shown them already
        self.end_partial_line()
        self._print(echo_text(lines))

    def echo_secret(self) -> None:
        """A secret line was sent: say so, without it."""
        if not self._hold:
            return
        self.end_partial_line()
        self._print(Text(ECHO_PREFIX + SECRET_ECHO + "\n", ECHO))

    def event(self, message: str, style: str = EVENT) -> None:
        """An event on a line of its own, after a held partial line: the screen keeps the order of things."""
        self.end_partial_line()
        self._print(event_line(message, style), wrap=True)

    def end_partial_line(self) -> None:
        """Print a held partial line with a line break (the session is ending, or the view changes)."""
        if self._partial.plain:
            self._print(self._take_partial().append("\n"))
        elif self._open_line:
            self._open_line = ""
            self._print(Text("\n"))

    def _line_start(self) -> Text:
        """A Text that begins on a fresh line: a held partial line is ended first."""
        if self._partial.plain:
            return self._take_partial().append("\n")
        if self._open_line:
            self._open_line = ""
            return Text("\n")
        return Text()

    def _emit(self, text: Text) -> None:
        """Print whole lines; hold the part after the last line break for the input line."""
        if not text.plain:
            return
        if not self._hold:
            self._print(text)
            _before, newline, after = text.plain.rpartition("\n")
            self._open_line = after if newline else self._open_line + after
            return
        combined = self._partial.copy().append_text(text) if self._partial.plain else text
        plain = combined.plain
        cut = plain.rfind("\n") + 1
        if cut == 0:
            lines, rest = Text(), combined
        elif cut == len(plain):
            lines, rest = combined, Text()
        else:
            lines, rest = combined.divide([cut])
        if rest.cell_len > PARTIAL_LIMIT:
            lines.append_text(rest).append("\n")
            rest = Text()
        self._print(lines)
        self._set_partial(rest)

    def _take_partial(self) -> Text:
        """The held partial line, now the caller's to extend: the display holds a fresh empty one."""
        partial = self._partial
        self._partial = Text()
        self._partial_ansi = ""
        return partial

    def _set_partial(self, partial: Text) -> None:
        if partial.plain == self._partial.plain and partial.spans == self._partial.spans:
            return
        self._partial = partial
        if not partial.plain:
            self._partial_ansi = ""
            return
        with self._console.capture() as capture:
            self._console.print(partial, end="")
        self._partial_ansi = capture.get()

    def _print(self, text: Text, wrap: bool = False) -> None:
        """`wrap`: break at word boundaries to the terminal's width (events), else the terminal wraps."""
        if wrap and text.cell_len > self._console.width:
            text.rstrip()
            lines = text.wrap(self._console, self._console.width)
            for line in lines:
                line.rstrip()  # no trailing blank where a line was broken
            text = Text("\n").join(lines).append("\n")
        if text.plain:
            self._console.print(text, end="")
