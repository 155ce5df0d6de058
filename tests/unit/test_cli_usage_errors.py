"""A usage mistake on the command line is one `error: ...` line and exit 2, as every other problem
is; a port is checked before anything listens."""

from __future__ import annotations

import pytest

from app.cli.main import main


@pytest.mark.parametrize(
    "argv,says",
    [
        (["webhook", "--port", "99999"], "error: argument --port: 99999 is not a port number (1-65535)"),
        (["webhook", "--port", "0"], "error: argument --port: 0 is not a port number (1-65535)"),
        (["webhook", "--port", "http"], "error: argument --port: 'http' is not a port number (1-65535)"),
        (["nonsense"], "error: argument command: invalid choice: 'nonsense'"),
    ],
)
def test_a_usage_mistake_is_one_error_line_and_exit_2(capsys, argv, says):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(says), lines
    assert lines[0].endswith(f"; see `python -m app{' webhook' if argv[0] == 'webhook' else ''} --help`")


def test_a_port_in_range_is_taken():
    from app.cli.main import build_parser

    assert build_parser().parse_args(["webhook", "--port", "65535"]).port == 65535
