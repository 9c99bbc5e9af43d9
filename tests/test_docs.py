"""Every command has help text with an example, and the README documents it."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from jobs.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    for name, command in sorted(group.commands.items()):
        full = f"{prefix}{name}"
        if isinstance(command, click.Group):
            out.extend(_commands(command, full + " "))
        else:
            out.append((full, command))
    return out


COMMANDS = _commands(cli)


def test_the_cli_has_the_commands_of_the_contract() -> None:
    names = {name for name, _ in COMMANDS}
    assert {"init", "import", "stats"} <= names


@pytest.mark.parametrize("name,command", COMMANDS, ids=[n for n, _ in COMMANDS])
def test_every_command_has_help_with_an_example(name: str, command: click.Command) -> None:
    result = CliRunner().invoke(cli, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert command.help and command.help.strip().splitlines()[0]
    assert "Example: hashmon" in result.output


@pytest.mark.parametrize("name", [n for n, _ in COMMANDS])
def test_every_command_is_documented_in_the_readme(name: str) -> None:
    assert f"hashmon {name}" in README


def test_readme_opens_with_the_two_setup_commands() -> None:
    head = README[:2500]
    assert "make demo" in head and "make test" in head


# --- the methodology is in the repository, and says what the reports say -----------------

METHODOLOGY = Path(__file__).resolve().parent.parent / "docs" / "METHODOLOGY.md"


def test_stats_help_and_the_readme_point_to_a_methodology_in_the_repository() -> None:
    assert METHODOLOGY.is_file()
    result = CliRunner().invoke(cli, ["stats", "--help"])
    assert "docs/METHODOLOGY.md" in result.output
    assert "METRICS.md" not in result.output
    assert "(docs/METHODOLOGY.md)" in README


def test_every_figure_a_report_defines_is_in_the_methodology() -> None:
    from monitor.settings import Settings
    from reports.definitions import definitions

    text = " ".join(METHODOLOGY.read_text(encoding="utf-8").split())
    for key, name, _ in definitions(Settings()):
        assert f"`{key}`" in text, key
        assert name in text, name
