"""The /api/v2 handlers of the Zendesk simulator: tickets, audits, bulk jobs, search, the search
export and the API user (the incremental export is in ``sim.zendesk.incremental``).

The middleware in ``sim.zendesk.app`` has already counted, delayed, rate-limited and
authenticated a request by the time it reaches a handler here.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
import uuid

from aiohttp import web

from sim.common import STATE_KEY, ApiError, NotAJsonObject, json_object
from sim.zendesk.cursors import seal, unseal
from sim.zendesk.search import SORT_KEYS, SearchDocument, SearchError, names_a_type
from sim.zendesk.state import SimState
from sim.zendesk.wire import (
    API_USER_CREATED_AT,
    API_USER_ID,
    DEFAULT_EXPORT_PAGE_SIZE,
    EXPORT_CURSOR_EXPIRED,
    EXPORT_FILTER_TYPES,
    EXPORT_NO_BACKWARD_PAGING,
    EXPORT_TYPE_IN_QUERY,
    INVALID_CURSOR,
    MAX_BULK_ITEMS,
    MAX_EXPORT_PAGE_SIZE,
    MAX_LIST_PAGE_SIZE,
    MAX_SEARCH_PER_PAGE,
    MAX_SHOW_MANY_IDS,
    SEARCH_LIMIT_EXCEEDED,
    SEARCH_RESULT_LIMIT,
    TicketRecord,
    bad_request,
    describe_error,
    format_timestamp,
    make_user,
    not_found,
)

log = logging.getLogger("sim.zendesk")

# Bulk jobs under way: kept referenced until done (see create_app).
BACKGROUND_KEY = web.AppKey("background", set)


# --- Reading requests -------------------------------------------------------------------------


def request_state(request: web.Request) -> SimState:
    """The state of the simulator answering this request."""
    return request.app[STATE_KEY]


def base_url(request: web.Request) -> str:
    """Scheme and host as the client reached us, for absolute URLs in answers."""
    return f"{request.scheme}://{request.host}"


def public(ticket_json: dict, base: str) -> dict:
    """Ticket JSON with its absolute URL for this client."""
    return {**ticket_json, "url": base + ticket_json["url"]}


async def read_json_object(request: web.Request) -> dict:
    """The body, a JSON object; a 400 BadRequest otherwise."""
    try:
        return await json_object(request)
    except NotAJsonObject as error:
        raise bad_request(f"The request body {error}", "BadRequest") from None


def _int_param(request: web.Request, name: str, default: int, minimum: int = 1) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None
    if value < minimum:
        raise bad_request(f"{name} must be at least {minimum}")
    return value


# --- /api/v2 handlers ------------------------------------------------------------------------


def _ticket_or_404(request: web.Request) -> TicketRecord:
    record = request_state(request).tickets.get(int(request.match_info["ticket_id"]))
    if record is None:
        raise not_found()
    return record


async def handle_ticket_get(request: web.Request) -> web.Response:
    """GET /tickets/{id}: one ticket."""
    record = _ticket_or_404(request)
    return web.json_response({"ticket": public(record.to_json(), base_url(request))})


async def handle_show_many(request: web.Request) -> web.Response:
    """GET /tickets/show_many?ids=1,2: the tickets that exist among up to 100 ids."""
    raw = request.query.get("ids", "")
    try:
        ids = [int(piece) for piece in raw.split(",") if piece.strip()]
    except ValueError:
        raise bad_request("ids must be a comma-separated list of ticket ids") from None
    if not ids or len(ids) > MAX_SHOW_MANY_IDS:
        raise bad_request(f"ids must list between 1 and {MAX_SHOW_MANY_IDS} ticket ids")
    tickets = request_state(request).tickets
    base = base_url(request)
    found = [public(tickets[ticket_id].to_json(), base) for ticket_id in ids if ticket_id in tickets]
    return web.json_response({"tickets": found})


async def handle_ticket_update(request: web.Request) -> web.Response:
    """PUT /tickets/{id}: Update Ticket, answering the ticket and its audit."""
    state = request_state(request)
    ticket_id = int(request.match_info["ticket_id"])
    payload = await read_json_object(request)
    fields = payload.get("ticket")
    if not isinstance(fields, dict):
        raise bad_request('The body must be {"ticket": {...}}')
    record, audit = state.apply_api_update(ticket_id, fields, "single")
    return web.json_response({"ticket": public(record.to_json(), base_url(request)), "audit": audit})


async def handle_tags_add(request: web.Request) -> web.Response:
    """PUT /tickets/{id}/tags: add tags without replacing, as Zendesk's tags endpoint does."""
    state = request_state(request)
    payload = await read_json_object(request)
    if "tags" not in payload:
        raise bad_request('The body must be {"tags": [...]}')
    fields = {"additional_tags": payload["tags"]}
    for name in ("safe_update", "updated_stamp"):
        if name in payload:
            fields[name] = payload[name]
    record, _ = state.apply_api_update(int(request.match_info["ticket_id"]), fields, "single")
    return web.json_response({"tags": list(record.tags)})


