"""The command line's arguments: each explained in --help, and a wrong value said in one line
that names the argument and what it takes (never the name of a function of ours)."""

from __future__ import annotations

import argparse

import pytest

from app.cli.main import build_parser, main


def arguments(parser: argparse.ArgumentParser, command: str = "python -m app"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from arguments(sub, f"{command} {name}")
        elif action.dest != "help":
            yield command, "/".join(action.option_strings) or action.dest, action.help


def test_every_argument_of_every_command_has_help():
    listed = list(arguments(build_parser()))
    assert len(listed) > 30  # every command was walked
    assert [(command, name) for command, name, text in listed if not text] == []


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "--limit", "abc"], "error: argument --limit: must be a whole number ≥ 1, not 'abc'"),
        (["run", "--ticket-id", "-3"], "error: argument --ticket-id: must be a whole number ≥ 1, not '-3'"),
        (["runs", "--limit", "0"], "error: argument --limit: must be a whole number ≥ 1, not '0'"),
        (["run", "--timeout", "-1"], "error: argument --timeout: must be a number of seconds > 0, not '-1'"),
        (["dead-letters", "--timeout", "0"], "error: argument --timeout: must be a number of seconds > 0, not '0'"),
        (["backfill", "x.csv", "--timeout", "nan"], "error: argument --timeout: must be a number of seconds > 0"),
        (["backfill", "x.csv", "--timeout", "soon"], "error: argument --timeout: must be a number of seconds > 0"),
        (["backfill", "x.csv", "--chunk", "1.5"], "error: argument --chunk: must be a whole number ≥ 1, not '1.5'"),
    ],
)
def test_a_wrong_value_is_one_error_line_naming_the_argument(capsys, argv, says):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    stderr = capsys.readouterr().err
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and errors[0].startswith(says), stderr
    assert "positive_int" not in stderr and "positive_seconds" not in stderr and f"python -m app {argv[0]}" in stderr


def test_good_values_pass():
    args = build_parser().parse_args(["run", "--limit", "5", "--timeout", "2.5"])
    assert (args.limit, args.timeout) == (5, 2.5)
