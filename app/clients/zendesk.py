"""Zendesk Support API client: one long-lived `requests.Session`, timeouts and typed errors.

It authenticates with an OAuth client's bearer token shared by the fleet, or an API token until
Zendesk turns those off (app.clients.zendesk_auth). A 401 for a token that expired or was revoked
drops it, and the request is sent once more with a new one. A credential that cannot pass (the
OAuth client refused, a fresh token refused, an API token turned off, a 403 outside the token's
scope or the user's permissions) is a configuration fault: recorded where every process sees it,
the shared breaker opens, and callers wait (ZendeskConfigFault, a TryLater) until it is fixed.

The client never sleeps. A 429 becomes `ZendeskRateLimited` carrying the `Retry-After` seconds,
and the same pause is shared through `pause_gate` so every process on every host stops calling
Zendesk until it passes. Repeated 5xx/timeouts open a pybreaker breaker shared through Redis,
after which calls fail fast with `ZendeskCircuitOpen` until it half-opens. Callers (Celery tasks)
turn retryable errors into a countdown retry.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import pybreaker
import requests
import urllib3

from app.clients.breakers import FaultLog, shared_breaker
from app.clients.zendesk_auth import (
    ClientRefused,
    TokenRequestFailed,
    ZendeskAuth,
    connection_failure,
    json_session,
    origin,
)
from app.domain.models import Ticket, TicketUpdate
from app.errors import TryLater

log = logging.getLogger(__name__)

# The search export pages by cursor, so unlike search.json (1,000 results per query, then 422)
# it reaches every unprocessed ticket of a large backlog. Its reference: the type goes in
# filter[type], and "searches with type in the query string will result in an error"; 100 per page
# is the recommended size (1,000 the most).
# https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#export-search-results
EXPORT_PATH = "/api/v2/search/export.json"
EXPORT_PAGE_SIZE = 100
# ... but the export's own limit is 100 requests a minute, so a sweep that wants thousands reads
# pages of up to 1,000: a 3,000-ticket sweep is 3 requests, not 30 (20 of them past the burst,
# 14 s of waiting before the first ticket is dispatched; bench/plan_ceiling.py).
EXPORT_MAX_PAGE_SIZE = 1000
# Incremental Ticket Export, cursor based: up to 1,000 tickets a page, 10 requests a minute
# (https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/).
INCREMENTAL_PATH = "/api/v2/incremental/tickets/cursor.json"
INCREMENTAL_PAGE_SIZE = 1000
AUDITS_PAGE_SIZE = 100  # Ticket Audits: at most 100 a page with cursor pagination
UNPROCESSED_QUERY = "status<solved -tags:{tag}"
# update_many takes up to 100 tickets per job; show_many reads up to 100 per request.
BULK_MAX_TICKETS = 100
JOB_FINISHED = frozenset({"completed", "failed", "killed"})


class ZendeskError(Exception):
    """Any failure talking to Zendesk. `retryable` says whether the same call may succeed later;
    `reached_zendesk` whether the request may have arrived (it may then have taken effect)."""

    retryable = False

    def __init__(self, message: str, status: int | None = None, reached_zendesk: bool = True) -> None:
        super().__init__(message)
        self.status = status
        self.reached_zendesk = reached_zendesk


class ZendeskUnavailable(ZendeskError):
    """5xx, timeout or connection failure: try again later."""

    retryable = True


class ZendeskRateLimited(ZendeskUnavailable, TryLater):
    """429 (or a pause another process recorded, or a shared quota): wait `retry_after` seconds."""

    def __init__(self, retry_after: float, status: int | None = 429, message: str | None = None) -> None:
        # Without a status the wait was decided here (a shared pause or quota): nothing was sent.
        ZendeskUnavailable.__init__(
            self, message or f"rate limited, retry after {retry_after:.0f}s", status, reached_zendesk=status is not None
        )
        self.retry_after = retry_after


class ZendeskJobsBusy(ZendeskRateLimited):
    """No room for another update_many job: the account's 30 queued-or-running jobs (Zendesk's 429
    TooManyJobs), the fleet's own share of them, or a job sent earlier that may still be running."""

    def __init__(self, retry_after: float, message: str, status: int | None = None) -> None:
        super().__init__(retry_after, status, message)