async def handle_ticket_delete(request: web.Request) -> web.Response:
    """DELETE /tickets/{id}: 204, or 404 for a ticket that does not exist."""
    if not request_state(request).delete_ticket(int(request.match_info["ticket_id"])):
        raise not_found()
    return web.Response(status=204)


async def handle_comments(request: web.Request) -> web.Response:
    """GET /tickets/{id}/comments: every comment on one page."""
    record = _ticket_or_404(request)
    return web.json_response(
        {"comments": record.comments, "next_page": None, "previous_page": None, "count": len(record.comments)}
    )


async def handle_audits(request: web.Request) -> web.Response:
    """GET /tickets/{id}/audits: the ticket's audits, oldest first.

    https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_audits/#list-audits-for-a-ticket
    (cursor or offset pagination, at most 100 a page; see
    https://developer.zendesk.com/api-reference/introduction/pagination/): page[size],
    page[after] or page[before] ask for cursor pages (meta, links), otherwise offset pages
    (next_page, previous_page, count) of per_page.
    """
    record = _ticket_or_404(request)
    if any(name in request.query for name in ("page[size]", "page[after]", "page[before]")):
        return web.json_response(_audit_cursor_page(request, record))
    per_page = min(_int_param(request, "per_page", MAX_LIST_PAGE_SIZE), MAX_LIST_PAGE_SIZE)
    page = _int_param(request, "page", 1)
    start = (page - 1) * per_page
    audits = record.audits
    next_page = str(request.url.update_query(page=page + 1)) if start + per_page < len(audits) else None
    previous_page = str(request.url.update_query(page=page - 1)) if page > 1 else None
    return web.json_response(
        {
            "audits": audits[start : start + per_page],
            "next_page": next_page,
            "previous_page": previous_page,
            "count": len(audits),
        }
    )


def _list_page_size(request: web.Request) -> int:
    """page[size] of a cursor-paginated list, refused (not clamped) outside 1..100."""
    raw = request.query.get("page[size]", str(MAX_LIST_PAGE_SIZE))
    size = int(raw) if raw.isdigit() else 0
    if not 1 <= size <= MAX_LIST_PAGE_SIZE:
        raise bad_request(
            f"page[size] must be an integer between 1 and {MAX_LIST_PAGE_SIZE}", "InvalidPaginationParameter"
        )
    return size


def _audit_position(request: web.Request, record: TicketRecord, cursor: str) -> int:
    """The index of the audit a cursor of this ticket's audits names; 400 for any other cursor."""
    ticket_id, index = unseal(request_state(request).cursor_key, cursor, "audit", 2)
    if int(ticket_id) != record.id or not 0 <= int(index) < len(record.audits):
        raise ApiError(400, dict(INVALID_CURSOR))
    return int(index)


