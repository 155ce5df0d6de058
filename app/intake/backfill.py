"""Backfill from an export file: history through the same redaction and classification as live
tickets, for analytics and training data (`python -m app backfill FILE`).

Input: JSON lines or CSV (by the file's suffix: .csv is CSV, anything else JSON lines) with
`subject`, `description` and an optional `id`. The whole file is read first: a line that cannot be
read is rejected with its line number and the reason; the rest go to the workers in chunks (task
triage.backfill), which redact them in one spaCy pass and classify each. Nothing is written to
Zendesk, nor read from it, unless asked (`--write`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from app.domain.models import TicketInput, TicketWork
from app.domain.rules import Classifier
from app.errors import TryLater
from app.records import NOT_JSON, read_records
from app.redaction import Redactor, redact_inputs

BACKFILL_RUN = "backfill"
# Rows per triage.backfill task: with the rules a chunk is one spaCy pass (cheaper per ticket, see
# bench/redaction_batching.py); with an LLM each row waits seconds, so chunks stay small and many
# worker processes share the waiting.
RULES_CHUNK = 50
LLM_CHUNK = 2


class Row(BaseModel):
    """One good input line: where it was, its Zendesk id if the export has one, and its text."""

    line: int
    id: int | None = None
    subject: str = ""
    description: str = ""


@dataclass(frozen=True)
class Rejected:
    line: int
    reason: str


def _row(line: int, record: Any) -> Row | Rejected:
    if not isinstance(record, dict):
        return Rejected(line, "not an object with subject and description")
    text = {}
    for name in ("subject", "description"):
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            return Rejected(line, f"{name} is not text")
        text[name] = (value or "").strip()
    if not text["subject"] and not text["description"]:
        return Rejected(line, "no subject and no description")
    raw_id = record.get("id")
    ticket_id = None
    if raw_id not in (None, ""):
        if isinstance(raw_id, bool) or not str(raw_id).strip().isdigit() or int(str(raw_id).strip()) <= 0:
            return Rejected(line, "id is not a positive whole number")
        ticket_id = int(str(raw_id).strip())
    return Row(line=line, id=ticket_id, **text)


def read_rows(path: Path) -> Iterator[Row | Rejected]:
    """Each input line as a Row, or Rejected with the reason (app.records numbers the lines and
    refuses a CSV without subject/description columns)."""
    for number, record in read_records(path, "subject and description columns"):
        yield Rejected(number, "not valid JSON") if record is NOT_JSON else _row(number, record)


def triage_rows(
    rows: list[Row], redactor: Redactor, classifier: Classifier, include_redacted: bool
) -> list[dict[str, Any]]:
    """Redact (one spaCy pass) and classify each row; one result per row, in order. A row that
    fails carries its error instead of an analysis. Raises TryLater when the LLM asks to wait: the
    LLM's quota never sends a row to the rules."""
    inputs = [
        TicketInput(
            run_id=BACKFILL_RUN,
            ticket_id=row.line,
            subject=row.subject,
            description=row.description,
            dry_run=True,
            enqueued_at=0.0,
        )
        for row in rows
    ]
    results = []
    for row, work in zip(rows, redact_inputs(redactor, inputs)):
        results.append(_result(row, work, classifier, include_redacted))
    return results


def _result(row: Row, work: TicketWork, classifier: Classifier, include_redacted: bool) -> dict[str, Any]:
    result: dict[str, Any] = {"line": row.line, "id": row.id}
    if work.error:
        return {**result, "error": work.error}
    try:
        analysis = classifier.classify(work.redacted_subject, work.redacted_description, may_wait=True)
    except TryLater:
        raise  # quota or a configuration fault: the chunk comes back later (answers so far are cached)
    except Exception as e:
        return {**result, "error": f"classification failed ({type(e).__name__})"}
    result["analysis"] = analysis.record()
    result["redacted_counts"] = work.redacted_counts
    if include_redacted:
        result["redacted_subject"] = work.redacted_subject
        result["redacted_description"] = work.redacted_description
    return result


@dataclass
class BackfillReport:
    """What `python -m app backfill` did, for its summary."""

    good: int = 0
    rejected: int = 0
    failed: int = 0
    seconds: float = 0.0
    providers: dict[str, int] = field(default_factory=dict)
    fallbacks: int = 0
    values: dict[str, dict[str, int]] = field(default_factory=dict)
    runs: list[str] = field(default_factory=list)

    def add(self, result: dict[str, Any], fields: list[str]) -> None:
        analysis = result.get("analysis")
        if analysis is None:
            self.failed += 1
            return
        self.providers[analysis["provider"]] = self.providers.get(analysis["provider"], 0) + 1
        self.fallbacks += analysis.get("fallback_reason") is not None
        for name in fields:
            counts = self.values.setdefault(name, {})
            counts[analysis[name]] = counts.get(analysis[name], 0) + 1

    def lines(self) -> list[str]:
        rate = self.good / self.seconds if self.seconds else 0.0
        out = [
            f"backfill: {self.good} rows triaged in {self.seconds:.1f}s ({rate:.1f} rows/s), "
            f"{self.rejected} rejected, {self.failed} failed",
            f"  classified by: {', '.join(f'{k} {v}' for k, v in sorted(self.providers.items())) or '-'}"
            f"; fell back to the rules: {self.fallbacks}",
        ]
        out += [
            f"  {name}: {', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}"
            for name, counts in self.values.items()
        ]
        out += [f"  run {run_id} dispatched to write the rows' tickets in Zendesk" for run_id in self.runs]
        return out


