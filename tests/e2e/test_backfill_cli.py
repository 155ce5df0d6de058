"""End to end: `python -m app backfill` sends an export file through a real worker; nothing reaches
Zendesk without --write, and with it the rows' tickets are triaged once like any other."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

from app.redaction.redactor import EMAIL_RE
from sim.launcher.stack import LocalStack, app_command, run_to_end, wait_until
from sim.ticketgen import generate_ticket

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(new_stack):
    stack = new_stack("backfill", tickets=5, sim_options=["--index-lag", "0"])
    stack.extra_env["LLM_PROVIDER"] = "rules"
    stack.start_simulator()
    stack.start_worker("alpha", autoscale="4,2")
    stack.wait_for_workers(1)
    return stack


def backfill(stack: LocalStack, *args: str) -> subprocess.CompletedProcess:
    return stack.run_app("backfill", *args, timeout=300)


def test_an_export_file_is_redacted_and_classified_without_touching_zendesk(stack: LocalStack, tmp_path: Path):
    """Without --write no Zendesk setting is needed: the command runs with none."""
    rng = random.Random(5)
    tickets = [generate_ticket(rng, 0.0) for _ in range(120)]
    lines = [json.dumps({"subject": t.subject, "description": t.description}) for t in tickets]
    lines[10:10] = ["{broken", json.dumps({"subject": "", "description": ""})]  # lines 11 and 12
    source = tmp_path / "history.jsonl"
    source.write_text("\n".join(lines) + "\n")
    before = stack.stats()["requests_total"]

    no_zendesk = {key: value for key, value in stack.env().items() if not key.startswith("ZENDESK_")}
    done = run_to_end(
        app_command("backfill", str(source), "--include-redacted", "--chunk", "25"), no_zendesk, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "120 rows triaged" in done.stdout and "2 rejected" in done.stdout

    results = [json.loads(line) for line in (tmp_path / "history.jsonl.triaged.jsonl").read_text().splitlines()]
    assert [r["line"] for r in results] == [n for n in range(1, 123) if n not in (11, 12)]  # input order
    assert all(r["analysis"]["provider"] == "rules" and r["redacted_description"] for r in results)
    emails = {e for t in tickets for e in EMAIL_RE.findall(t.description)}
    assert emails and not any(e in json.dumps(results) for e in emails)  # the output is redacted
    rejected = [
        json.loads(line) for line in (tmp_path / "history.jsonl.triaged.rejected.jsonl").read_text().splitlines()
    ]
    assert rejected == [
        {"line": 11, "reason": "not valid JSON"},
        {"line": 12, "reason": "no subject and no description"},
    ]
    assert stack.stats()["requests_total"] == before  # nothing was asked of Zendesk


def test_with_write_the_rows_tickets_are_triaged_in_zendesk_once(stack: LocalStack, tmp_path: Path):
    source = tmp_path / "export.csv"
    source.write_text("id,subject,description\n1,Refund,charged twice\n2,Login,cannot log in\n1,Refund,dup row\n")
    done = backfill(stack, str(source), "--write")
    assert done.returncode == 0, done.stderr
    assert "dispatched to write" in done.stdout
    wait_until(lambda: stack.stats()["tickets_ai_processed"] == 2, 120, "tickets 1 and 2 written")
    assert stack.stats()["max_ai_notes_per_ticket"] == 1
