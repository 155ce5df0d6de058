"""A ticket's outcome, in one place: its result record, and everything the outcome does.

`finish` is the one entry point every path ends in (single updates, batches, failures before
any write, dry runs, tickets handled in shadow mode). It builds the TicketResult the run summary is
made of, ends the claim (a ticket handled gets the done marker, which also keeps a ticket in shadow
or suggest mode, never tagged, from being swept again; a failure becomes a dead letter), records
the prediction (app.fleet.predictions), counts the run's progress, and writes the ticket's one log
line, which carries ids, outcomes and timings only.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from app.domain.models import WRITTEN, Outcome, TicketResult, TicketWork, Usage
from app.domain.taxonomy import Modes
from app.fleet.context import Fleet
from app.fleet.predictions import Prediction

log = logging.getLogger(__name__)


def written_status(work: TicketWork) -> Outcome:
    """How a written ticket counts: the rules stood in for the LLM, or not."""
    return "fallback" if work.analysis is not None and work.analysis.is_fallback else "success"


def ticket_result(
    work: TicketWork, status: Outcome, written_at: float | None = None, modes: Modes | None = None, **fields: Any
) -> TicketResult:
    """The ticket's record; its time runs from the sweep's claim until Zendesk held the write (or,
    for a ticket that was not written, until its outcome was known)."""
    ended = written_at or time.time()
    analysis = work.analysis
    mode = modes.ticket if modes is not None else "live"
    return TicketResult(
        ticket_id=work.ticket_id,
        status=status,
        mode=mode,
        processing_time=round(ended - work.enqueued_at, 3),
        claimed_at=work.enqueued_at,
        created_at=work.created_at,
        written_at=ended if status in WRITTEN and mode != "shadow" else None,
        analysis=analysis.record() if analysis is not None else None,
        values=analysis.values if analysis is not None else {},
        usage=analysis.usage if analysis is not None else Usage(),
        **fields,
    )


def finish(fleet: Fleet, work: TicketWork, status: Outcome, **fields: Any) -> dict[str, Any]:
    """Record how the ticket ended and act on it; returns the record for the run's summary.

    `fields`: stage and error for a failure; tags_added, priority_set and written_at for a write.
    """
    modes = fleet.taxonomy().modes(work.triage_mode)
    result = ticket_result(work, status, modes=modes, **{k: v for k, v in fields.items() if v is not None})
    if not work.dry_run:
        if status == "failed":
            fleet.dead_letters().add(work.ticket_id, result.stage or "unknown", result.error or "unknown", work.run_id)
        # Skipped means Zendesk already held it as processed: it gets the done marker too.
        fleet.claims().finish(work.ticket_id, written=status != "failed")
        if status in WRITTEN and work.analysis is not None:
            fleet.predictions().record(prediction_of(work, result, modes))
    fleet.run_store().ticket_finished(work.run_id)
    _log(work, result)
    return result.model_dump()


def prediction_of(work: TicketWork, result: TicketResult, modes: Modes) -> Prediction:
    """What `python -m app accuracy` keeps of a handled ticket: its answer, and what Zendesk got of it."""
    analysis = work.analysis
    assert analysis is not None
    written = {}
    if result.mode == "live":
        written = {name: value for name, value in analysis.values.items() if modes.fields.get(name) == "tag"}
    if result.priority_set:
        written["priority"] = result.priority_set
    return Prediction(
        ticket_id=work.ticket_id,
        run_id=work.run_id,
        at=time.time(),
        mode=result.mode,
        field_modes=modes.record(),
        values=analysis.values,
        confidence=analysis.confidence,
        provider=analysis.provider,
        model=analysis.model,
        fallback_reason=analysis.fallback_reason,
        written=written,
    )


def _log(work: TicketWork, result: TicketResult) -> None:
    # One line per ticket outcome; the fields are JSON keys with LOG_FORMAT=json (app.logs).
    fields = {
        "ticket_id": work.ticket_id,
        "run_id": work.run_id,
        "status": result.status,
        "mode": result.mode,
        "stage": result.stage,
        "seconds": result.processing_time,
    }
    if result.status == "failed":
        log.warning(
            "ticket %s failed at %s: %s (dead-lettered)",
            work.ticket_id,
            result.stage,
            result.error,
            extra={**fields, "error": result.error},
        )
    else:
        log.info(
            "ticket %s %s in %.2fs mode=%s tags=%s priority=%s",
            work.ticket_id,
            result.status,
            result.processing_time,
            result.mode,
            ",".join(result.tags_added),
            result.priority_set,
            extra={**fields, "tags": result.tags_added, "priority": result.priority_set},
        )
