"""Starting a run: one sweep (search, skip, claim), then one chord for what it claimed.

Small runs: chord([redact -> classify -> update] per ticket, summarize). Large runs (see
Settings.workers.bulk_updates): the tickets are cut into batches of up to 100. Each batch is a chord whose
header starts as one triage.redact_batch: it redacts a few tickets in one spaCy pass and adds a
triage.classify for each, and a triage.redact_batch for the rest, to that header; the chord's body,
triage.update_batch, writes the batch (app.fleet.writeback). The run's chord waits for every batch
before summarize. Beat's sweep task, `python -m app run` and the backfill's write all start runs
through `start_run`.

Signatures are built by task name (app.names.Task), never from the task functions: app/ does not
import workers/, which define the tasks and import this module.
"""

from __future__ import annotations

from typing import Any

from celery import chain, chord

from app.celery import app
from app.domain.models import TicketInput, TicketWork
from app.fleet.context import Fleet
from app.fleet.sweep import SweepOutcome, sweep
from app.names import IO_TWIN, Queue, Task


def ticket_repr(ticket_id: int) -> dict[str, str]:
    """What Flower, events and logs show as a per-ticket task's arguments: the id, never text."""
    return {"argsrepr": f"(ticket_id={ticket_id})", "kwargsrepr": "{}"}


def batch_repr(run_id: str, batch_no: int, tickets: int) -> dict[str, str]:
    return {"argsrepr": f"(run_id={run_id}, batch={batch_no}, tickets={tickets})", "kwargsrepr": "{}"}


def _on(queue: str | None) -> dict[str, str]:
    """A signature's queue: its task's own route (None), or the run's queue (webhook runs: intake)."""
    return {"queue": queue} if queue else {}


def _io(queue: str | None) -> dict[str, str]:
    """A waiting task's queue: its own route, or the I/O twin of the run's queue (intake_io for
    webhook runs), which the I/O worker takes: a prefork child must not wait for the LLM."""
    return _on(str(IO_TWIN.get(Queue(queue), queue)) if queue else None)


def redact_batch_signature(
    payloads: list[dict[str, Any]], run_id: str, batch_no: int, first: bool = True, queue: str | None = None
) -> Any:
    """triage.redact_batch of (the rest of) a batch, shown as its run, batch and ticket count."""
    return app.signature(
        str(Task.REDACT_BATCH),
        args=(payloads,),
        kwargs={"run_id": run_id, "batch_no": batch_no, "first": first, "queue": queue},
    ).set(**batch_repr(run_id, batch_no, len(payloads)), **_on(queue))


def classify_signature(work: TicketWork, queue: str | None = None) -> Any:
    """triage.classify of one redacted ticket, shown as its id."""
    return app.signature(str(Task.CLASSIFY), args=(work.model_dump(),)).set(**ticket_repr(work.ticket_id), **_io(queue))


def _ticket_chain(ticket: TicketInput, queue: str | None = None) -> Any:
    shown = ticket_repr(ticket.ticket_id)
    return chain(
        app.signature(str(Task.REDACT), args=(ticket.model_dump(),)).set(**shown, **_on(queue)),
        app.signature(str(Task.CLASSIFY)).set(**shown, **_io(queue)),
        app.signature(str(Task.UPDATE)).set(**shown, **_io(queue)),
    )


def _batches(outcome: SweepOutcome, size: int, queue: str | None) -> list:
    """Per batch: chord([triage.redact_batch], triage.update_batch); redact_batch adds a
    triage.classify per ticket, and the rest of the batch, to that chord as it goes."""
    inputs = outcome.inputs
    batches = []
    for number, start in enumerate(range(0, len(inputs), size)):
        tickets = inputs[start : start + size]
        redact = redact_batch_signature([t.model_dump() for t in tickets], outcome.run_id, number, queue=queue)
        write = app.signature(str(Task.UPDATE_BATCH), kwargs={"run_id": outcome.run_id, "batch_no": number})
        batches.append(chord([redact], write.set(**batch_repr(outcome.run_id, number, len(tickets)), **_io(queue))))
    return batches