def _audit_cursor_page(request: web.Request, record: TicketRecord) -> dict:
    """A cursor page of the ticket's audits: forward with page[after], back with page[before].

    links.next is given whenever the page holds audits, even the last one: meta.has_more is
    what tells whether more audits follow (in the direction of travel).
    """
    params, size, count = request.query, _list_page_size(request), len(record.audits)
    if "page[after]" in params and "page[before]" in params:
        raise bad_request("page[before] and page[after] can't be used together", "InvalidPaginationParameter")
    if "page[before]" in params:
        end = _audit_position(request, record, params["page[before]"])
        start = max(0, end - size)
        has_more = start > 0
    else:
        start = _audit_position(request, record, params["page[after]"]) + 1 if "page[after]" in params else 0
        end = min(start + size, count)
        has_more = end < count
    key = request_state(request).cursor_key
    before = seal(key, "audit", record.id, start) if end > start else None
    after = seal(key, "audit", record.id, end - 1) if end > start else None
    query = {name: value for name, value in params.items() if name not in ("page[after]", "page[before]")}
    return {
        "audits": record.audits[start:end],
        "meta": {"has_more": has_more, "after_cursor": after, "before_cursor": before},
        "links": {
            "next": str(request.url.with_query({**query, "page[after]": after})) if after else None,
            "prev": str(request.url.with_query({**query, "page[before]": before})) if before else None,
        },
    }


async def handle_users_me(request: web.Request) -> web.Response:
    """GET /users/me: the user the credentials belong to, the integration's admin.

    https://developer.zendesk.com/api-reference/ticketing/users/users/#show-self
    """
    email = request_state(request).config.email
    user = make_user(API_USER_ID, email, "Triage Fleet", "admin", API_USER_CREATED_AT)
    return web.json_response({"user": public(user, base_url(request))})


async def handle_update_many(request: web.Request) -> web.Response:
    """PUT /tickets/update_many: queue a bulk job and answer its job_status at once."""
    state = request_state(request)
    payload = await read_json_object(request)
    items = payload.get("tickets")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BULK_ITEMS:
        raise bad_request(f"tickets must be a list of 1 to {MAX_BULK_ITEMS} tickets")
    for item in items:
        ticket_id = item.get("id") if isinstance(item, dict) else None
        # bool is an int subclass, but true is no ticket id.
        if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
            raise bad_request("every ticket needs an integer id")
    # https://developer.zendesk.com/api-reference/introduction/rate-limits/ ("Job limit"): at
    # most 30 jobs queued or running per account. The docs name no Retry-After here, so none
    # is sent: a client must not depend on one.
    limit = state.config.max_jobs
    if state.active_jobs() >= limit:
        raise ApiError(
            429,
            {
                "error": "TooManyJobs",
                "description": f"Number of queued or running jobs has reached the limit "
                f"of {limit} per account; wait for a job to finish",
            },
        )
    state.forget_expired_jobs(time.monotonic())
    job_id = uuid.uuid4().hex
    job = {
        "id": job_id,
        "url": f"{base_url(request)}/api/v2/job_statuses/{job_id}.json",
        "status": "queued",
        "total": len(items),
        "progress": 0,
        "message": None,
        "results": None,
    }
    state.jobs[job_id] = job
    state.jobs_created += 1
    task = asyncio.create_task(_run_bulk_job(state, job, items))
    # Keep a reference until done, or the task could be garbage collected mid-way.
    background = request.app[BACKGROUND_KEY]
    background.add(task)
    task.add_done_callback(background.discard)
    return web.json_response({"job_status": job})