class ZendeskCircuitOpen(ZendeskUnavailable, TryLater):
    """The shared Zendesk breaker is open after repeated 5xx/timeouts: come back in `retry_after`."""

    def __init__(self, retry_after: float) -> None:
        ZendeskUnavailable.__init__(
            self, f"Zendesk circuit breaker open, retry after {retry_after:.0f}s", reached_zendesk=False
        )
        self.retry_after = retry_after


class ZendeskConflict(ZendeskError):
    """409: the ticket changed since we read it (safe_update). Re-read, then retry."""

    retryable = True


class ZendeskNotFound(ZendeskError):
    """404: the ticket does not exist (deleted)."""


class ZendeskAuthError(ZendeskError):
    """401/403: wrong credentials or missing permission; fix configuration."""


class CredentialExpired(ZendeskAuthError):
    """401 for a credential that was dropped and can be renewed (an expired or revoked OAuth
    token): the client sends the request again with a new one. Never leaves the client."""


class ZendeskConfigFault(ZendeskAuthError, TryLater):
    """Every request is refused for what it carries, not for the ticket: the OAuth client refused,
    a new token refused, an API token turned off, a 403 outside the token's scope. Recorded for
    every process (health and the breaker's alert name it), the shared breaker opens, and callers
    wait `retry_after` seconds, as long as it takes an operator to fix it."""

    retryable = True
    needs_operator = True

    def __init__(
        self, reason: str, retry_after: float, status: int | None = None, reached_zendesk: bool = True
    ) -> None:
        ZendeskAuthError.__init__(self, f"configuration fault: {reason}", status, reached_zendesk)
        self.retry_after = retry_after
        self.reason = reason


class ZendeskRejected(ZendeskError):
    """Any other 4xx: the request itself is wrong for this ticket; retrying will not help."""


UPDATE_TICKET_RE = re.compile(r"/api/v2/tickets/\d+(?:\.json)?$")


def is_update_ticket(method: str, path: str) -> bool:
    """PUT /api/v2/tickets/{id}: the call with its own account limit (100/min)."""
    return method == "PUT" and bool(UPDATE_TICKET_RE.search(path.split("?")[0]))


def is_export(path: str) -> bool:
    """A search export page: the call with its own limit of 100 requests a minute."""
    return "/api/v2/search/export" in path


def is_incremental(path: str) -> bool:
    """An incremental export page: the call with its own limit of 10 requests a minute."""
    return "/api/v2/incremental/" in path


def _not_an_outage(error: BaseException) -> bool:
    """Only 5xx, timeouts and connection failures count against the breaker: a 429 means slower,
    a 4xx is about one request. A configuration fault counts too, so a half-open trial that meets
    it opens the breaker again (an expired token does not: it is renewed at once)."""
    if isinstance(error, ZendeskConfigFault):
        return False
    return not isinstance(error, ZendeskUnavailable) or isinstance(error, ZendeskRateLimited)


def zendesk_breaker(redis_client: Any, namespace: str, fail_max: int, reset_timeout: float) -> pybreaker.CircuitBreaker:
    return shared_breaker("zendesk", redis_client, namespace, fail_max, reset_timeout, exclude=[_not_an_outage])


