"""Does the peer's last line ask for a secret? (`Password: `, `Enter passphrase for key 'id': `, `PIN:`)

Pure: the interactive session asks it with the last line the peer sent (already decoded and made visible), and
when it says yes the next typed line is neither echoed nor saved in the history.
"""

from __future__ import annotations

import re

__all__ = ["asks_for_secret"]

# The line ends in a colon (and maybe spaces) right after `password` / `passphrase` / `PIN`, or after a short
# tail naming whose it is: `[sudo] password for bob:`, `Enter passphrase for key '/home/a/.ssh/id':`.
# Whole words only, so `spin:` or `passwordless mode:` do not count; case does not matter (`PASSWORD:`).
_ASKS = re.compile(r"\b(?:pass(?:word|phrase)(?:\s+for\s[^\n]{1,80}?)?|pin)\s*:\s*$", re.IGNORECASE)


def asks_for_secret(line: str) -> bool:
    """True when `line` (one line, no line break) ends as a password, passphrase or PIN prompt does."""
    return _ASKS.search(line) is not None