def chunks(rows: list[Row], size: int) -> list[list[Row]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)]


@dataclass
class BackfillInput:
    """An export file read whole: its good rows and its rejected lines."""

    rows: list[Row] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def read_input(path: Path) -> BackfillInput:
    """Every line of FILE, read before anything is written: a CSV refused for its header
    (ValueError) leaves the files of an earlier backfill as they were."""
    read = BackfillInput()
    for item in read_rows(path):
        if isinstance(item, Rejected):
            read.rejected.append(item)
        else:
            read.rows.append(item)
    return read


def default_output(source: Path) -> Path:
    """FILE.triaged.jsonl, the input's whole name kept: x.csv and x.jsonl never write the same file."""
    return source.with_name(source.name + ".triaged.jsonl")


def rejects_path(output: Path) -> Path:
    """OUT.rejected.jsonl; an OUT ending in .jsonl gives OUT-without-it.rejected.jsonl."""
    if output.suffix == ".jsonl":
        return output.with_suffix(".rejected.jsonl")
    return output.with_name(output.name + ".rejected.jsonl")


def write_rejects(path: Path, rejected: list[Rejected]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for item in rejected:
            out.write(json.dumps({"line": item.line, "reason": item.reason}) + "\n")


class BackfillTimedOut(Exception):
    """The workers did not answer every chunk in time; `report` holds what was done (those rows
    are in OUT, in input order), `done` of `total` rows."""

    def __init__(self, report: BackfillReport, done: int, total: int) -> None:
        super().__init__(f"{done} of {total} rows triaged")
        self.report, self.done, self.total = report, done, total


def run_backfill(
    read: BackfillInput,
    output: Path,
    include_redacted: bool,
    write: bool,
    chunk_size: int | None,
    timeout: float,
    progress: Callable[[int, int], None],
) -> BackfillReport:
    """Send the good rows to the workers in chunks and write OUT in input order as chunks come
    back; with `write`, triage the rows that name a Zendesk ticket through an ordinary run (the
    ticket as Zendesk holds it now, claimed like any other). `progress(done, total)`. Raises
    BackfillTimedOut when `timeout` seconds pass first (nothing is then written to Zendesk)."""
    from celery.exceptions import TimeoutError as ResultTimeout

    from app import services
    from app.celery import app
    from app.names import Task
    from app.settings import get_settings

    started = time.monotonic()
    report = BackfillReport(good=len(read.rows), rejected=len(read.rejected))
    rows = read.rows
    settings = get_settings(need_zendesk=write)
    size = chunk_size or (RULES_CHUNK if settings.llm_choice()[0] == "rules" else LLM_CHUNK)
    parts = chunks(rows, size)
    pending = [
        app.signature(str(Task.BACKFILL), args=([row.model_dump() for row in part], include_redacted))
        .set(argsrepr=f"(lines {part[0].line}-{part[-1].line})", kwargsrepr="{}")
        .apply_async()
        for part in parts
    ]
    fields = list(services.taxonomy().fields)
    done = 0
    progress(0, len(rows))
    deadline = started + timeout  # the whole backfill's: a steady trickle of answers does not stretch it
    with output.open("w", encoding="utf-8") as out:
        for part, result in zip(parts, pending):  # in input order; later chunks finish meanwhile
            try:
                # A chunk already answered is taken even at the deadline; none is waited for past it.
                lines = result.get(timeout=max(0.01, deadline - time.monotonic()), propagate=False)
            except ResultTimeout:
                report.good, report.seconds = done, time.monotonic() - started  # the summary of what was done
                raise BackfillTimedOut(report, done, len(rows)) from None
            if result.failed():  # the task itself broke: its rows fail, the others go on
                lines = [
                    {"line": row.line, "id": row.id, "error": f"chunk failed ({type(lines).__name__})"} for row in part
                ]
            for line in lines:
                report.add(line, fields)
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                done += 1
            out.flush()  # what is done stays done, whatever happens to the rest
            result.forget()  # the redacted text need not stay in the result backend
            progress(done, len(rows))
    if write:
        ids = sorted({row.id for row in rows if row.id is not None})
        for start in range(0, len(ids), settings.intake.sweep_max_tickets):
            outcome = services.start_run(ids[start : start + settings.intake.sweep_max_tickets], source="backfill")
            if outcome.inputs:
                report.runs.append(outcome.run_id)
    report.seconds = time.monotonic() - started
    return report
