"""The command line's value parsers, pure: ports (numbers, service names, ranges), hosts, families."""

from __future__ import annotations

import socket

import pytest

from tcpcli.errors import UsageError
from tcpcli.values import check_family, check_numeric, parse_host, parse_port, parse_port_list

LONG_LABEL = "a" * 64


@pytest.mark.parametrize(("name", "port"), [("http", 80), ("smtp", 25), ("https", 443), ("ssh", 22)])
def test_a_service_name_is_a_port_like_in_netcat(name: str, port: int) -> None:
    assert parse_port(name, "PORT", allow_zero=False) == port


def test_numeric_mode_refuses_service_names() -> None:
    with pytest.raises(UsageError, match="-n turns name look-ups off"):
        parse_port("http", "PORT", allow_zero=False, numeric=True)


@pytest.mark.parametrize("value", ["no-such-service-x", "0", "65536", "-1", "8o", "", "é"])
def test_other_ports_are_usage_errors_naming_the_value(value: str) -> None:
    with pytest.raises(UsageError, match="PORT: '"):
        parse_port(value, "PORT", allow_zero=False)


def test_a_port_list_takes_ranges_names_and_numbers_in_order_without_duplicates() -> None:
    assert parse_port_list(("22", "20-23", "http", "443")) == (22, 20, 21, 23, 80, 443)
    assert len(parse_port_list(("1-65535",))) == 65535


@pytest.mark.parametrize("value", ["25-20", "0-5", "1-70000", "1-2-3", "a-b"])
def test_bad_ranges_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError):
        parse_port_list((value,))


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("[::1]:8080", "tcpcli ::1 8080"),  # was "tcpcli [::1]:8080 80", which failed on brackets
        ("127.0.0.1:80", "tcpcli 127.0.0.1 80"),
        ("example.org:443", "tcpcli example.org 443"),
    ],
)
def test_host_port_in_one_argument_suggests_a_command_that_works(value: str, hint: str) -> None:
    with pytest.raises(UsageError, match="two arguments") as caught:
        parse_host(value)
    assert caught.value.message.endswith(hint)
    suggested_host = hint.split()[1]
    assert parse_host(suggested_host) == suggested_host


@pytest.mark.parametrize(
    "name",
    [f"{LONG_LABEL}.example", LONG_LABEL, f"www.{LONG_LABEL}", f"{LONG_LABEL}.", f"a.{'b' * 200}.c"],
)
def test_a_dns_label_over_63_characters_is_a_usage_error(name: str) -> None:
    """Python's idna codec raised deep inside getaddrinfo: a 33-line traceback, exit 1."""
    with pytest.raises(UsageError, match="at most 63"):
        parse_host(name)


def test_a_63_character_label_is_fine() -> None:
    assert parse_host(f"{'a' * 63}.example") == f"{'a' * 63}.example"


@pytest.mark.parametrize(
    ("host", "family"),
    [("::1", socket.AF_INET), ("127.0.0.1", socket.AF_INET6), ("::ffff:127.0.0.1", socket.AF_INET)],
)
def test_an_address_literal_of_the_other_family_is_a_usage_error(host: str, family: int) -> None:
    with pytest.raises(UsageError, match="asks for IPv"):
        check_family(host, family, "host")


def test_names_and_matching_literals_pass_the_family_check() -> None:
    check_family("localhost", socket.AF_INET, "host")
    check_family("::1", socket.AF_INET6, "host")
    check_family("127.0.0.1", socket.AF_UNSPEC, "host")


def test_numeric_mode_needs_an_address_literal() -> None:
    check_numeric("127.0.0.1", "host")
    with pytest.raises(UsageError, match="-n turns DNS off"):
        check_numeric("localhost", "host")


def test_the_resolver_turns_an_unencodable_name_into_a_usage_error() -> None:
    """Defence in depth below the settings: Python's idna codec raises UnicodeError, not gaierror."""
    import time

    from tcpcli.errors import ExitCode, TcpcliError
    from tcpcli.net.connect import resolve

    with pytest.raises(TcpcliError) as caught:
        resolve(f"{LONG_LABEL}.example", 80, socket.AF_UNSPEC, time.monotonic() + 5, lambda event: None)
    assert caught.value.exit_code is ExitCode.USAGE
    assert "\n" not in caught.value.message
