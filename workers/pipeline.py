"""Turning one sweep's claimed tickets into a chord of per-ticket chains.

Small runs: chord([redact -> classify -> update] per ticket, summarize). Large runs (see
Settings.bulk_updates): the tickets are cut into batches of up to 100. Each batch is a chord whose
header starts as one triage.redact_batch: it redacts a few tickets in one spaCy pass and adds a
triage.classify for each, and a triage.redact_batch for the rest, to that header; the chord's body,
triage.update_batch, writes the batch with one update_many job. The run's chord waits for every
batch before summarize.
"""

from __future__ import annotations

from typing import Any

from celery import chain, chord

from app import services
from app.celery import app
from app.models import TicketInput, TicketWork
from app.settings import get_settings
from app.sweep import SweepOutcome


def ticket_repr(ticket_id: int) -> dict[str, str]:
    """What Flower, events and logs show as a per-ticket task's arguments: the id, never text."""
    return {"argsrepr": f"(ticket_id={ticket_id})", "kwargsrepr": "{}"}


def _redact_and_classify(ticket: TicketInput) -> list:
    return [
        app.signature("triage.redact", args=(ticket.model_dump(),)).set(**ticket_repr(ticket.ticket_id)),
        app.signature("triage.classify").set(**ticket_repr(ticket.ticket_id)),
    ]


def batch_repr(run_id: str, batch_no: int, tickets: int) -> dict[str, str]:
    return {"argsrepr": f"(run_id={run_id}, batch={batch_no}, tickets={tickets})", "kwargsrepr": "{}"}


def _batches(outcome: SweepOutcome, size: int) -> list:
    """Per batch: chord([triage.redact_batch], triage.update_batch); redact_batch adds a
    triage.classify per ticket, and the rest of the batch, to that chord as it goes."""
    inputs = outcome.inputs
    batches = []
    for number, start in enumerate(range(0, len(inputs), size)):
        tickets = inputs[start:start + size]
        redact = redact_batch_signature([t.model_dump() for t in tickets], outcome.run_id, number)
        write = app.signature("triage.update_batch", kwargs={"run_id": outcome.run_id, "batch_no": number})
        batches.append(chord([redact], write.set(**batch_repr(outcome.run_id, number, len(tickets)))))
    return batches


def redact_batch_signature(payloads: list[dict[str, Any]], run_id: str, batch_no: int, first: bool = True) -> Any:
    """triage.redact_batch of (the rest of) a batch, shown as its run, batch and ticket count."""
    return app.signature("triage.redact_batch", args=(payloads,),
                         kwargs={"run_id": run_id, "batch_no": batch_no, "first": first}).set(
        **batch_repr(run_id, batch_no, len(payloads)))


def classify_signature(work: TicketWork) -> Any:
    """triage.classify of one redacted ticket, shown as its id."""
    return app.signature("triage.classify", args=(work.model_dump(),)).set(**ticket_repr(work.ticket_id))


def dispatch_run(outcome: SweepOutcome) -> None:
    """One chord per run, ending in summarize; batched updates for large runs. Nothing to do: no run."""
    if not outcome.inputs:
        return
    services.run_store().start(outcome.run_id, len(outcome.inputs), outcome.dry_run, outcome.started_at)
    settings = get_settings()
    if settings.bulk_updates(len(outcome.inputs)) and not outcome.dry_run:
        header = _batches(outcome, settings.bulk_batch_size)
    else:
        header = [
            chain(*_redact_and_classify(ticket),
                  app.signature("triage.update").set(**ticket_repr(ticket.ticket_id)))
            for ticket in outcome.inputs
        ]
    body = app.signature(
        "triage.summarize",
        kwargs={"run_id": outcome.run_id, "started_at": outcome.started_at, "dry_run": outcome.dry_run},
    ).set(argsrepr=f"(run_id={outcome.run_id})", kwargsrepr="{}")
    chord(header)(body)
