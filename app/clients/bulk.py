"""update_many's HTTP side: reading tickets back 100 per request, and following a job until it
finishes (every poll counts against the account limit). What to send and how a batch is written
exactly once is app.fleet.writeback's.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.clients.zendesk import (
    BULK_MAX_TICKETS,
    JobStatus,
    ZendeskClient,
    ZendeskNotFound,
    ZendeskRateLimited,
    ZendeskUnavailable,
)
from app.domain.models import Ticket


@dataclass(frozen=True)
class JobPolling:
    interval: float = 1.0  # the first wait; each poll waits 1.5 times longer, up to max_interval
    timeout: float = 300.0  # a job unfinished this long after it was sent is followed up later
    max_interval: float = 10.0
    # A poll refused by the shared quota waits this long in the process; longer waits go back to
    # the caller (a countdown retry) so the worker process is free meanwhile.
    max_sleep: float = 5.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.time


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + BULK_MAX_TICKETS] for i in range(0, len(ids), BULK_MAX_TICKETS)]


def read_fresh(client: ZendeskClient, ticket_ids: list[int]) -> dict[int, Ticket]:
    """The tickets as Zendesk holds them now, 100 per request; deleted ones are missing."""
    fresh: dict[int, Ticket] = {}
    for chunk in _chunks(ticket_ids):
        fresh.update({ticket.id: ticket for ticket in client.show_many(chunk)})
    return fresh


def item_error(result: dict[str, Any] | None, job: JobStatus) -> str:
    """What Zendesk said about one item, never the item itself (the note is in there)."""
    if result is None:
        return f"no result for it in job {job.status} ({job.message or 'no message'})"
    text = " ".join(str(result[k]) for k in ("error", "details") if result.get(k))
    return text or str(result.get("status") or "not updated")


def follow_job(client: ZendeskClient, job_id: str, polling: JobPolling, just_sent: bool) -> JobStatus | None:
    """Poll a job until it finishes, waiting longer between polls (every poll counts against the
    account limit). None when Zendesk no longer knows the job (404: expired, or never seen)."""
    deadline = polling.clock() + polling.timeout
    interval = polling.interval
    if just_sent:  # a job Zendesk has only just queued is not done yet: do not spend a poll on it
        polling.sleep(interval)
        interval = min(interval * 1.5, polling.max_interval)
    while True:
        try:
            job = client.job_status(job_id)
        except ZendeskNotFound:
            return None
        except ZendeskRateLimited as e:
            if e.retry_after > polling.max_sleep:
                raise
            polling.sleep(e.retry_after)
            continue
        if job.finished:
            return job
        if polling.clock() > deadline:
            # Counts against the batch's failure budget: Zendesk keeps a job queued only so long.
            raise ZendeskUnavailable(f"update_many job {job.id} still {job.status} after {polling.timeout:.0f}s")
        polling.sleep(interval)
        interval = min(interval * 1.5, polling.max_interval)
