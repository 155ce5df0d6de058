"""Backfill input: every good line becomes a row, every bad one a reason with its line number."""

from __future__ import annotations

import json

import pytest

from app.domain.rules import RulesClassifier
from app.domain.taxonomy import load_taxonomy
from app.intake.backfill import BackfillReport, Rejected, Row, read_rows, triage_rows


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
