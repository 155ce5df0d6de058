"""`accuracy`'s command line: its window is `report --since`'s (hours or days, default 30d); a
mistake in it is one `error: ...` line and exit 2. The services it reads, out of reach or refusing:
tests/integration/test_accuracy_zendesk.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.cli.main import build_parser, main


@pytest.mark.parametrize(
    "since,says",
    [
        ("7w", "'7w' is not a window: a whole number of hours or days, like 24h, 7d or 30d"),
        ("0d", "'0d' is not a window"),
        ("-1d", "expected one argument"),
        ("30", "'30' is not a window"),
        ("3661d", "'3661d' is more than 3660 days"),
    ],
)
def test_a_bad_window_is_one_error_line_and_exit_2(capsys, since, says):
    with pytest.raises(SystemExit) as stopped:
        main(["accuracy", "--since", since])
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: argument --since: ") and says in lines[0], lines
    assert lines[0].endswith("; see `python -m app accuracy --help`")


def test_an_unknown_option_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["accuracy", "--days", "30"])
    assert stopped.value.code == 2
    assert capsys.readouterr().err.startswith("error: unrecognized arguments: --days 30")


def test_the_window_defaults_to_30_days_and_keeps_its_text():
    args = build_parser().parse_args(["accuracy"])
    assert args.since == ("30d", timedelta(days=30)) and args.json is False
    assert build_parser().parse_args(["accuracy", "--since", "24h", "--json"]).since == ("24h", timedelta(hours=24))
