"""Backfill input: every good line becomes a row, every bad one a reason with its line number."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.domain.rules import RulesClassifier
from app.domain.taxonomy import load_taxonomy
from app.intake.backfill import (
    BackfillInput,
    BackfillReport,
    BackfillTimedOut,
    Rejected,
    Row,
    default_output,
    read_rows,
    rejects_path,
    run_backfill,
    triage_rows,
)


def test_json_lines_good_and_bad(tmp_path):
    lines = [
        json.dumps({"subject": "Refund please", "description": "I was charged twice", "id": 12}),
        "{not json",
        json.dumps(["a list"]),
        json.dumps({"subject": "", "description": "  "}),
        "",
        json.dumps({"subject": 5, "description": "x"}),
        json.dumps({"subject": "s", "id": "12a"}),
        json.dumps({"description": "only a body", "id": "7"}),
    ]
    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines) + "\n")
    items = list(read_rows(path))
    assert items == [
        Row(line=1, id=12, subject="Refund please", description="I was charged twice"),
        Rejected(2, "not valid JSON"),
        Rejected(3, "not an object with subject and description"),
        Rejected(4, "no subject and no description"),
        Rejected(6, "subject is not text"),
        Rejected(7, "id is not a positive whole number"),
        Row(line=8, id=7, subject="", description="only a body"),
    ]


def test_csv_rows_are_numbered_as_in_the_file_and_a_csv_without_the_columns_is_refused(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text('id,subject,description\n1,Login broken,"Cannot log in,\nsince Monday"\n,,\n3,Hi,there\n')
    assert list(read_rows(path)) == [
        Row(line=3, id=1, subject="Login broken", description="Cannot log in,\nsince Monday"),
        Rejected(4, "no subject and no description"),
        Row(line=5, id=3, subject="Hi", description="there"),
    ]
    bad = tmp_path / "other.csv"
    bad.write_text("title,body\na,b\n")
    with pytest.raises(ValueError, match="subject and description"):
        list(read_rows(bad))


class FakeRedactor:
    """Replaces one known name, as the real redactor would."""

    def redact_tickets(self, texts):
        from app.redaction.redactor import Redaction

        return [(Redaction(s, []), Redaction(d.replace("Margaret Thompson", "<PERSON>"), [])) for s, d in texts]


def test_rows_are_redacted_then_classified_and_the_text_is_kept_only_when_asked():
    taxonomy = load_taxonomy(None)
    rows = [Row(line=4, id=None, subject="Refund", description="Margaret Thompson wants her money back, refund")]
    plain = triage_rows(rows, FakeRedactor(), RulesClassifier(taxonomy), include_redacted=False)
    assert plain[0]["line"] == 4 and plain[0]["analysis"]["provider"] == "rules"
    assert "redacted_description" not in plain[0] and "Margaret" not in json.dumps(plain)
    full = triage_rows(rows, FakeRedactor(), RulesClassifier(taxonomy), include_redacted=True)
    assert full[0]["redacted_description"].startswith("<PERSON> wants")
    report = BackfillReport(good=1)
    report.add(full[0], list(taxonomy.fields))
    assert report.providers == {"rules": 1} and report.failed == 0


def test_x_csv_and_x_jsonl_write_different_files():
    assert default_output(Path("x.csv")) == Path("x.csv.triaged.jsonl")
    assert default_output(Path("x.jsonl")) == Path("x.jsonl.triaged.jsonl")
    assert rejects_path(Path("x.csv.triaged.jsonl")) == Path("x.csv.triaged.rejected.jsonl")
    assert rejects_path(Path("out.txt")) == Path("out.txt.rejected.jsonl")


@pytest.fixture
def cli(monkeypatch, capsys):
    """`python -m app backfill ...` in this process: (exit code, stderr). Backfill lifts the Celery
    configuration's demand for Zendesk in its process; put back for the tests after."""
    monkeypatch.setattr("app.celery._needs_zendesk", True)

    def run(*argv: str) -> tuple[int, str]:
        from app.cli.main import main

        code = main(["backfill", *argv])
        return code, capsys.readouterr().err

    return run