def dispatch_run(fleet: Fleet, outcome: SweepOutcome, bulk: bool | None = None, queue: str | None = None) -> None:
    """One chord per run, ending in summarize; batched updates for large runs (or when `bulk`
    says so). `queue` sends the run's CPU work there and its waiting work to that queue's I/O twin,
    instead of their own routes. Nothing to do: no run."""
    if not outcome.inputs:
        return
    fleet.run_store().start(outcome.run_id, len(outcome.inputs), outcome.dry_run, outcome.started_at)
    settings = fleet.settings()
    if bulk is None:
        bulk = settings.workers.bulk_updates(len(outcome.inputs))
    # update_many carries tagged writes: a run in shadow mode writes nothing, and one in suggest
    # mode writes notes alone, which only a single update lets the fleet find again (a retried
    # note checks the audits, app.fleet.writeback.note_written).
    tagged = fleet.taxonomy().modes(outcome.triage_mode).ticket == "live"
    if bulk and tagged and not outcome.dry_run:
        header = _batches(outcome, settings.workers.bulk_batch_size, queue)
    else:
        header = [_ticket_chain(ticket, queue) for ticket in outcome.inputs]
    body = app.signature(
        str(Task.SUMMARIZE),
        kwargs={
            "run_id": outcome.run_id,
            "started_at": outcome.started_at,
            "dry_run": outcome.dry_run,
            "source": outcome.source,
        },
    ).set(argsrepr=f"(run_id={outcome.run_id})", kwargsrepr="{}", **_io(queue))
    chord(header)(body)


def start_run(
    fleet: Fleet,
    ticket_ids: list[int] | None = None,
    limit: int | None = None,
    dry_run: bool = False,
    source: str = "sweep",
) -> SweepOutcome:
    """One sweep now (of the tickets asked for, or the search) and its chord dispatched. Raises the
    client's ZendeskError when the first search page cannot be read (then nothing was claimed).
    `source` names the way in the run's summary and metrics carry ("backfill" for a backfill's write)."""
    outcome = sweep(
        fleet.zendesk(),
        fleet.claims(),
        limit or fleet.settings().intake.sweep_max_tickets,
        ticket_ids=ticket_ids,
        dry_run=dry_run,
        processed_tag=fleet.taxonomy().processed_tag,
        source=source,
        triage_mode=fleet.settings().workers.triage_mode,
    )
    store = fleet.run_store()
    store.mark_sweep()  # even one that found nothing: how `health` sees that sweeps happen
    if not outcome.found:
        store.mark_completed()  # nothing to do counts as a completed run for the stalled-fleet alert
    dispatch_run(fleet, outcome)
    return outcome


def start_announced_run(fleet: Fleet, limit: int | None = None) -> SweepOutcome | None:
    """Claim and dispatch the tickets webhooks announced (app.fleet.intake), through the same sweep
    as beat's: same ledger, done markers and dead letters. None when nothing was waiting. Their tags
    and notes go out through update_many whatever the run's size, so a steady stream of webhooks
    spends one account request per batch and leaves the Update Ticket limit to agents and priority
    raises. Tickets that could not be read are put back (the client's ZendeskError is raised)."""
    intake = fleet.intake_queue()
    ticket_ids = intake.take(limit or fleet.settings().intake.sweep_max_tickets)
    if not ticket_ids:
        return None
    try:
        outcome = sweep(
            fleet.zendesk(),
            fleet.claims(),
            len(ticket_ids),
            ticket_ids=ticket_ids,
            processed_tag=fleet.taxonomy().processed_tag,
            source="webhook",
            triage_mode=fleet.settings().workers.triage_mode,
        )
    except Exception:
        intake.put_back(ticket_ids)
        raise
    intake.count("claimed", len(outcome.inputs))
    intake.count("skipped_done_or_claimed", outcome.skipped_done_or_claimed)
    intake.count("skipped_not_found", outcome.not_found)
    intake.count("skipped_solved_closed_or_tagged", outcome.not_eligible)
    # On the intake queues: a worker takes turns between its queues, so a new ticket is served
    # beside a sweep's backlog instead of behind it; its tasks run in the intake lane, which the
    # shared quotas and job slots keep a reserve for (app.fleet.lanes).
    dispatch_run(fleet, outcome, bulk=True, queue=str(Queue.INTAKE))
    return outcome
