"""Turning one sweep's claimed tickets into a chord of per-ticket chains."""

from __future__ import annotations

from celery import chain, chord

from app import services
from app.celery import app
from app.sweep import SweepOutcome


def ticket_repr(ticket_id: int) -> dict[str, str]:
    """What Flower, events and logs show as a per-ticket task's arguments: the id, never text."""
    return {"argsrepr": f"(ticket_id={ticket_id})", "kwargsrepr": "{}"}


def dispatch_run(outcome: SweepOutcome) -> None:
    """chord([redact -> classify -> update per ticket], summarize). Nothing to do: no run."""
    if not outcome.inputs:
        return
    services.run_store().start(outcome.run_id, len(outcome.inputs), outcome.dry_run, outcome.started_at)
    header = [
        chain(
            app.signature("triage.redact", args=(ticket.model_dump(),)).set(**ticket_repr(ticket.ticket_id)),
            app.signature("triage.classify").set(**ticket_repr(ticket.ticket_id)),
            app.signature("triage.update").set(**ticket_repr(ticket.ticket_id)),
        )
        for ticket in outcome.inputs
    ]
    body = app.signature(
        "triage.summarize",
        kwargs={"run_id": outcome.run_id, "started_at": outcome.started_at, "dry_run": outcome.dry_run},
    ).set(argsrepr=f"(run_id={outcome.run_id})", kwargsrepr="{}")
    chord(header)(body)