def test_a_csv_refused_for_its_header_leaves_the_last_rejects_file_alone(cli, tmp_path):
    source = tmp_path / "export.csv"
    source.write_text("title,body\nRefund,charged twice\n")
    earlier = tmp_path / "export.csv.triaged.rejected.jsonl"
    earlier.write_text('{"line": 7, "reason": "no subject and no description"}\n')
    code, stderr = cli(str(source))
    assert code == 2 and "a CSV needs a header with subject and description" in stderr
    assert earlier.read_text() == '{"line": 7, "reason": "no subject and no description"}\n'


def test_a_file_whose_every_row_is_rejected_fails_and_says_so(cli, tmp_path):
    source = tmp_path / "export.jsonl"
    source.write_text('{broken\n{"subject": "", "description": ""}\n')
    code, stderr = cli(str(source))
    assert code == 1 and "every row was rejected (2)" in stderr
    assert len((tmp_path / "export.jsonl.triaged.rejected.jsonl").read_text().splitlines()) == 2
    assert not (tmp_path / "export.jsonl.triaged.jsonl").exists()


def test_a_directory_or_an_output_over_the_input_is_refused(cli, tmp_path):
    assert cli(str(tmp_path)) == (2, f"error: {tmp_path}: is a directory, not an export file (JSON lines or .csv)\n")
    source = tmp_path / "export.jsonl"
    source.write_text('{"subject": "Refund"}\n')
    code, stderr = cli(str(source), "--output", str(source))
    assert code == 2 and "would overwrite the input" in stderr
    code, stderr = cli(str(source), "--output", str(tmp_path / "missing" / "out.jsonl"))
    assert code == 2 and "missing: no such folder for --output" in stderr


class FakeResult:
    """A sent chunk: its lines, a failure of the task itself, or no answer in time."""

    def __init__(self, lines=None, error=None):
        self.lines, self.error = lines, error

    def get(self, timeout, propagate):
        from celery.exceptions import TimeoutError as ResultTimeout

        if self.lines is None and self.error is None:
            raise ResultTimeout("no answer")
        return self.error if self.error is not None else self.lines

    def failed(self):
        return self.error is not None

    def forget(self):
        pass


def test_the_rows_done_before_a_timeout_are_kept_and_a_broken_chunk_fails_only_its_rows(monkeypatch, tmp_path):
    from app.celery import app

    rows = [Row(line=n, subject=f"ticket {n}", description="refund") for n in range(1, 6)]
    analysis = {"provider": "rules", "fallback_reason": None, "root_cause": "billing", "urgency": "low"}
    answers = iter(
        [
            FakeResult([{"line": 1, "id": None, "analysis": analysis}, {"line": 2, "id": None, "analysis": analysis}]),
            FakeResult(error=RuntimeError("worker broke")),
            FakeResult(),  # line 5: never answered
        ]
    )

    class Sent:
        def set(self, **_):
            return self

        def apply_async(self):
            return next(answers)

    monkeypatch.setattr(app, "signature", lambda *args, **kwargs: Sent())
    monkeypatch.setattr("app.services.taxonomy", lambda: type("T", (), {"fields": {"root_cause": 0, "urgency": 0}})())
    output = tmp_path / "out.jsonl"
    with pytest.raises(BackfillTimedOut) as stopped:
        run_backfill(BackfillInput(rows=rows), output, False, False, 2, 5.0, lambda done, total: None)
    assert (stopped.value.done, stopped.value.total) == (4, 5)
    kept = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["line"] for r in kept] == [1, 2, 3, 4]
    assert kept[2]["error"] == "chunk failed (RuntimeError)" and stopped.value.report.failed == 2
    assert stopped.value.report.lines()[0].startswith("backfill: 4 rows triaged in")
