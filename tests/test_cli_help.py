"""Every command of `rebal-opt` has help text."""

from __future__ import annotations

import pytest

from rebal_opt.cli.main import cli

COMMANDS = sorted(cli.commands)


def test_group_help_lists_every_command(invoke) -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    assert "rebal-opt" in result.stdout
    for name in COMMANDS:
        assert name in result.stdout


def test_expected_commands_exist() -> None:
    assert {"validate", "schema", "check", "solve"} <= set(COMMANDS)


@pytest.mark.parametrize("name", COMMANDS)
def test_command_has_help(name: str, invoke) -> None:
    command = cli.commands[name]
    assert command.help and command.help.strip(), f"{name} has no docstring/help"
    result = invoke(name, "--help")
    assert result.exit_code == 0
    assert result.stdout.startswith(f"Usage: rebal-opt {name}")
    first_paragraph = command.help.strip().split("\n\n")[0]
    assert " ".join(first_paragraph.split()) in " ".join(result.stdout.split())  # the description is printed
    assert len(command.get_short_help_str()) > 10


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_help(name: str) -> None:
    for param in cli.commands[name].params:
        if param.param_type_name == "option" and not getattr(param, "hidden", False):
            assert getattr(param, "help", None), f"{name} {param.opts} has no help"


def test_no_command_shows_the_help(invoke) -> None:
    result = invoke()
    assert result.exit_code in (0, 2)  # click < 8.2 exits 0 here, later versions 2
    assert (result.stdout + result.stderr).startswith("Usage: rebal-opt")


@pytest.mark.parametrize(
    ("args", "fragment", "hint"),
    [
        (["nosuch"], "nosuch", "(see 'rebal-opt --help')"),
        (["solve", "--bogus", "x.yaml"], "--bogus", "(see 'rebal-opt solve --help')"),
        (["solve", "--mip-gap", "2", "x.yaml"], "--mip-gap", "(see 'rebal-opt solve --help')"),
    ],
)
def test_usage_mistakes_are_one_line(args: list[str], fragment: str, hint: str, invoke) -> None:
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and fragment in lines[0] and lines[0].endswith(hint)
