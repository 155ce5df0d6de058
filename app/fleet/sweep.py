"""Finding and claiming the tickets one run will triage.

Search lags behind writes by minutes, so a ticket we updated a moment ago can still come back
without `ai_processed`; the done marker in Redis filters those out. The claim (SET NX EX) makes
sure that of two sweeps racing over the same ticket, on any hosts, exactly one dispatches it.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.clients.zendesk import ZendeskClient, ZendeskError
from app.domain.models import Ticket, TicketInput
from app.domain.taxonomy import TriageMode
from app.domain.triage import CLOSED_STATUSES
from app.fleet.claims import Claims, claim_owner

log = logging.getLogger(__name__)


def new_run_id() -> str:
    return datetime.now(UTC).strftime("%Y%m%d_%H%M%S_") + secrets.token_hex(3)


@dataclass
class SweepOutcome:
    run_id: str
    started_at: float
    dry_run: bool
    source: str = "sweep"
    triage_mode: TriageMode | None = None  # TRIAGE_MODE when it ran (None: each field's own)
    inputs: list[TicketInput] = field(default_factory=list)
    found: int = 0
    skipped_done_or_claimed: int = 0
    not_found: int = 0  # asked for by id, but Zendesk has no such ticket
    not_eligible: int = 0  # solved, closed or already tagged (by id, or a search result the index lags on)


def _read_each(client: ZendeskClient, ticket_ids: list[int], outcome: SweepOutcome) -> Iterator[Ticket]:
    """The tickets asked for by id, 100 per show_many request; deleted ones are counted and logged."""
    for start in range(0, len(ticket_ids), 100):
        chunk = ticket_ids[start : start + 100]
        found = {ticket.id: ticket for ticket in client.show_many(chunk)}
        for ticket_id in chunk:
            if ticket_id in found:
                yield found[ticket_id]
            else:
                outcome.not_found += 1
                log.warning("ticket %s not found (deleted?); skipped", ticket_id)


def _eligible(ticket: Ticket, processed_tag: str) -> bool:
    return processed_tag not in ticket.tags and ticket.status not in CLOSED_STATUSES


def sweep(
    client: ZendeskClient,
    claims: Claims,
    limit: int,
    ticket_ids: list[int] | None = None,
    dry_run: bool = False,
    processed_tag: str = "ai_processed",
    source: str = "sweep",
    triage_mode: TriageMode | None = None,
) -> SweepOutcome:
    """Search (or read the tickets asked for), skip done, dead-lettered or claimed tickets, claim
    the rest; each claimed ticket carries `triage_mode` to the stages.

    A dry run claims nothing: it writes nothing either, so it cannot collide with a real run.
    A ticket handled in shadow or suggest mode never gets the processed tag, so the search finds it
    again: its done marker (written by its outcome, app.fleet.outcome) is what skips it.
    """
    outcome = SweepOutcome(
        run_id=new_run_id(), started_at=time.time(), dry_run=dry_run, source=source, triage_mode=triage_mode
    )
    candidates = (
        _read_each(client, ticket_ids, outcome)
        if ticket_ids
        else client.unprocessed_tickets(processed_tag, wanted=limit)
    )
    owner = claim_owner()
    batch: list[Ticket] = []

    def take(tickets: list[Ticket]) -> None:
        unavailable = claims.unavailable((t.id for t in tickets), include_claims=not dry_run)
        for ticket in tickets:
            if len(outcome.inputs) >= limit:
                return
            if ticket.id in unavailable or (not dry_run and not claims.take(ticket.id, owner)):
                outcome.skipped_done_or_claimed += 1
                continue
            outcome.inputs.append(TicketInput.from_ticket(ticket, outcome.run_id, dry_run, triage_mode))

    try:
        for ticket in candidates:
            if not _eligible(ticket, processed_tag):
                outcome.not_eligible += 1
                continue
            outcome.found += 1
            batch.append(ticket)
            if len(batch) >= 100:  # one Redis round trip per search page
                take(batch)
                batch = []
                if len(outcome.inputs) >= limit:
                    break  # the rest is for the next sweep; its pages are never requested
    except ZendeskError as e:
        if outcome.found == 0:
            raise
        # Tickets claimed from earlier pages go out now instead of waiting CLAIM_TTL; the next
        # sweep picks up the pages we could not read.
        log.warning("sweep %s: search stopped after %d tickets (%s)", outcome.run_id, outcome.found, e)
    take(batch)
    log.info(
        "sweep %s: %d eligible, %d skipped (done or claimed), %d claimed%s",
        outcome.run_id,
        outcome.found,
        outcome.skipped_done_or_claimed,
        len(outcome.inputs),
        " (dry run)" if dry_run else "",
    )
    return outcome
