"""The Incremental Ticket Export, cursor based: every ticket changed since a moment, in order.

https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/#incremental-ticket-export-cursor-based
and https://developer.zendesk.com/documentation/ticketing/managing-tickets/using-the-incremental-export-api
hold it to these rules, the less forgiving reading where they are silent:

* the first request names ``start_time`` (Unix seconds), later ones only the ``cursor`` of the
  page before (``after_url``); neither is a 400, and so is a cursor this simulator did not make;
* changes of the last ``--incremental-delay`` seconds (a minute) are left out, and a
  ``start_time`` within them, or in the future, is the 422 "Too recent start_time.";
* ``per_page`` up to 1,000 (the default), a 400 outside 1..1,000 rather than clamped;
* tickets come in ``updated_at`` order (ties by id), live, solved and deleted ones alike
  (status "deleted", unless ``exclude_deleted=true``); a ticket changed again after it was
  exported comes again, later in the stream;
* ``after_cursor`` is always given, so a client can come back for what changes later;
  ``end_of_stream`` says whether this page reached the present; there is no way back
  (``before_cursor`` and ``before_url`` are null);
* its own limit of ``--incremental-rate-limit`` (10) requests a minute on top of the account's.
"""

from __future__ import annotations

import time

from aiohttp import web

from sim.common import ApiError
from sim.zendesk.cursors import seal, unseal
from sim.zendesk.handlers import base_url, public, request_state
from sim.zendesk.state import SimState
from sim.zendesk.wire import MAX_INCREMENTAL_PER_PAGE, TicketRecord, bad_request, too_recent_start_time

# Parameters a next page keeps (the cursor replaces start_time).
KEPT_PARAMETERS = ("per_page", "exclude_deleted", "include")


def _position(request: web.Request, state: SimState) -> tuple[int, int]:
    """Where the page starts: every ticket whose (updated_at, id) comes after this key."""
    params = request.query
    if "cursor" in params:
        updated_at, ticket_id = unseal(state.cursor_key, params["cursor"], "incremental", 2)
        return int(updated_at), int(ticket_id)
    raw = params.get("start_time")
    if raw is None:
        raise bad_request("start_time is required on the first request; then follow after_url")
    try:
        start_time = int(raw)
    except ValueError:
        raise bad_request("start_time must be a Unix epoch time in seconds") from None
    if start_time < 0:
        raise bad_request("start_time must be a Unix epoch time in seconds")
    delay = state.config.incremental_delay
    if start_time > time.time() - delay:
        raise ApiError(422, too_recent_start_time(delay))
    return start_time, 0  # ids start at 1: a ticket updated at start_time itself is in


def _per_page(request: web.Request) -> int:
    raw = request.query.get("per_page", str(MAX_INCREMENTAL_PER_PAGE))
    size = int(raw) if raw.isdigit() else 0
    if not 1 <= size <= MAX_INCREMENTAL_PER_PAGE:
        raise bad_request(f"per_page must be an integer between 1 and {MAX_INCREMENTAL_PER_PAGE}")
    return size


def _exclude_deleted(request: web.Request) -> bool:
    raw = request.query.get("exclude_deleted", "false").lower()
    if raw not in ("true", "false"):
        raise bad_request("exclude_deleted must be true or false")
    return raw == "true"


def _changed(state: SimState, after: tuple[int, int], exclude_deleted: bool) -> list[TicketRecord]:
    """Tickets whose (updated_at, id) comes after ``after``, old enough to be exported, in order."""
    cutoff = time.time() - state.config.incremental_delay
    records = list(state.tickets.values())
    if not exclude_deleted:
        records += state.deleted.values()
    changed = [record for record in records if (record.updated_at, record.id) > after and record.updated_at <= cutoff]
    changed.sort(key=lambda record: (record.updated_at, record.id))
    return changed


def _exported(record: TicketRecord, base: str) -> dict:
    """A ticket as the export shows it: with the generated_timestamp it is ordered by."""
    return {**public(record.to_json(), base), "generated_timestamp": record.updated_at}


async def handle_incremental_tickets(request: web.Request) -> web.Response:
    """GET /api/v2/incremental/tickets/cursor: one page of the ticket stream."""
    state = request_state(request)
    after = _position(request, state)
    size, exclude_deleted = _per_page(request), _exclude_deleted(request)
    changed = _changed(state, after, exclude_deleted)
    page = changed[:size]
    last = (page[-1].updated_at, page[-1].id) if page else after
    cursor = seal(state.cursor_key, "incremental", *last)
    kept = {name: request.query[name] for name in KEPT_PARAMETERS if name in request.query}
    base = base_url(request)
    return web.json_response(
        {
            "tickets": [_exported(record, base) for record in page],
            "after_url": str(request.url.with_query({**kept, "cursor": cursor})),
            "after_cursor": cursor,
            "before_url": None,
            "before_cursor": None,
            "end_of_stream": len(changed) <= size,
        }
    )
