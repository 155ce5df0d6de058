"""Turning one sweep's claimed tickets into a chord of per-ticket chains."""

from __future__ import annotations

from celery import chain, chord

from app import services
from app.celery import app
from app.sweep import SweepOutcome


def dispatch_run(outcome: SweepOutcome) -> None:
    """chord([redact -> classify -> update per ticket], summarize). Nothing to do: no run."""
    if not outcome.inputs:
        return
    services.run_store().start(outcome.run_id, len(outcome.inputs), outcome.dry_run, outcome.started_at)
    header = [
        chain(
            # argsrepr/kwargsrepr are what Flower, events and logs show instead of the raw text.
            app.signature("triage.redact", args=(ticket.model_dump(),)).set(
                argsrepr=f"(ticket_id={ticket.ticket_id})", kwargsrepr="{}"
            ),
            app.signature("triage.classify"),
            app.signature("triage.update"),
        )
        for ticket in outcome.inputs
    ]
    body = app.signature(
        "triage.summarize",
        kwargs={"run_id": outcome.run_id, "started_at": outcome.started_at, "dry_run": outcome.dry_run},
    )
    chord(header)(body)