def _bulk_result(state: SimState, index: int, item: dict) -> dict:
    ticket_id = item["id"]
    fields = {name: value for name, value in item.items() if name != "id"}
    try:
        # https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-many-tickets
        # documents safe_update for single-ticket updates only: ignored here unless configured.
        state.apply_api_update(ticket_id, fields, "bulk", honour_safe_update=state.config.bulk_safe_update)
    except ApiError as rejected:
        error = {404: "RecordNotFound", 409: "UpdateConflict"}.get(rejected.status, "TicketUpdateFailed")
        return {
            "id": ticket_id,
            "index": index,
            "success": False,
            "error": error,
            "details": describe_error(rejected.body),
        }
    return {"id": ticket_id, "index": index, "action": "update", "success": True, "status": "Updated"}


async def _spend(state: SimState, setting: str) -> None:
    """Wait the milliseconds a setting names, following runtime changes of it while waiting."""
    started = time.monotonic()
    while True:
        left = getattr(state.config, setting) / 1000 - (time.monotonic() - started)
        # Always yields at least once, so other requests (and pollers) get in between items.
        await asyncio.sleep(max(0.0, min(left, 0.05)))
        if left <= 0:
            return


async def _run_bulk_job(state: SimState, job: dict, items: list[dict]) -> None:
    """Queue the job for job_delay_ms, then work job_item_ms on each item (a single update).

    https://developer.zendesk.com/api-reference/ticketing/ticket-management/job_statuses/
    (queued, then working with progress, then completed or failed)
    """
    try:
        # Both waits follow runtime changes of their settings, even for jobs under way.
        await _spend(state, "job_delay_ms")
        job["status"] = "working"
        results = []
        for index, item in enumerate(items):
            await _spend(state, "job_item_ms")
            results.append(_bulk_result(state, index, item))
            job["progress"] = index + 1
        job.update(status="completed", results=results, message=f"Completed at {format_timestamp(time.time())}")
    except Exception as error:  # a failed job is a valid Zendesk outcome; never lose it silently
        log.exception("bulk job %s failed", job["id"])
        job.update(status="failed", message=str(error))
    finally:
        state.finish_job(job)


async def handle_job_status(request: web.Request) -> web.Response:
    """A job's status; every poll is an API request and counts against the account limit."""
    state = request_state(request)
    # https://developer.zendesk.com/api-reference/ticketing/ticket-management/job_statuses/
    # (statuses are kept for a limited time after the job finished, then they are gone)
    state.forget_expired_jobs(time.monotonic())
    job = state.jobs.get(request.match_info["job_id"])
    if job is None:
        state.job_status_404 += 1
        raise not_found()
    return web.json_response({"job_status": job})


def _search_documents(request: web.Request) -> list[SearchDocument]:
    try:
        return request_state(request).search(request.query.get("query", ""))
    except SearchError as error:
        raise ApiError(400, {"error": "invalid", "description": f"Invalid search: {error}"}) from None


async def handle_search(request: web.Request) -> web.Response:
    """GET /search: offset pages of at most 100, never past the 1,000th result."""
    per_page = min(_int_param(request, "per_page", MAX_SEARCH_PER_PAGE), MAX_SEARCH_PER_PAGE)
    page = _int_param(request, "page", 1)
    start = (page - 1) * per_page
    if start >= SEARCH_RESULT_LIMIT:
        raise ApiError(422, dict(SEARCH_LIMIT_EXCEEDED))
    matches = _search_documents(request)
    sort_key = SORT_KEYS.get(request.query.get("sort_by", ""))
    if sort_key is not None:  # without sort_by, "relevance" is ticket id order
        matches.sort(key=sort_key, reverse=request.query.get("sort_order", "desc") != "asc")
    end = min(start + per_page, SEARCH_RESULT_LIMIT)
    base = base_url(request)
    results = [{**public(doc.ticket, base), "result_type": "ticket"} for doc in matches[start:end]]
    # Like real Zendesk, next_page is offered whenever more matches exist, even past the
    # 1,000-result cap where following it answers 422.
    next_page = str(request.url.update_query(page=page + 1)) if end < len(matches) else None
    previous_page = str(request.url.update_query(page=page - 1)) if page > 1 else None
    return web.json_response(
        {
            "results": results,
            "facets": None,
            "next_page": next_page,
            "previous_page": previous_page,
            "count": len(matches),
        }
    )