class PauseGate(Protocol):
    """Shares a 429 pause between processes (see app.fleet.store.RedisPauseGate)."""

    def remaining(self) -> float: ...

    def pause(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class JobStatus:
    """An update_many job: `results` holds one entry per ticket once it has finished."""

    id: str
    status: str
    results: list[dict[str, Any]]
    message: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in JOB_FINISHED

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> JobStatus:
        job = body.get("job_status")
        if not isinstance(job, dict) or not job.get("id"):
            raise ZendeskError("job status answer without a job_status id")
        return cls(
            id=str(job["id"]),
            status=str(job.get("status", "")),
            results=list(job.get("results") or []),
            message=job.get("message"),
        )


def _retry_after(response: requests.Response, missing: float = 60.0) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(1.0, float(value))
    except ValueError:
        return missing  # the rate-limit page promises it; a minute is the safe guess without it


def _never_connected(error: requests.ConnectionError) -> bool:
    """True when the connection was refused or never set up, so the request cannot have arrived."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    return isinstance(reason, urllib3.exceptions.NewConnectionError)


def _error_name(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    return str(body.get("error") or "") if isinstance(body, dict) else ""


# The account's cap on update_many jobs queued or running at once (see the "Job limit" section of
# https://developer.zendesk.com/api-reference/introduction/rate-limits/). Its 429 is about jobs,
# not about the request rate, so it must not pause every other call.
TOO_MANY_JOBS = "TooManyJobs"
JOBS_FULL_WAIT = 15.0


def _describe(response: requests.Response) -> str:
    """Zendesk's own error name and description, never the request body (it may hold PII)."""
    try:
        body = response.json()
    except ValueError:
        return f"HTTP {response.status_code}"
    if not isinstance(body, dict):
        return f"HTTP {response.status_code}"
    error = body.get("error")
    if isinstance(error, dict):  # some endpoints nest {"title", "message"}
        error = error.get("title") or error.get("message")
    description = body.get("description") or body.get("error_description") or ""
    # The newer APIs (webhooks) answer {"errors": [{"code", "title", "detail"}]}.
    errors = body.get("errors")
    if isinstance(errors, list) and not error:
        items = [item for item in errors if isinstance(item, dict)]
        error = (
            "; ".join(
                str(item.get("code") or item.get("title") or "")
                for item in items
                if item.get("code") or item.get("title")
            )
            or None
        )
        details = "; ".join(str(item["detail"]) for item in items if item.get("detail"))
        description = description or details
    # 422s explain themselves per field: {"details": {"status": [{"description": "..."}]}}.
    per_field = body.get("details")
    if isinstance(per_field, dict):
        reasons = [
            item["description"]
            for items in per_field.values()
            if isinstance(items, list)
            for item in items
            if isinstance(item, dict) and item.get("description")
        ]
        if reasons:
            description = f"{description}: {'; '.join(reasons)}" if description else "; ".join(reasons)
    text = " ".join(str(part) for part in (error, description) if part)
    return f"HTTP {response.status_code} {text}".strip()


def _where(method: str, path_or_url: str) -> str:
    """`PUT /api/v2/tickets/update_many.json`: the method and path, without host or query."""
    path = path_or_url.split("?", 1)[0]
    if path.startswith("http"):
        path = "/" + path.split("://", 1)[-1].partition("/")[2]
    return f"{method} {path}"


# Seconds a configuration fault holds every caller back when there is no breaker to say so.
FAULT_WAIT = 60.0


@dataclass(eq=False)
class ZendeskClient:
    """The Zendesk endpoints the fleet uses, over one session, authenticated by `auth`."""

    base_url: str
    auth: ZendeskAuth
    timeout: float = 30.0
    pause_gate: PauseGate | None = None
    session: requests.Session = field(default_factory=json_session)
    breaker: pybreaker.CircuitBreaker | None = None
    # throttle(method, path) takes the shared quota tokens for a call: 0 when granted, else
    # seconds to wait (app.fleet.ratelimit); the call is then not sent at all.
    throttle: Callable[[str, str], float] | None = None
    # The configuration fault every process sees while it holds the breaker open.
    faults: FaultLog | None = None
    # meter(method, path, status) counts each request Zendesk answered (status: its HTTP status)
    # or did not (`timeout`, `connection_error`): app.fleet.meters.
    meter: Callable[[str, str, str], None] | None = None

    def _count(self, method: str, path_or_url: str, status: str) -> None:
        if self.meter is not None:
            self.meter(method, path_or_url, status)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        json_session(self.session)  # a session handed in asks for JSON too

    def _request(self, method: str, path_or_url: str, **kwargs: Any) -> requests.Response:
        try:
            return self._attempt(method, path_or_url, may_renew=True, **kwargs)
        except CredentialExpired:
            # The token expired or was revoked and is dropped: once more, with a new one. A second
            # 401 is a configuration fault (_send), never a failed ticket.
            return self._attempt(method, path_or_url, may_renew=False, **kwargs)

    @property
    def fault_wait(self) -> float:
        return self.breaker.reset_timeout if self.breaker is not None else FAULT_WAIT

    def _attempt(self, method: str, path_or_url: str, may_renew: bool, **kwargs: Any) -> requests.Response:
        if self.pause_gate is not None:
            wait = self.pause_gate.remaining()
            if wait > 0:
                raise ZendeskRateLimited(wait, status=None)
        if self.throttle is not None:
            wait = self.throttle(method, path_or_url)
            if wait > 0:
                raise ZendeskRateLimited(wait, status=None)
        if self.breaker is None:
            return self._send(method, path_or_url, may_renew, **kwargs)
        try:
            return self.breaker.call(self._send, method, path_or_url, may_renew, **kwargs)
        except pybreaker.CircuitBreakerError as e:
            fault = self.faults.get() if self.faults is not None else None
            if fault:
                raise ZendeskConfigFault(fault, self.breaker.reset_timeout, reached_zendesk=False) from e
            raise ZendeskCircuitOpen(self.breaker.reset_timeout) from e
        except ZendeskConfigFault:
            if self.breaker.current_state != pybreaker.STATE_OPEN:
                self.breaker.open()  # for every process: nothing passes until it is fixed
            raise

    def _fault(self, reason: str, status: int | None = None, reached: bool = True) -> ZendeskConfigFault:
        """Record a configuration fault for every process (before the breaker opens, so its alert
        names it) and return the error to raise."""
        if self.faults is not None:  # the fleet's client; a command's own client says it to its caller
            log.error(
                "Zendesk configuration fault: %s; the Zendesk breaker opens and tickets wait until it is fixed", reason
            )
            self.faults.record(reason)
        return ZendeskConfigFault(reason, self.fault_wait, status, reached)

    def _authorization(self, method: str, path_or_url: str) -> str:
        try:
            return self.auth.authorization()
        except ClientRefused as e:
            raise self._fault(str(e), reached=False) from e
        except TokenRequestFailed as e:
            if e.retry_after is not None:
                raise ZendeskRateLimited(e.retry_after, None, f"OAuth token endpoint busy: {e}") from e
            raise ZendeskUnavailable(
                f"no OAuth token for {_where(method, path_or_url)}: {e}", reached_zendesk=False
            ) from e

    def _refused(
        self, response: requests.Response, authorization: str, method: str, path_or_url: str, may_renew: bool
    ) -> ZendeskError:
        """What a 401 or 403 means here: a token to renew, or a configuration fault."""
        where = _where(method, path_or_url)
        if response.status_code == 403:
            why = (
                (
                    f"outside the OAuth token's scope {getattr(self.auth, 'scope', '')!r} (ZENDESK_OAUTH_SCOPE), "
                    "or beyond its user's permissions"
                )
                if self.auth.kind == "oauth"
                else "beyond the API token user's permissions"
            )
            return self._fault(f"{_describe(response)} on {where}: {why}", 403)
        if may_renew and self.auth.refused(authorization):
            return CredentialExpired(_describe(response), 401)
        if self.auth.kind == "oauth":
            return self._fault(f"a new OAuth access token was refused ({_describe(response)} on {where})", 401)
        return self._fault(
            f"the API token was refused ({_describe(response)}); Zendesk turns API tokens off "
            "on 2027-04-30: set ZENDESK_OAUTH_CLIENT_ID and ZENDESK_OAUTH_CLIENT_SECRET",
            401,
        )

    def _send(self, method: str, path_or_url: str, may_renew: bool = False, **kwargs: Any) -> requests.Response:
        url = path_or_url if path_or_url.startswith("http") else f"{self.base_url}{path_or_url}"
        authorization = self._authorization(method, path_or_url)
        headers = {**kwargs.pop("headers", {}), "Authorization": authorization}
        try:
            response = self.session.request(method, url, timeout=self.timeout, headers=headers, **kwargs)
        # Each names the host, so a wrong ZENDESK_URL or ZENDESK_SUBDOMAIN shows in the message.
        except requests.ConnectTimeout as e:
            self._count(method, path_or_url, "timeout")
            raise ZendeskUnavailable(
                f"cannot connect to {origin(url)} (no answer within {self.timeout}s) on {method} {path_or_url}",
                reached_zendesk=False,
            ) from e
        except requests.Timeout as e:  # sent, no answer in time: it may have taken effect
            self._count(method, path_or_url, "timeout")
            raise ZendeskUnavailable(f"timeout after {self.timeout}s on {method} {path_or_url} at {origin(url)}") from e
        except requests.ConnectionError as e:
            self._count(method, path_or_url, "connection_error")
            raise ZendeskUnavailable(
                f"{connection_failure(url, e)} on {method} {path_or_url}", reached_zendesk=not _never_connected(e)
            ) from e
        status = response.status_code
        self._count(method, path_or_url, str(status))
        if status < 400:
            return response
        if status == 429 and _error_name(response) == TOO_MANY_JOBS:
            raise ZendeskJobsBusy(
                _retry_after(response, JOBS_FULL_WAIT), "Zendesk holds its maximum of queued or running jobs", status
            )
        if status == 429:
            retry_after = _retry_after(response)
            if self.pause_gate is not None:
                self.pause_gate.pause(retry_after)
            raise ZendeskRateLimited(retry_after)
        message = _describe(response)
        if status >= 500:
            raise ZendeskUnavailable(message, status)
        if status == 409:
            raise ZendeskConflict(message, status)
        if status == 404:
            raise ZendeskNotFound(message, status)
        if status in (401, 403):
            raise self._refused(response, authorization, method, path_or_url, may_renew)
        raise ZendeskRejected(message, status)

    def call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """Any endpoint through the same auth, quotas, pause and breaker; its JSON answer ({} for
        204 No Content). For the administrative endpoints (app.clients.zendesk_admin)."""
        response = self._request(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return {}
        body = response.json()
        return body if isinstance(body, dict) else {}

    def unprocessed_tickets(
        self, processed_tag: str = "ai_processed", wanted: int = EXPORT_PAGE_SIZE
    ) -> Iterator[Ticket]:
        """Every open ticket without the processed tag, page by page through the search export, in
        pages of about `wanted` (the recommended 100 at least, the most allowed 1,000 at most).

        Lazy: a caller that has claimed enough stops reading, and later pages are never requested.
        """
        page_size = min(EXPORT_MAX_PAGE_SIZE, max(EXPORT_PAGE_SIZE, wanted))
        params = {
            "query": UNPROCESSED_QUERY.format(tag=processed_tag),
            "filter[type]": "ticket",
            "page[size]": page_size,
        }
        for body in self.cursor_pages(EXPORT_PATH, params):
            for item in body.get("results", []):
                if item.get("result_type", "ticket") == "ticket":
                    yield Ticket.model_validate(item)

    def cursor_pages(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The bodies of a cursor-paginated list, page by page, lazily: `meta.has_more` says whether
        there is another page, and `links.next` is its complete URL (query and cursor in it)."""
        url: str | None = path
        query: dict[str, Any] | None = params
        while url:
            body = self._request("GET", url, params=query).json()
            query = None
            yield body
            url = (body.get("links") or {}).get("next") if (body.get("meta") or {}).get("has_more") else None

    def get_ticket(self, ticket_id: int) -> Ticket:
        body = self._request("GET", f"/api/v2/tickets/{ticket_id}.json").json()
        return Ticket.model_validate(body["ticket"])

    def update_ticket(self, ticket_id: int, update: TicketUpdate) -> Ticket:
        """PUT one ticket; returns the ticket as Zendesk stored it."""
        body = self._request("PUT", f"/api/v2/tickets/{ticket_id}.json", json=update.payload()).json()
        return Ticket.model_validate(body["ticket"])

    def set_priority(self, ticket_id: int, priority: str, updated_stamp: str) -> Ticket:
        """Raise one ticket's priority, only if nobody wrote the ticket since `updated_stamp`
        (safe_update: a 409 otherwise). Counts against the Update Ticket limit."""
        body = {"ticket": {"priority": priority, "safe_update": True, "updated_stamp": updated_stamp}}
        return Ticket.model_validate(
            self._request("PUT", f"/api/v2/tickets/{ticket_id}.json", json=body).json()["ticket"]
        )

    def show_many(self, ticket_ids: list[int]) -> list[Ticket]:
        """Up to 100 tickets in one request; deleted ones are simply missing from the answer."""
        if not 1 <= len(ticket_ids) <= BULK_MAX_TICKETS:
            raise ValueError(f"show_many takes 1 to {BULK_MAX_TICKETS} ids, got {len(ticket_ids)}")
        ids = ",".join(str(ticket_id) for ticket_id in ticket_ids)
        body = self._request("GET", "/api/v2/tickets/show_many.json", params={"ids": ids}).json()
        return [Ticket.model_validate(item) for item in body.get("tickets", [])]

    def update_many(self, updates: dict[int, TicketUpdate]) -> JobStatus:
        """Queue one job adding each ticket's own tags and private note (up to 100 tickets); poll
        `job_status`. Only the additive fields are sent: update_many ignores safe_update, so a
        priority written here could lower one an agent raised meanwhile (app.fleet.writeback writes those)."""
        if not 1 <= len(updates) <= BULK_MAX_TICKETS:
            raise ValueError(f"update_many takes 1 to {BULK_MAX_TICKETS} tickets, got {len(updates)}")
        tickets = [{"id": ticket_id, **update.additive_fields()} for ticket_id, update in updates.items()]
        body = self._request("PUT", "/api/v2/tickets/update_many.json", json={"tickets": tickets}).json()
        return JobStatus.from_body(body)

    def job_status(self, job_id: str) -> JobStatus:
        return JobStatus.from_body(self._request("GET", f"/api/v2/job_statuses/{job_id}.json").json())

    def me(self) -> dict[str, Any]:
        """The user the credential acts as (the fleet's own user: the author of what it writes)."""
        return self._request("GET", "/api/v2/users/me.json").json()["user"]

    def changed_tickets_page(
        self, start_time: int | None = None, after_url: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the Incremental Ticket Export: the tickets changed since `start_time` (Unix
        seconds; first page) or after the page before (`after_url`), as raw JSON, and the next
        page's URL (None at `end_of_stream`). Page by page, so a caller waiting out the export's
        10-a-minute limit resumes where it stopped."""
        if after_url:
            body = self._request("GET", after_url).json()
        else:
            body = self._request(
                "GET", INCREMENTAL_PATH, params={"start_time": int(start_time or 0), "per_page": INCREMENTAL_PAGE_SIZE}
            ).json()
        return body.get("tickets", []), None if body.get("end_of_stream") else body.get("after_url")

    def ticket_audits(self, ticket_id: int) -> list[dict[str, Any]]:
        """Every audit of a ticket, oldest first: who changed what (cursor pages)."""
        return [
            audit
            for body in self.cursor_pages(f"/api/v2/tickets/{ticket_id}/audits.json", {"page[size]": AUDITS_PAGE_SIZE})
            for audit in body.get("audits", [])
        ]

    def close(self) -> None:
        self.session.close()
