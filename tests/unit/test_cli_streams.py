"""How `redact` and `classify` read stdin: one item per line in, a blank or bad line included."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import streams
from app.cli.streams import _BadLine, _stdin_batches, _text_of


class FileStdin:
    """What _stdin_batches reads: a file descriptor (here of a regular file)."""

    def __init__(self, path: Path) -> None:
        self.file = path.open("rb")

    def fileno(self) -> int:
        return self.file.fileno()


def read(data: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str | _BadLine]:
    path = tmp_path / "stdin"
    path.write_bytes(data)
    monkeypatch.setattr(streams.sys, "stdin", FileStdin(path))
    items = [item for batch in _stdin_batches('{"text": string}', _text_of) for item in batch]
    return [item[0] if not isinstance(item, _BadLine) and item[1] is None else item for item in items]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", []),
        (b"\n", [_BadLine("line 1: blank")]),
        (b'{"text": "a"}', ["a"]),  # a last line without its newline is still a line
        (b'{"text": "a"}\n', ["a"]),  # the newline ends a line; it does not start another
        (
            b'{"text": "a"}\n\n \t\r\n{"text": "b"}\r\n\n',
            ["a", _BadLine("line 2: blank"), _BadLine("line 3: blank"), "b", _BadLine("line 5: blank")],
        ),
        (b'{"text": "a"}\nnot json\n', ["a", _BadLine('line 2: expected {"text": string} (JSONDecodeError)')]),
    ],
)
def test_one_item_per_line_in_a_blank_one_included(data, expected, tmp_path, monkeypatch):
    assert read(data, tmp_path, monkeypatch) == expected


@pytest.mark.parametrize(
    ("line", "language"),
    [('"de"', "de"), ('"de-AT"', "de"), ('"fr_FR"', "fr"), ('"EN"', "en"), ('"es"', "other"), ("null", None)],
)
def test_a_lines_language_is_read_and_normalised(line, language, tmp_path, monkeypatch):
    data = f'{{"text": "Hallo", "language": {line}}}\n'.encode()
    (item,) = read(data, tmp_path, monkeypatch)
    assert item == (("Hallo", language) if language else "Hallo")


@pytest.mark.parametrize("line", ['"deutsch!"', "7", '""', '["de"]'])
def test_a_language_that_is_no_code_is_a_bad_line(line, tmp_path, monkeypatch):
    (item,) = read(f'{{"text": "Hallo", "language": {line}}}\n'.encode(), tmp_path, monkeypatch)
    assert isinstance(item, _BadLine) and "(TypeError)" in item.error


def test_a_line_longer_than_many_reads_is_one_line(tmp_path, monkeypatch):
    long_text = "x" * 1_000_000
    data = (json.dumps({"text": long_text}) + "\n\n" + json.dumps({"text": "after"}) + "\n").encode()
    assert read(data, tmp_path, monkeypatch) == [long_text, _BadLine("line 2: blank"), "after"]
