"""Whether the next typed line is a secret: not echoed on screen, not saved in the history.

Ctrl-O toggles it by hand (as rlwrap's Ctrl-O does); a peer line that asks for a password, passphrase or PIN
(core/secretprompt.py) turns it on by itself, and the peer moving on to another line turns that back off.
Sending the line ends it either way: only one line at a time is secret.
"""

from __future__ import annotations

from tcpcli.core.secretprompt import asks_for_secret

__all__ = ["SecretLine"]


class SecretLine:
    """`active`: the line being typed is secret."""

    def __init__(self) -> None:
        self.active = False
        self._automatic = False  # turned on by the peer's prompt, not by Ctrl-O
        self._seen = ""  # the peer's last line the last time it was looked at

    def toggle(self) -> None:
        """Ctrl-O: the person decides, whatever the peer said."""
        self.active = not self.active
        self._automatic = False

    def peer_said(self, last_line: str) -> None:
        """The peer's last line (partial or whole); only a change of it can change the state."""
        if last_line == self._seen:
            return
        self._seen = last_line
        if asks_for_secret(last_line):
            if not self.active:
                self.active = self._automatic = True
        elif self._automatic:
            self.active = self._automatic = False

    def sent(self) -> None:
        self.active = self._automatic = False
