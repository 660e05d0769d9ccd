"""Which peer lines make the next typed line secret (issue 11 item 11)."""

from __future__ import annotations

import pytest

from tcpcli.core.events import SessionOpened, describe
from tcpcli.core.secretprompt import asks_for_secret


@pytest.mark.parametrize(
    "line",
    [
        "Password: ",
        "password:",
        "PASSWORD:",
        "[sudo] password for bob: ",
        "Enter passphrase for key '/root/.ssh/id_ed25519': ",
        "PIN:",
        "Enter PIN : ",
        "login: admin\tPassword:  ",
    ],
)
def test_password_passphrase_and_pin_prompts_ask_for_a_secret(line: str) -> None:
    assert asks_for_secret(line)


@pytest.mark.parametrize(
    "line",
    ["login: ", "spin:", "passwordless mode:", "Password ok", "the password: was wrong", "my password:x", ""],
)
def test_other_lines_do_not(line: str) -> None:
    assert not asks_for_secret(line)


def test_the_connected_line_says_tls_and_whether_the_certificate_was_checked() -> None:
    assert describe(SessionOpened("h:1")) == "connected to h:1"
    assert (
        describe(SessionOpened("h:1", "TLSv1.3", True))
        == "connected to h:1 over TLSv1.3 (certificate verified)"
    )
    unverified = describe(SessionOpened("h:1", "TLSv1.2", False))
    assert unverified == "connected to h:1 over TLSv1.2 (certificate NOT verified: --insecure)"
    assert describe(SessionOpened("h:1", "TLSv1.3", None)) == "connected to h:1 over TLSv1.3"