def _encode_cursor(state: SimState, key: tuple[int, int], issued: float) -> str:
    """A cursor naming the last ticket of a page (created_at, id) and when it was issued, so
    pages stay consistent while the index changes and old cursors expire."""
    created_at, ticket_id = key
    return seal(state.cursor_key, "ticket", f"{issued:.3f}", created_at, ticket_id)


def _decode_cursor(state: SimState, cursor: str) -> tuple[float, tuple[int, int]]:
    """(issue time, (created_at, id)) of a search export cursor; 400 for anything else."""
    issued, created_at, ticket_id = unseal(state.cursor_key, cursor, "ticket", 3)
    return float(issued), (int(created_at), int(ticket_id))


def _export_page_size(request: web.Request) -> int:
    """page[size], refused (not clamped) outside 1..1,000."""
    raw = request.query.get("page[size]")
    if raw is None:
        return DEFAULT_EXPORT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        size = 0
    # https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#export-search-results
    # (page[size] up to 1,000): a size outside that range is an error, not silently clamped.
    if not 1 <= size <= MAX_EXPORT_PAGE_SIZE:
        raise bad_request(
            f"page[size] must be an integer between 1 and {MAX_EXPORT_PAGE_SIZE}", "InvalidPaginationParameter"
        )
    return size


async def handle_export(request: web.Request) -> web.Response:
    """GET /api/v2/search/export: cursor pages in created_at order, forward only.

    https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#export-search-results
    """
    state = request_state(request)
    params = request.query
    filter_type = params.get("filter[type]")
    if not filter_type:
        raise bad_request("filter[type] is required", "InvalidPaginationParameter")
    if filter_type not in EXPORT_FILTER_TYPES:
        raise bad_request(f"filter[type] must be one of {', '.join(EXPORT_FILTER_TYPES)}", "InvalidSearchParameter")
    # "searches with type in the query string will result in an error" (any case, negated too)
    if names_a_type(params.get("query", "")):
        raise ApiError(400, dict(EXPORT_TYPE_IN_QUERY))
    # links.prev is always null: there is no way back, and asking for one is an error.
    if "page[before]" in params:
        raise ApiError(400, dict(EXPORT_NO_BACKWARD_PAGING))
    size = _export_page_size(request)
    after = params.get("page[after]")
    last_key: tuple[int, int] | None = None
    if after is not None:
        issued, last_key = _decode_cursor(state, after)
        # A cursor lives an hour (cursor_ttl) from the moment it was issued.
        if time.time() - issued > state.config.cursor_ttl:
            raise ApiError(400, dict(EXPORT_CURSOR_EXPIRED))
    matches = _search_documents(request) if filter_type == "ticket" else []
    # Results come in created_at order (ties by id); a cursor names the last key it returned,
    # so tickets indexed meanwhile never shift later pages nor repeat a ticket.
    matches.sort(key=lambda doc: doc.export_key)
    start = 0
    if last_key is not None:
        start = bisect.bisect_right([doc.export_key for doc in matches], last_key)
    page = matches[start : start + size]
    has_more = start + size < len(matches)
    after_cursor = _encode_cursor(state, page[-1].export_key, time.time()) if has_more else None
    next_link = None
    if after_cursor is not None:
        query = {key: value for key, value in params.items() if key != "page[after]"}
        next_link = str(request.url.with_query({**query, "page[after]": after_cursor}))
    base = base_url(request)
    return web.json_response(
        {
            "results": [{**public(doc.ticket, base), "result_type": "ticket"} for doc in page],
            "facets": None,
            "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": None},
            "links": {"prev": None, "next": next_link},
        }
    )
