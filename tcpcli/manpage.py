"""The `tcpcli.1` manual page, rendered from the click command typer builds from `options.OPTIONS`.

`python -m tcpcli.manpage > man/tcpcli.1` regenerates it; a test keeps the file equal to this output. The
text is roff (man(7) macros): no date in it, so the same declaration always gives the same page.
"""

from __future__ import annotations

import re

import click
import typer

from tcpcli import __version__
from tcpcli.command import EPILOG, HELP, app
from tcpcli.options import PANELS

__all__ = ["render_manpage"]

# The panels in the order the page lists them; options without a panel (--help, --version, completion) last.
_GENERAL = "Other options"
_ORDER = (*PANELS, _GENERAL)

_MODES = """\
With stdin and stdout both terminals, the session is interactive: an input line with history, and what the
peer sends rendered safely above it. Otherwise it is stream mode: stdin bytes go to the socket verbatim and
socket bytes to stdout verbatim. At stdin EOF tcpcli sends FIN and keeps reading until the peer closes.
"""

_SEE_ALSO = """\
.BR nc (1),
.BR ncat (1),
.BR socat (1).
The documentation in the project's docs/ directory: guide.md (modes, end of stream, exit codes),
options.md, recipes.md, listen.md, interactive.md, binary.md, tls.md.
"""


def _roff(text: str) -> str:
    """Escape text for roff: backslashes, and a leading dot or quote that would read as a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.MULTILINE)


def _help_parts() -> tuple[str, list[tuple[str, str]], list[tuple[str, str]]]:
    """HELP split into its description, its examples (command, what it does) and its exit codes."""
    description, examples_block, codes_block = HELP.split("\n\n\b\n")
    lines = examples_block.splitlines()[1:]
    examples = [(lines[i].strip(), lines[i + 1].strip()) for i in range(0, len(lines) - 1, 2)]
    codes: list[tuple[str, str]] = []
    for line in codes_block.splitlines()[1:]:
        for column in re.split(r"\s{2,}(?=\d)|, (?=\d)", line.strip()):
            code, _, meaning = column.partition(" ")
            codes.append((code, meaning.strip()))
    codes.sort(key=lambda pair: int(pair[0]))
    return description.replace("\n", " ").strip(), examples, codes


def _option_entry(param: click.Option) -> str:
    names = ", ".join(f"\\fB{_roff(name)}\\fR" for name in sorted(param.opts, key=len))
    metavar = "" if param.is_flag or param.metavar is None else f" \\fI{_roff(param.metavar)}\\fR"
    return f".TP\n{names}{metavar}\n{_roff(param.help or '')}\n"


def render_manpage() -> str:
    """The whole page as roff text."""
    command = typer.main.get_command(app)
    description, examples, codes = _help_parts()
    panels: dict[str, list[click.Option]] = {}
    context = click.Context(command, info_name="tcpcli", **command.context_settings)
    for param in command.get_params(context):  # with the -h/--help option click adds
        if isinstance(param, click.Option):
            panel = getattr(param, "rich_help_panel", None) or _GENERAL
            panels.setdefault(panel, []).append(param)
    out = [
        f'.TH TCPCLI 1 "" "tcpcli {__version__}" "User Commands"\n',
        ".SH NAME\ntcpcli \\- a netcat\\-style TCP tool: talk to TCP services, or stand up test servers\n",
        ".SH SYNOPSIS\n",
        ".B tcpcli\n[\\fIOPTIONS\\fR] \\fIHOST PORT\\fR\n.br\n",
        ".B tcpcli \\-l\n[\\fIOPTIONS\\fR] [\\fIHOST\\fR] \\fIPORT\\fR\n.br\n",
        ".B tcpcli \\-z\n[\\fIOPTIONS\\fR] \\fIHOST PORT\\fR...\n.br\n",
        ".B tcpcli \\-\\-demo\n[\\fIOPTIONS\\fR]\n",
        f".SH DESCRIPTION\n{_roff(description)}\n.PP\n{_roff(_MODES)}",
    ]
    for panel in sorted(panels, key=lambda name: _ORDER.index(name) if name in _ORDER else len(_ORDER)):
        params = panels[panel]
        out.append(f".SH {_roff(re.sub(r'[ ]*[(].*[)]', '', panel).upper())}\n")
        out.extend(_option_entry(param) for param in params)
    out.append(".SH EXAMPLES\n")
    for example, meaning in examples:
        out.append(f".TP\n\\fB{_roff(example)}\\fR\n{_roff(meaning)}\n")
    out.append(".SH EXIT STATUS\n")
    for code, meaning in codes:
        out.append(f".TP\n\\fB{code}\\fR\n{_roff(meaning)}\n")
    out.append(f".SH NOTES\n{_roff(EPILOG.replace(chr(10), ' ').strip())}\n")
    out.append(f".SH SEE ALSO\n{_SEE_ALSO}")
    return "".join(out)


if __name__ == "__main__":
    print(render_manpage(), end="")
