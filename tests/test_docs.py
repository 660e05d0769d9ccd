"""The docs keep up with the program: every option is documented, the README gives the two commands."""

from __future__ import annotations

from pathlib import Path

import pytest

from tcpcli.fastargs import SWITCHES, VALUED

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("option", sorted({*SWITCHES, *VALUED}))
def test_every_option_is_in_the_options_reference(option: str) -> None:
    text = (ROOT / "docs" / "options.md").read_text()
    assert f"`{option}" in text or f" {option}`" in text or f", {option}" in text


def test_readme_gives_the_install_and_test_commands() -> None:
    text = (ROOT / "README.md").read_text()
    assert "pip install . && tcpcli --demo" in text
    assert "python -m pytest" in text


def test_every_exit_code_is_documented() -> None:
    from tcpcli.errors import ExitCode

    text = (ROOT / "docs" / "guide.md").read_text()
    for code in ExitCode:
        assert f"| {code.value} " in text or f"| {code.value} /" in text or f"/ {code.value} |" in text, code


def test_doc_links_point_at_files_that_exist() -> None:
    import re

    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#:]+\.md)\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
