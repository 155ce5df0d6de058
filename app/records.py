"""Files of tickets, read line by line: JSON lines, or CSV when the name ends in .csv. Backfill
exports (app.intake.backfill) and labelled training files (app.learn.training) both come this way."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

NOT_JSON = object()  # stands for a JSON line that does not parse


def read_records(path: Path, csv_header: str) -> Iterator[tuple[int, Any]]:
    """(line number, record) for every non-blank line; NOT_JSON for a JSON line that does not parse.
    CSV lines are numbered as in the file (the header is line 1), and a CSV with neither a subject
    nor a description column is refused as a whole: ValueError naming `csv_header`, what it needs."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            reader = csv.DictReader(handle)
            if not {"subject", "description"} & set(reader.fieldnames or []):
                raise ValueError(f"{path}: a CSV needs a header with {csv_header}")
            for record in reader:
                yield reader.line_num, record
        return
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            try:
                yield number, json.loads(text)
            except json.JSONDecodeError:
                yield number, NOT_JSON
