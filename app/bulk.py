"""Writing a batch of triaged tickets through update_many: one request for up to 100 tickets.

Zendesk's Update Ticket endpoint has its own account limit of 100 requests per minute, so one PUT
per ticket holds any fleet near 100 tickets/min. update_many counts against the account limit
only, once per job, and each ticket in it still gets its own tags, priority and private note.

Exactly once, as in `app.triage`: every item carries `safe_update` with the stamp it was planned
against, so a job sent twice (a worker died between sending it and recording it) conflicts
instead of writing twice. Each round's job id is recorded before polling, so a redelivered or
retried task polls that job again instead of sending another. Items that did not succeed are
re-read with show_many (one request per 100): already processed means done, closed or deleted
means failed, anything else is planned again against the fresh ticket for the next round.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.models import Analysis, Ticket
from app.taxonomy import Taxonomy
from app.triage import CLOSED_STATUSES, WriteOutcome, plan_update
from app.zendesk import (
    BULK_MAX_TICKETS,
    JobStatus,
    TicketUpdate,
    ZendeskClient,
    ZendeskNotFound,
    ZendeskRateLimited,
    ZendeskUnavailable,
)

# Rounds of update_many per batch: the first write, then two more for tickets an agent changed
# meanwhile (409) or that failed for a reason a fresh attempt may not meet again.
ROUNDS = 3


class JobLog(Protocol):
    """Remembers which update_many job a batch round sent (see app.store.BulkJobLog)."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, job_id: str) -> None: ...


@dataclass(frozen=True)
class BatchItem:
    """One ticket of a batch: its analysis and the ticket as the sweep read it."""

    ticket_id: int
    analysis: Analysis
    known: Ticket


@dataclass
class BatchOutcome:
    """Per ticket: written (or found already written), or failed with a reason."""

    written: dict[int, WriteOutcome] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    jobs: int = 0


@dataclass(frozen=True)
class JobPolling:
    interval: float = 1.0
    timeout: float = 300.0
    # A poll refused by the shared quota waits this long in the process; longer waits go back to
    # the caller (a countdown retry) so the worker process is free meanwhile.
    max_sleep: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i:i + BULK_MAX_TICKETS] for i in range(0, len(ids), BULK_MAX_TICKETS)]


def _read_fresh(client: ZendeskClient, ticket_ids: list[int]) -> dict[int, Ticket]:
    fresh: dict[int, Ticket] = {}
    for chunk in _chunks(ticket_ids):
        fresh.update({ticket.id: ticket for ticket in client.show_many(chunk)})
    return fresh


def _item_error(result: dict[str, Any] | None, job: JobStatus) -> str:
    """What Zendesk said about one item, never the item itself (the note is in there)."""
    if result is None:
        return f"no result for it in job {job.status} ({job.message or 'no message'})"
    text = " ".join(str(result[k]) for k in ("error", "details") if result.get(k))
    return text or str(result.get("status") or "not updated")


def _poll(client: ZendeskClient, job: JobStatus, polling: JobPolling) -> JobStatus:
    deadline = polling.clock() + polling.timeout
    while not job.finished:
        if polling.clock() > deadline:
            raise ZendeskUnavailable(f"update_many job {job.id} still {job.status} after {polling.timeout:.0f}s")
        polling.sleep(polling.interval)
        try:
            job = client.job_status(job.id)
        except ZendeskRateLimited as e:
            if e.retry_after > polling.max_sleep:
                raise
            polling.sleep(e.retry_after)
    return job


def _run_job(client: ZendeskClient, updates: dict[int, TicketUpdate], jobs: JobLog, key: str,
             polling: JobPolling) -> JobStatus:
    """Send the round's job, or find the one an earlier attempt sent, and wait until it finishes."""
    job: JobStatus | None = None
    if (job_id := jobs.get(key)) is not None:
        try:
            job = client.job_status(job_id)
        except ZendeskNotFound:
            job = None  # expired: send again; safe_update turns a repeat into a conflict, not a second note
    if job is None:
        job = client.update_many(updates)
        jobs.put(key, job.id)
    return _poll(client, job, polling)


def write_triage_batch(
    client: ZendeskClient,
    items: list[BatchItem],
    taxonomy: Taxonomy,
    run_id: str,
    jobs: JobLog,
    batch_key: str,
    polling: JobPolling | None = None,
) -> BatchOutcome:
    """Write tags, priority and note for every item once, through update_many jobs.

    Raises the client's errors when a job cannot be sent or followed; calling again with the same
    `batch_key` resumes (the jobs already sent are polled, not sent again).
    """
    if len(items) > BULK_MAX_TICKETS:
        raise ValueError(f"a batch holds at most {BULK_MAX_TICKETS} tickets, got {len(items)}")
    polling = polling or JobPolling()
    analyses = {item.ticket_id: item.analysis for item in items}
    pending = {item.ticket_id: item.known for item in items}
    unstamped = [ticket_id for ticket_id, ticket in pending.items() if not ticket.updated_at]
    if unstamped:  # without a stamp safe_update cannot protect the write: read them first
        fresh = _read_fresh(client, unstamped)
        pending.update({ticket_id: fresh[ticket_id] for ticket_id in unstamped if ticket_id in fresh})
        for ticket_id in set(unstamped) - set(fresh):
            del pending[ticket_id]
    outcome = BatchOutcome(failed={ticket_id: "ticket not found (deleted?)" for ticket_id in unstamped
                                   if ticket_id not in pending})
    errors: dict[int, str] = {}
    for round_no in range(1, ROUNDS + 2):
        updates: dict[int, TicketUpdate] = {}
        for ticket_id, ticket in pending.items():
            if taxonomy.processed_tag in ticket.tags:
                outcome.written[ticket_id] = WriteOutcome(already_done=True, tags_added=[], priority_set=None)
            elif ticket.status in CLOSED_STATUSES:
                outcome.failed[ticket_id] = f"ticket is {ticket.status}; left untouched"
            elif round_no > ROUNDS:
                outcome.failed[ticket_id] = f"not written in {ROUNDS} update_many rounds: {errors[ticket_id]}"
            else:
                updates[ticket_id] = plan_update(analyses[ticket_id], taxonomy, ticket.priority,
                                                 ticket.updated_at, run_id)
        if not updates:
            break
        job = _run_job(client, updates, jobs, f"{batch_key}:{round_no}", polling)
        outcome.jobs += 1
        results = {r.get("id"): r for r in job.results if isinstance(r, dict)}
        again = []
        for ticket_id, update in updates.items():
            result = results.get(ticket_id)
            if result is not None and result.get("success"):
                outcome.written[ticket_id] = WriteOutcome(already_done=False, tags_added=update.additional_tags,
                                                          priority_set=update.priority)
            else:
                errors[ticket_id] = _item_error(result, job)
                again.append(ticket_id)
        if not again:
            break
        fresh = _read_fresh(client, again)
        pending = {}
        for ticket_id in again:
            if ticket_id in fresh:
                pending[ticket_id] = fresh[ticket_id]
            else:
                outcome.failed[ticket_id] = "ticket not found (deleted?)"
    return outcome
