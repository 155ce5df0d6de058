"""Zendesk Support API simulator that speaks the real wire protocol.

One aiohttp process with in-memory state. A client written for real Zendesk (for example
``requests.Session`` with Basic auth ``{email}/token:{token}``) works against it unchanged.
It follows Zendesk's documentation strictly and, where the documentation is silent, takes
the less forgiving reading, so a client that works here does not lean on leniency:

* tickets, comments, single updates (``tags`` replaces, ``additional_tags`` adds,
  ``safe_update`` answers 409 on a stale ``updated_stamp``), deletes, ``show_many``;
* ``update_many`` as an asynchronous job polled through ``job_statuses``: jobs stay queued
  (``--job-delay-ms``, 2 s by default), then work through their tickets one by one
  (``--job-item-ms`` each, polls see ``working`` and ``progress``); at most ``--max-jobs``
  (30) jobs may be queued or working per account, beyond that 429 ``TooManyJobs`` without
  ``Retry-After``; ``safe_update``/``updated_stamp`` inside its items are ignored (they are
  documented for single-ticket updates only) unless ``--bulk-safe-update``; a job status
  answers 404 ``--job-ttl`` seconds after its job finished;
* search that sees an index lagging behind the live data (30 s by default; seeded tickets
  are indexed from the start), capped at 1,000 results per query (a page starting at
  offset 1,000 is a 422, and ``next_page`` still points there, as it does on real Zendesk);
* the cursor-based export without that cap, held to its reference: the type goes in
  ``filter[type]`` and a ``type:`` term in the query is a 400; ``page[size]`` outside
  1..1,000 is a 400, not clamped; results come in ``created_at`` order (ties by id);
  cursors expire after ``--cursor-ttl`` seconds (an hour); there is no backward paging
  (``page[before]`` is a 400, ``links.prev`` is always null); its own limit of
  ``--export-rate-limit`` (100) requests per window on top of the account limit;
* the account-wide, Update Ticket and export rate limits (sliding windows, 429 +
  ``Retry-After``); every request, job status polls included, counts against the account;
* simulated agents editing tickets in the UI (``--agent-edit-rate``): their edits use up
  the Update Ticket budget, as real agents' edits do, but are never refused;
* injected latency, random errors, outage windows and per-ticket update failures.

Unauthenticated ``/_sim/*`` endpoints expose statistics, runtime configuration and
backdoors (creating tickets, agent edits, full ticket records) for demos, tests and
benchmarks. Run ``python -m sim.zendesk --help`` for the options; import
``create_app`` or ``running_simulator`` to embed it.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import bisect
import contextlib
import dataclasses
import heapq
import hmac
import html
import itertools
import json
import logging
import math
import operator
import random
import re
import secrets
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any, Callable, Iterator, NamedTuple

from aiohttp import BasicAuth, web

from sim._server import (
    ApiError,
    ConfigError,
    RunningSimulator,
    SlidingWindow,
    checked_setting,
    config_from_args,
    run_command_line,
    serve_in_thread,
    serve_until_signalled,
)
from sim.ticketgen import GeneratedTicket, generate_ticket

log = logging.getLogger("sim.zendesk")

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
STATUS_RANK = {status: rank for rank, status in enumerate(STATUSES)}
PRIORITIES = ("low", "normal", "high", "urgent")
# A ticket without priority sorts below "low", so raising it from nothing is a raise.
PRIORITY_RANK = {None: 0, "low": 1, "normal": 2, "high": 3, "urgent": 4}

SEARCH_RESULT_LIMIT = 1000
MAX_SEARCH_PER_PAGE = 100
MAX_EXPORT_PAGE_SIZE = 1000
DEFAULT_EXPORT_PAGE_SIZE = 100  # the size Zendesk recommends
EXPORT_FILTER_TYPES = ("ticket", "user", "organization", "group")
MAX_BULK_ITEMS = 100
MAX_SHOW_MANY_IDS = 100

API_USER_ID = 1_000_001  # the integration's user: author of comments made through the API
AGENT_IDS = tuple(range(1_000_002, 1_000_012))
GROUP_IDS = (360_001, 360_002, 360_003)
ORGANIZATION_IDS = tuple(range(500_001, 500_041))
FIRST_REQUESTER_ID = 2_000_001
REQUESTER_POOL = 5000
SEED_HISTORY_SECONDS = 3 * 24 * 3600  # seeded tickets were created over the last three days

ENDPOINTS = ("search", "export", "ticket_get", "show_many", "ticket_update", "ticket_delete",
             "update_many", "job_status", "comments", "tags")

UPDATE_CONFLICT = {
    "error": "UpdateConflict",
    "description": "Safe Update prevented the update due to outdated ticket data. "
                   "Please fetch the latest ticket data and try again.",
}
SEARCH_LIMIT_EXCEEDED = {
    "error": "invalid",
    "description": "Invalid search: Requested response size was greater than Search Response Limits",
}
# https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#export-search-results
# "searches with type in the query string will result in an error": the type goes in filter[type].
EXPORT_TYPE_IN_QUERY = {
    "error": "InvalidSearchParameter",
    "description": "Searches with type in the query string are not supported by the export; "
                   "pass the type in filter[type]",
}
EXPORT_CURSOR_EXPIRED = {
    "error": "InvalidPaginationParameter",
    "description": "The pagination cursor has expired; start the export again",
}
EXPORT_NO_BACKWARD_PAGING = {
    "error": "InvalidPaginationParameter",
    "description": "page[before] is not supported: the export pages forward only",
}
JOB_STATUS_ACTIVE = ("queued", "working")
# Simulated agents: the tag they add and the priority they raise tickets to.
AGENT_REVIEW_TAG = "agent_reviewed"
AGENT_RAISED_PRIORITY = "urgent"
AGENT_PRIORITY_SHARE = 0.8  # "usually" raise the priority, otherwise add the review tag


# --- Configuration ----------------------------------------------------------------------

# Settings that POST /_sim/config may change while running: name -> (type, minimum, maximum).
RUNTIME_SETTINGS: dict[str, tuple[type, float, float | None]] = {
    "latency_ms": (float, 0, None),
    "error_ratio": (float, 0, 1),
    "error_status": (int, 400, 599),
    "rate_limit": (int, 1, None),
    "update_rate_limit": (int, 1, None),
    "rate_window": (float, 0.001, None),
    "index_lag": (float, 0, None),
    "arrival_rate": (float, 0, None),
    "job_delay_ms": (float, 0, None),
    "job_item_ms": (float, 0, None),
    "job_ttl": (float, 0, None),
    "max_jobs": (int, 1, None),
    "bulk_safe_update": (bool, 0, None),
    "export_rate_limit": (int, 1, None),
    "cursor_ttl": (float, 0.001, None),
    "agent_edit_rate": (float, 0, None),
}


def _checked_setting(name: str, value: Any) -> int | float:
    """Coerce and range-check one runtime setting, raising ConfigError when invalid."""
    return checked_setting(name, value, *RUNTIME_SETTINGS[name])


@dataclass
class SimConfig:
    """Everything the simulator can be told on its command line (same names, underscored)."""

    host: str = "127.0.0.1"
    port: int = 8081
    tickets: int = 200
    seed: int = 1
    email: str = "triage-bot@example.com"
    token: str = "sim-api-token"
    latency_ms: float = 0.0
    # New tickets take minutes to appear in real search results; tens of seconds by default here.
    index_lag: float = 30.0
    rate_limit: int = 700
    update_rate_limit: int = 100
    # https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#export-search-results
    # (its own limit of 100 requests per minute, on top of the account limit)
    export_rate_limit: int = 100
    # https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#export-search-results
    # (a cursor lives an hour)
    cursor_ttl: float = 3600.0
    rate_window: float = 60.0
    error_ratio: float = 0.0
    error_status: int = 503
    outage_start: float = 0.0
    outage_seconds: float = 0.0
    arrival_rate: float = 0.0
    job_delay_ms: float = 2000.0  # time a job stays queued
    job_item_ms: float = 20.0  # time a working job spends on each ticket
    # https://developer.zendesk.com/api-reference/ticketing/ticket-management/job_statuses/
    # (statuses expire; an hour is the short end of what Zendesk keeps)
    job_ttl: float = 3600.0
    # https://developer.zendesk.com/api-reference/introduction/rate-limits/ ("Job limit")
    max_jobs: int = 30
    # https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-many-tickets
    # documents safe_update for single-ticket updates only: ignored in update_many unless set.
    bulk_safe_update: bool = False
    agent_edit_rate: float = 0.0  # UI edits by simulated agents per minute
    non_english_share: float = 0.1

    def __post_init__(self) -> None:
        for name in RUNTIME_SETTINGS:
            setattr(self, name, _checked_setting(name, getattr(self, name)))
        if self.tickets < 0 or self.outage_start < 0 or self.outage_seconds < 0:
            raise ConfigError("tickets, outage_start and outage_seconds must be >= 0")
        if not 0 <= self.non_english_share <= 1:
            raise ConfigError("non_english_share must be between 0 and 1")


# --- Small helpers ----------------------------------------------------------------------

def format_timestamp(epoch_seconds: float) -> str:
    """ISO 8601 UTC with second precision, the way Zendesk writes timestamps."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_seconds))


def parse_timestamp(text: str) -> float | None:
    """Epoch seconds for an ISO 8601 timestamp or date (naive means UTC); None if unparseable."""
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


def _error_name(status: int) -> str:
    """Zendesk-style error name for a status without a more specific one ("ServiceUnavailable")."""
    try:
        return HTTPStatus(status).phrase.replace(" ", "").replace("-", "")
    except ValueError:
        return "Error"


def record_invalid(field_name: str, description: str) -> dict:
    """Body of a 422 RecordInvalid answer about one field."""
    return {"error": "RecordInvalid", "description": "Record validation errors",
            "details": {field_name: [{"description": description}]}}


def injected_failure_body(status: int) -> dict:
    """Body for an injected per-ticket update failure with the given status."""
    if status == 422:
        return record_invalid("base", "Simulated failure")
    if status == 409:
        return dict(UPDATE_CONFLICT)
    if status == 404:
        return {"error": "RecordNotFound", "description": "Not found"}
    return {"error": _error_name(status), "description": "Simulated failure"}


def _not_found() -> ApiError:
    return ApiError(404, {"error": "RecordNotFound", "description": "Not found"})


def _bad_request(description: str, error: str = "InvalidValue") -> ApiError:
    return ApiError(400, {"error": error, "description": description})


def _normalize_tags(value: Any, field_name: str) -> list[str]:
    """Zendesk tags: lower case, whitespace separates tags, no duplicates, order kept."""
    if isinstance(value, str):
        pieces = value.split()
    elif isinstance(value, list) and all(isinstance(tag, str) for tag in value):
        pieces = [piece for tag in value for piece in tag.split()]
    else:
        raise ApiError(422, record_invalid(field_name, f"{field_name} must be a list of strings"))
    return list(dict.fromkeys(piece.lower() for piece in pieces))


# --- Tickets ------------------------------------------------------------------------------

WORD_RE = re.compile(r"\w+")


class SearchDocument(NamedTuple):
    """A ticket as the search index saw it at one moment."""

    ticket_id: int
    version: int  # orders snapshots of one ticket, so a late older one never wins
    ticket: dict  # ticket JSON with a path-only "url"
    words: frozenset[str]
    text: str  # lower-cased subject and description, for quoted phrases
    created_at: int  # epoch seconds: the export's order (with the ticket id for ties)

    @property
    def export_key(self) -> tuple[int, int]:
        return self.created_at, self.ticket_id


@dataclass
class TicketRecord:
    """One ticket with its comments and the bookkeeping behind /_sim/stats."""

    id: int
    subject: str
    description: str
    status: str
    priority: str | None
    type: str | None
    tags: list[str]
    requester_id: int
    assignee_id: int | None
    organization_id: int | None
    group_id: int | None
    created_at: int
    updated_at: int
    comments: list[dict] = field(default_factory=list)
    api_updates: list[dict] = field(default_factory=list)
    # What people set (seeding, /_sim/tickets, agent edits): the fleet must never lose a
    # protected tag nor lower the priority below the protected one.
    protected_tags: set[str] = field(default_factory=set)
    protected_priority: str | None = None
    api_private_notes: int = 0
    generated: GeneratedTicket | None = None

    def touch(self) -> None:
        """Advance updated_at to now, and always past its old value so stamps stay exact."""
        self.updated_at = max(int(time.time()), self.updated_at + 1)

    def to_json(self) -> dict:
        """The ticket as the API shows it; "url" is a path the handler prefixes with the host."""
        return {
            "id": self.id,
            "url": f"/api/v2/tickets/{self.id}.json",
            "external_id": None,
            "type": self.type,
            "subject": self.subject,
            "raw_subject": self.subject,
            "description": self.description,
            "priority": self.priority,
            "status": self.status,
            "requester_id": self.requester_id,
            "submitter_id": self.requester_id,
            "assignee_id": self.assignee_id,
            "organization_id": self.organization_id,
            "group_id": self.group_id,
            "tags": list(self.tags),
            "custom_fields": [],
            "created_at": format_timestamp(self.created_at),
            "updated_at": format_timestamp(self.updated_at),
        }


def _make_comment(comment_id: int, author_id: int, body: str, public: bool, created_at: int) -> dict:
    paragraphs = html.escape(body).replace("\n", "<br>")
    return {
        "id": comment_id,
        "type": "Comment",
        "author_id": author_id,
        "body": body,
        "html_body": f'<div class="zd-comment" dir="auto"><p dir="auto">{paragraphs}</p></div>',
        "plain_body": body,
        "public": public,
        "created_at": format_timestamp(created_at),
        "attachments": [],
    }


class SearchIndex:
    """The search index: snapshots of tickets that become visible index_lag after a change."""

    def __init__(self) -> None:
        self.visible: dict[int, SearchDocument] = {}
        self._pending: list[tuple[float, int, int, SearchDocument | None]] = []
        self._versions = itertools.count(1)

    def publish(self, record: TicketRecord | None, ticket_id: int, visible_at: float) -> None:
        """Schedule the ticket's current state (None: its deletion) to be searchable at visible_at."""
        version = next(self._versions)
        document = None
        if record is not None:
            text = f"{record.subject}\n{record.description}".lower()
            document = SearchDocument(ticket_id, version, record.to_json(),
                                      frozenset(WORD_RE.findall(text)), text, record.created_at)
        heapq.heappush(self._pending, (visible_at, version, ticket_id, document))

    def refresh(self, now: float) -> None:
        """Apply every snapshot whose time has come."""
        while self._pending and self._pending[0][0] <= now:
            _, version, ticket_id, document = heapq.heappop(self._pending)
            current = self.visible.get(ticket_id)
            # The lag can shrink at run time, so an older snapshot may come due after a newer one.
            if current is not None and current.version > version:
                continue
            if document is None:
                self.visible.pop(ticket_id, None)
            else:
                self.visible[ticket_id] = document

    @property
    def pending(self) -> int:
        return len(self._pending)


# --- Search queries ------------------------------------------------------------------------

class SearchError(ValueError):
    """The query uses syntax the simulator does not understand."""


TERM_RE = re.compile(r'(-?)(?:([A-Za-z_]+)(<=|>=|:|<|>))?("[^"]*"|\S+)')
ORED_FIELDS = {"type", "status", "priority", "ticket_type"}  # single-valued: equal terms OR
Predicate = Callable[[SearchDocument], bool]


COMPARISONS = {":": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt,
               ">=": operator.ge}


def _ranked(op: str, rank: dict, wanted: str | None, attribute: str) -> Predicate:
    """A comparison of an ordered property (status or priority) against one value."""
    if wanted not in rank:
        return lambda doc: False
    target, compare = rank[wanted], COMPARISONS[op]
    return lambda doc: compare(rank[doc.ticket[attribute]], target)


def _date_range(op: str, value: str, attribute: str) -> Predicate:
    """created/updated against a date (the whole day) or a timestamp (that second)."""
    start = parse_timestamp(value)
    if start is None:
        raise SearchError(f"cannot read the date {value!r}")
    is_whole_day = len(value) == len("2025-11-05")
    end = start + (86400 if is_whole_day else 1)

    def matches(doc: SearchDocument) -> bool:
        moment = parse_timestamp(doc.ticket[attribute])
        return {":": start <= moment < end, "<": moment < start, "<=": moment < end,
                ">": moment >= end, ">=": moment >= start}[op]
    return matches


def _term_predicate(field_name: str | None, op: str, value: str) -> Predicate:
    quoted = len(value) >= 2 and value.startswith('"') and value.endswith('"')
    value = value.strip('"')
    if field_name is None:
        if quoted:
            phrase = value.lower()
            return lambda doc: phrase in doc.text
        wanted = set(WORD_RE.findall(value.lower()))
        return lambda doc: wanted <= doc.words
    name = field_name.lower()
    lowered = value.lower()
    if name == "type":
        # Only tickets are indexed: users, organizations and the rest never match.
        return lambda doc: lowered == "ticket"
    if name == "status":
        return _ranked(op, STATUS_RANK, lowered, "status")
    if name == "priority":
        return _ranked(op, PRIORITY_RANK, None if lowered == "none" else lowered, "priority")
    if name == "ticket_type" and op == ":":
        return lambda doc: doc.ticket["type"] == lowered
    if name in ("tags", "tag") and op == ":":
        return lambda doc: lowered in doc.ticket["tags"]
    if name in ("created", "updated"):
        return _date_range(op, value, f"{name}_at")
    raise SearchError(f"unsupported search term {field_name}{op}{value}")


def compile_query(query: str) -> Predicate:
    """Turn a Zendesk search query into a predicate over indexed documents.

    Supported: ``type:ticket``, ``status`` and ``priority`` with ``: < <= > >=``,
    ``ticket_type:``, ``tags:``, ``created``/``updated`` with a date, plain words (all
    must occur in subject or description), ``"quoted phrases"`` and ``-`` to negate any
    term. Equality terms on the same single-valued property are ORed, everything else ANDed.
    """
    groups: dict[str, list[Predicate]] = {}
    for position, match in enumerate(TERM_RE.finditer(query)):
        negated, field_name, op, value = match.groups()
        predicate = _term_predicate(field_name, op or ":", value)
        if negated:
            predicate = (lambda inner: lambda doc: not inner(doc))(predicate)
        ored = not negated and op == ":" and (field_name or "").lower() in ORED_FIELDS
        key = field_name.lower() if ored else f"#{position}"
        groups.setdefault(key, []).append(predicate)
    alternatives = list(groups.values())
    return lambda doc: all(any(p(doc) for p in group) for group in alternatives)


def names_a_type(query: str) -> bool:
    """Whether the query has a ``type`` term (any case, any operator, negated or not)."""
    return any((field_name or "").lower() == "type"
               for _, field_name, _, _ in TERM_RE.findall(query))


SORT_KEYS: dict[str, Callable[[SearchDocument], Any]] = {
    "created_at": lambda doc: (doc.ticket["created_at"], doc.ticket_id),
    "updated_at": lambda doc: (doc.ticket["updated_at"], doc.ticket_id),
    "priority": lambda doc: (PRIORITY_RANK[doc.ticket["priority"]], doc.ticket_id),
    "status": lambda doc: (STATUS_RANK[doc.ticket["status"]], doc.ticket_id),
}


# --- State --------------------------------------------------------------------------------

class SimState:
    """All in-memory state of one simulator; touched only from its event loop."""

    def __init__(self, config: SimConfig):
        self.config = config
        self.started = time.monotonic()
        self.tickets: dict[int, TicketRecord] = {}
        self.index = SearchIndex()
        self.jobs: dict[str, dict] = {}
        self.job_finished_at: dict[str, float] = {}  # monotonic moment each finished job ended
        self.fail_updates: dict[int, int] = {}
        self.outage_from = self.outage_until = 0.0
        self.account_window = SlidingWindow()
        self.update_window = SlidingWindow()
        self.export_window = SlidingWindow()
        # Separate generators, so arrivals, faults and agents never change what a seed produces.
        self.fault_rng = random.Random(f"{config.seed}:faults")
        self.arrival_rng = random.Random(f"{config.seed}:arrivals")
        self.agent_rng = random.Random(f"{config.seed}:agents")
        # Signs export cursors: they are opaque, a client can neither forge nor prolong one.
        self.cursor_key = secrets.token_bytes(16)
        self._ticket_ids = itertools.count(1)
        self._comment_ids = itertools.count(10_000_001)
        self._audit_ids = itertools.count(20_000_001)
        self._event_ids = itertools.count(30_000_001)
        self.requests_total = 0
        self.requests_by_endpoint = Counter({name: 0 for name in ENDPOINTS})
        self.responses_by_status: Counter[str] = Counter()
        self.ticket_updates_total = 0
        self.tickets_created = 0
        self.tickets_deleted = 0
        self.jobs_created = 0
        self.job_status_404 = 0
        self.agent_edits_total = 0
        self.agent_priority_raises = 0
        self._seed(config.tickets)

    # Ticket creation ------------------------------------------------------------------

    def _seed(self, count: int) -> None:
        """Create the seeded tickets, deterministic for the configured seed, already indexed."""
        rng = random.Random(self.config.seed)
        now = int(time.time())
        ages = sorted((rng.uniform(60, SEED_HISTORY_SECONDS) for _ in range(count)), reverse=True)
        for age in ages:
            generated = generate_ticket(rng, self.config.non_english_share)
            created_at = now - int(age)
            # A ticket someone has looked at changed a while after it was created.
            touched = 0 if generated.status == "new" else int(rng.uniform(0, age / 2))
            self._create(generated, rng, created_at, created_at + touched, indexed_at=self.started)
        self.index.refresh(self.started)

    def _create(self, generated: GeneratedTicket, rng: random.Random, created_at: int,
                updated_at: int, indexed_at: float) -> TicketRecord:
        """Store a ticket written by a customer; its person-set tags and priority become protected."""
        status = generated.status
        requester_id = FIRST_REQUESTER_ID + rng.randrange(REQUESTER_POOL)
        record = TicketRecord(
            id=next(self._ticket_ids), subject=generated.subject,
            description=generated.description, status=status, priority=generated.priority,
            type=generated.ticket_type, tags=list(generated.tags), requester_id=requester_id,
            assignee_id=None if status == "new" else rng.choice(AGENT_IDS),
            organization_id=rng.choice((None, *ORGANIZATION_IDS)),
            group_id=rng.choice(GROUP_IDS), created_at=created_at, updated_at=updated_at,
            protected_tags=set(generated.tags), protected_priority=generated.priority,
            generated=generated,
        )
        record.comments.append(_make_comment(next(self._comment_ids), requester_id,
                                             generated.description, True, created_at))
        if status in ("pending", "hold"):
            # Waiting on the customer or a third party: an agent has answered once.
            record.comments.append(_make_comment(
                next(self._comment_ids), record.assignee_id,
                "Thanks for reaching out! Could you send us a screenshot and the exact time "
                "this happened? We'll take it from there.", True, updated_at))
        self.tickets[record.id] = record
        self.tickets_created += 1
        self.index.publish(record, record.id, indexed_at)
        return record

    def add_ticket(self, subject: str, description: str, tags: list[str],
                   priority: str | None, status: str, created_at: int | None = None) -> TicketRecord:
        """Create a hand-written ticket (searchable only after the index lag).

        ``created_at`` (epoch seconds, not in the future) backdates it, as an imported ticket.
        """
        # "unknown" ground truth: nobody labelled a hand-written ticket.
        written = GeneratedTicket(
            subject=subject, description=description, category="unknown", language="unknown",
            urgency="unknown", sentiment="unknown", pii=(), tags=tuple(tags), priority=priority,
            status=status, ticket_type=None)
        now = int(time.time())
        created = now if created_at is None else min(created_at, now)
        return self._create(written, self.arrival_rng, created, now, self._visible_at())

    def add_generated_ticket(self) -> TicketRecord:
        """Create a new generated ticket, the way --arrival-rate adds them."""
        generated = dataclasses.replace(
            generate_ticket(self.arrival_rng, self.config.non_english_share), status="new")
        now = int(time.time())
        return self._create(generated, self.arrival_rng, now, now, self._visible_at())

    def _visible_at(self) -> float:
        return time.monotonic() + self.config.index_lag

    def _reindex(self, record: TicketRecord) -> None:
        self.index.publish(record, record.id, self._visible_at())

    # Writes ----------------------------------------------------------------------------

    def apply_api_update(self, ticket_id: int, fields: dict, source: str,
                         honour_safe_update: bool = True) -> tuple[TicketRecord, dict]:
        """Apply one update as PUT /tickets/{id} does; raise ApiError when it can't.

        ``honour_safe_update`` False ignores ``safe_update``/``updated_stamp`` (update_many).
        """
        record = self.tickets.get(ticket_id)
        if record is None:
            raise _not_found()
        if ticket_id in self.fail_updates:
            status = self.fail_updates[ticket_id]
            # Transient statuses tell the client when to come back, as Zendesk does.
            retry = {"Retry-After": "1"} if status == 429 or status >= 500 else {}
            raise ApiError(status, injected_failure_body(status), retry)
        if record.status == "closed":
            raise ApiError(422, record_invalid("status", "Status: closed prevents ticket update"))
        changes, comment = _validated_changes(fields)
        # https://developer.zendesk.com/documentation/ticketing/managing-tickets/protecting-against-ticket-update-collisions/
        if honour_safe_update and fields.get("safe_update") is True:
            stamp = fields.get("updated_stamp")
            if not isinstance(stamp, str) or parse_timestamp(stamp) != record.updated_at:
                raise ApiError(409, dict(UPDATE_CONFLICT))

        events = []
        if "tags" in changes or "additional_tags" in changes or "remove_tags" in changes:
            tags = changes.get("tags", record.tags)
            tags = list(dict.fromkeys([*tags, *changes.get("additional_tags", [])]))
            removed = set(changes.get("remove_tags", []))
            changes["tags"] = [tag for tag in tags if tag not in removed]
        for name in ("tags", "priority", "status", "subject"):
            if name in changes and changes[name] != getattr(record, name):
                events.append({"id": next(self._event_ids), "type": "Change", "field_name": name,
                               "value": changes[name], "previous_value": getattr(record, name)})
                setattr(record, name, changes[name])
        record.touch()
        if comment is not None:
            body, public = comment
            record.comments.append(_make_comment(next(self._comment_ids), API_USER_ID, body,
                                                 public, record.updated_at))
            events.append({"id": next(self._event_ids), "type": "Comment", "author_id": API_USER_ID,
                           "body": body, "public": public})
            if not public:
                record.api_private_notes += 1
        timestamp = format_timestamp(record.updated_at)
        record.api_updates.append({"at": timestamp, "source": source, "fields": fields})
        self.ticket_updates_total += 1
        self._reindex(record)
        audit = {"id": next(self._audit_ids), "ticket_id": ticket_id, "created_at": timestamp,
                 "author_id": API_USER_ID, "events": events}
        return record, audit

    def agent_edit(self, record: TicketRecord, edit: dict) -> None:
        """Apply an agent's edit in the UI: what it sets becomes protected for the stats.

        It uses up the Update Ticket budget but is never refused: people are not rate limited.
        """
        # https://developer.zendesk.com/api-reference/introduction/rate-limits/ (the Update
        # Ticket limit counts edits made in the Zendesk UI too)
        self.update_window.record(time.monotonic())
        self.agent_edits_total += 1
        tags = _normalize_tags(edit.get("additional_tags", []), "additional_tags")
        record.tags = list(dict.fromkeys([*record.tags, *tags]))
        record.protected_tags.update(tags)
        if "priority" in edit:
            if PRIORITY_RANK[edit["priority"]] > PRIORITY_RANK[record.priority]:
                self.agent_priority_raises += 1
            record.priority = record.protected_priority = edit["priority"]
        if "status" in edit:
            record.status = edit["status"]
        record.touch()
        if edit.get("comment"):
            author = record.assignee_id or AGENT_IDS[0]
            record.comments.append(_make_comment(next(self._comment_ids), author, edit["comment"],
                                                 True, record.updated_at))
        self._reindex(record)

    def random_agent_edit(self) -> TicketRecord | None:
        """What --agent-edit-rate does once: an agent edits a random unsolved ticket.

        Usually the agent raises its priority to urgent; otherwise (and always when it is
        urgent already) the agent marks it reviewed with a tag. None when no ticket is open.
        """
        candidates = sorted(ticket_id for ticket_id, record in self.tickets.items()
                            if record.status not in ("solved", "closed"))
        if not candidates:
            return None
        record = self.tickets[self.agent_rng.choice(candidates)]
        raise_priority = self.agent_rng.random() < AGENT_PRIORITY_SHARE
        if raise_priority and record.priority != AGENT_RAISED_PRIORITY:
            self.agent_edit(record, {"priority": AGENT_RAISED_PRIORITY})
        else:
            self.agent_edit(record, {"additional_tags": [AGENT_REVIEW_TAG]})
        return record

    def delete_ticket(self, ticket_id: int) -> bool:
        """Delete a ticket; False when there is none with that id."""
        if self.tickets.pop(ticket_id, None) is None:
            return False
        self.tickets_deleted += 1
        self.index.publish(None, ticket_id, self._visible_at())
        return True

    # Jobs ------------------------------------------------------------------------------------

    def active_jobs(self) -> int:
        """Jobs queued or working now."""
        return sum(job["status"] in JOB_STATUS_ACTIVE for job in self.jobs.values())

    def finish_job(self, job: dict) -> None:
        self.job_finished_at[job["id"]] = time.monotonic()

    def forget_expired_jobs(self, now: float) -> None:
        """Drop the statuses of jobs that finished more than job_ttl seconds ago."""
        ttl = self.config.job_ttl
        for job_id in [job_id for job_id, ended in self.job_finished_at.items() if now - ended >= ttl]:
            del self.job_finished_at[job_id]
            self.jobs.pop(job_id, None)

    # Search ----------------------------------------------------------------------------------

    def search(self, query: str) -> list[SearchDocument]:
        """Indexed documents matching the query, by ticket id (raises SearchError)."""
        predicate = compile_query(query)
        self.index.refresh(time.monotonic())
        matches = [doc for doc in self.index.visible.values() if predicate(doc)]
        matches.sort(key=lambda doc: doc.ticket_id)
        return matches

    # Faults and limits -----------------------------------------------------------------

    def start_outage(self, at: float, seconds: float) -> None:
        self.outage_from, self.outage_until = at, at + seconds

    def outage_remaining(self, now: float) -> float:
        return self.outage_until - now if self.outage_from <= now < self.outage_until else 0.0

    def admit(self, now: float, endpoint: str | None) -> None:
        """Count the request against the rate budgets or raise a 429 ApiError."""
        config = self.config
        wait = self.account_window.wait_for_slot(now, config.rate_limit, config.rate_window)
        description = "Number of allowed API requests per minute exceeded"
        if not wait and endpoint == "ticket_update":
            wait = self.update_window.wait_for_slot(now, config.update_rate_limit, config.rate_window)
            description = "Number of allowed ticket updates per minute exceeded"
        if not wait and endpoint == "export":
            # https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#export-search-results
            # (its own limit of 100 requests per minute, in addition to the account limit)
            wait = self.export_window.wait_for_slot(now, config.export_rate_limit, config.rate_window)
            description = "Number of allowed search export requests per minute exceeded"
        if wait:
            raise ApiError(429, {"error": "TooManyRequests", "description": description},
                           {"Retry-After": str(max(1, math.ceil(wait)))})
        self.account_window.record(now)
        if endpoint == "ticket_update":
            self.update_window.record(now)
        if endpoint == "export":
            self.export_window.record(now)

    def rate_limit_headers(self, now: float) -> dict[str, str]:
        config = self.config
        remaining = self.account_window.remaining(now, config.rate_limit, config.rate_window)
        reset = max(1, math.ceil(self.account_window.reset_after(now, config.rate_window)))
        return {"X-Rate-Limit": str(config.rate_limit), "X-Rate-Limit-Remaining": str(remaining),
                "ratelimit-limit": str(config.rate_limit), "ratelimit-remaining": str(remaining),
                "ratelimit-reset": str(reset)}

    # Reports ---------------------------------------------------------------------------------

    def stats(self) -> dict:
        """The figures behind GET /_sim/stats."""
        records = self.tickets.values()
        notes = [record.api_private_notes for record in records]
        return {
            "tickets_total": len(self.tickets),
            "tickets_ai_processed": sum("ai_processed" in record.tags for record in records),
            "max_ai_notes_per_ticket": max(notes, default=0),
            "tickets_with_multiple_notes": sum(count > 1 for count in notes),
            "notes_total": sum(notes),
            "requests_total": self.requests_total,
            "responses_429": self.responses_by_status["429"],
            "responses_400": self.responses_by_status["400"],
            "responses_by_status": dict(self.responses_by_status),
            "requests_by_endpoint": dict(self.requests_by_endpoint),
            "ticket_updates_total": self.ticket_updates_total,
            "tickets_lost_tags": sum(not record.protected_tags <= set(record.tags)
                                     for record in records),
            "tickets_priority_lowered": sum(
                PRIORITY_RANK[record.priority] < PRIORITY_RANK[record.protected_priority]
                for record in records),
            "tickets_by_status": dict(Counter(record.status for record in records)),
            "tickets_created": self.tickets_created,
            "tickets_deleted": self.tickets_deleted,
            "jobs_total": self.jobs_created,
            "jobs_active": self.active_jobs(),
            "job_status_404": self.job_status_404,
            "agent_edits_total": self.agent_edits_total,
            "agent_priority_raises": self.agent_priority_raises,
            "index_pending": self.index.pending,
            "uptime_seconds": round(time.monotonic() - self.started, 3),
        }

    def config_view(self) -> dict:
        """Current configuration for GET /_sim/config (the API token left out)."""
        view = dataclasses.asdict(self.config)
        view.pop("token")
        view["outage_remaining_seconds"] = round(self.outage_remaining(time.monotonic()), 3)
        view["fail_updates"] = {str(ticket_id): status
                                for ticket_id, status in self.fail_updates.items()}
        return view


def _validated_changes(fields: dict) -> tuple[dict, tuple[str, bool] | None]:
    """Check the writable fields of an update; return the changes and the comment, if any.

    Unknown fields are ignored, as Zendesk ignores them. Raises ApiError(422) when invalid.
    """
    changes: dict[str, Any] = {}
    for name in ("tags", "additional_tags", "remove_tags"):
        if name in fields:
            changes[name] = _normalize_tags(fields[name], name)
    if "priority" in fields:
        if fields["priority"] not in PRIORITIES:
            raise ApiError(422, record_invalid(
                "priority", f"Priority: {fields['priority']!r} is not valid"))
        changes["priority"] = fields["priority"]
    if "status" in fields:
        if fields["status"] not in STATUSES:
            raise ApiError(422, record_invalid(
                "status", f"Status: {fields['status']!r} is not valid"))
        changes["status"] = fields["status"]
    if "subject" in fields:
        if not isinstance(fields["subject"], str) or not fields["subject"].strip():
            raise ApiError(422, record_invalid("subject", "Subject: cannot be blank"))
        changes["subject"] = fields["subject"]
    comment = None
    if "comment" in fields:
        raw = fields["comment"]
        body = raw.get("body") if isinstance(raw, dict) else None
        public = raw.get("public", True) if isinstance(raw, dict) else None
        if not isinstance(body, str) or not body.strip() or not isinstance(public, bool):
            raise ApiError(422, record_invalid(
                "comment", "Comment: body is required and public must be a boolean"))
        comment = (body, public)
    return changes, comment


# --- Application plumbing ---------------------------------------------------------------------

STATE_KEY = web.AppKey("state", SimState)
BACKGROUND_KEY = web.AppKey("background", set)


def _state(request: web.Request) -> SimState:
    return request.app[STATE_KEY]


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _public(ticket_json: dict, base_url: str) -> dict:
    """Ticket JSON with its absolute URL for this client."""
    return {**ticket_json, "url": base_url + ticket_json["url"]}


def _authorized(request: web.Request, config: SimConfig) -> bool:
    header = request.headers.get("Authorization", "")
    try:
        credentials = BasicAuth.decode(header)
    except ValueError:
        return False
    # Constant-time comparison of bytes (compare_digest refuses non-ASCII str).
    return (hmac.compare_digest(credentials.login.encode(), f"{config.email}/token".encode())
            and hmac.compare_digest(credentials.password.encode(), config.token.encode()))


async def _read_json_object(request: web.Request) -> dict:
    try:
        payload = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise _bad_request("The request body is not valid JSON", "BadRequest") from None
    if not isinstance(payload, dict):
        raise _bad_request("The request body must be a JSON object", "BadRequest")
    return payload


def _int_param(request: web.Request, name: str, default: int, minimum: int = 1) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise _bad_request(f"{name} must be an integer") from None
    if value < minimum:
        raise _bad_request(f"{name} must be at least {minimum}")
    return value


@web.middleware
async def api_middleware(request: web.Request, handler) -> web.StreamResponse:
    """Latency, rate limits, outages, auth, random errors and counters for /api/v2."""
    if not request.path.startswith("/api/v2/"):
        return await handler(request)
    state = _state(request)
    config = state.config
    endpoint = request.match_info.route.name
    state.requests_total += 1
    if endpoint in state.requests_by_endpoint:
        state.requests_by_endpoint[endpoint] += 1
    if config.latency_ms > 0:
        # asyncio.sleep, not time.sleep: concurrent requests wait side by side.
        await asyncio.sleep(config.latency_ms / 1000)
    try:
        now = time.monotonic()
        state.admit(now, endpoint)
        outage = state.outage_remaining(now)
        if outage:
            raise ApiError(503, {"error": "ServiceUnavailable", "description": "Simulated outage"},
                           {"Retry-After": str(max(1, math.ceil(outage)))})
        if not _authorized(request, config):
            raise ApiError(401, {"error": "Couldn't authenticate you"},
                           {"WWW-Authenticate": 'Basic realm="Web Password"'})
        if config.error_ratio and state.fault_rng.random() < config.error_ratio:
            status = config.error_status
            raise ApiError(status, {"error": _error_name(status), "description": "Simulated failure"},
                           {"Retry-After": "1"})
        response = await handler(request)
    except ApiError as error:
        response = error.response()
    except web.HTTPException as error:  # the router's 404 and 405
        name = "InvalidEndpoint" if error.status == 404 else _error_name(error.status)
        response = web.json_response({"error": name, "description": error.reason}, status=error.status)
    except Exception:  # a bug in a handler: answer like a server would, and say so in the log
        log.exception("unhandled error in %s %s", request.method, request.path)
        response = web.json_response({"error": "InternalServerError"}, status=500)
    response.headers.update(state.rate_limit_headers(time.monotonic()))
    state.responses_by_status[str(response.status)] += 1
    return response


# --- /api/v2 handlers ------------------------------------------------------------------------

def _ticket_or_404(request: web.Request) -> TicketRecord:
    record = _state(request).tickets.get(int(request.match_info["ticket_id"]))
    if record is None:
        raise _not_found()
    return record


async def handle_ticket_get(request: web.Request) -> web.Response:
    record = _ticket_or_404(request)
    return web.json_response({"ticket": _public(record.to_json(), _base_url(request))})


async def handle_show_many(request: web.Request) -> web.Response:
    raw = request.query.get("ids", "")
    try:
        ids = [int(piece) for piece in raw.split(",") if piece.strip()]
    except ValueError:
        raise _bad_request("ids must be a comma-separated list of ticket ids") from None
    if not ids or len(ids) > MAX_SHOW_MANY_IDS:
        raise _bad_request(f"ids must list between 1 and {MAX_SHOW_MANY_IDS} ticket ids")
    tickets = _state(request).tickets
    base = _base_url(request)
    found = [_public(tickets[ticket_id].to_json(), base) for ticket_id in ids if ticket_id in tickets]
    return web.json_response({"tickets": found})


async def handle_ticket_update(request: web.Request) -> web.Response:
    state = _state(request)
    ticket_id = int(request.match_info["ticket_id"])
    payload = await _read_json_object(request)
    fields = payload.get("ticket")
    if not isinstance(fields, dict):
        raise _bad_request('The body must be {"ticket": {...}}')
    record, audit = state.apply_api_update(ticket_id, fields, "single")
    return web.json_response({"ticket": _public(record.to_json(), _base_url(request)), "audit": audit})


async def handle_tags_add(request: web.Request) -> web.Response:
    """PUT /tickets/{id}/tags: add tags without replacing, as Zendesk's tags endpoint does."""
    state = _state(request)
    payload = await _read_json_object(request)
    if "tags" not in payload:
        raise _bad_request('The body must be {"tags": [...]}')
    fields = {"additional_tags": payload["tags"]}
    for name in ("safe_update", "updated_stamp"):
        if name in payload:
            fields[name] = payload[name]
    record, _ = state.apply_api_update(int(request.match_info["ticket_id"]), fields, "single")
    return web.json_response({"tags": list(record.tags)})


async def handle_ticket_delete(request: web.Request) -> web.Response:
    if not _state(request).delete_ticket(int(request.match_info["ticket_id"])):
        raise _not_found()
    return web.Response(status=204)


async def handle_comments(request: web.Request) -> web.Response:
    record = _ticket_or_404(request)
    return web.json_response({"comments": record.comments, "next_page": None,
                              "previous_page": None, "count": len(record.comments)})


async def handle_update_many(request: web.Request) -> web.Response:
    state = _state(request)
    payload = await _read_json_object(request)
    items = payload.get("tickets")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BULK_ITEMS:
        raise _bad_request(f"tickets must be a list of 1 to {MAX_BULK_ITEMS} tickets")
    for item in items:
        ticket_id = item.get("id") if isinstance(item, dict) else None
        # bool is an int subclass, but true is no ticket id.
        if isinstance(ticket_id, bool) or not isinstance(ticket_id, int):
            raise _bad_request("every ticket needs an integer id")
    # https://developer.zendesk.com/api-reference/introduction/rate-limits/ ("Job limit"): at
    # most 30 jobs queued or running per account. The docs name no Retry-After here, so none
    # is sent: a client must not depend on one.
    limit = state.config.max_jobs
    if state.active_jobs() >= limit:
        raise ApiError(429, {"error": "TooManyJobs",
                             "description": f"Number of queued or running jobs has reached the limit "
                                            f"of {limit} per account; wait for a job to finish"})
    state.forget_expired_jobs(time.monotonic())
    job_id = uuid.uuid4().hex
    job = {"id": job_id, "url": f"{_base_url(request)}/api/v2/job_statuses/{job_id}.json",
           "status": "queued", "total": len(items), "progress": 0, "message": None, "results": None}
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
        state.apply_api_update(ticket_id, fields, "bulk",
                               honour_safe_update=state.config.bulk_safe_update)
    except ApiError as rejected:
        error = {404: "RecordNotFound", 409: "UpdateConflict"}.get(rejected.status,
                                                                    "TicketUpdateFailed")
        return {"id": ticket_id, "index": index, "success": False, "error": error,
                "details": _describe(rejected.body)}
    return {"id": ticket_id, "index": index, "action": "update", "success": True, "status": "Updated"}


def _describe(body: dict) -> str:
    """One line of text from an error body, for job results."""
    details = body.get("details") or {}
    texts = [item["description"] for entries in details.values() for item in entries]
    return "; ".join(texts) or body.get("description") or body.get("error", "")


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
        job.update(status="completed", results=results,
                   message=f"Completed at {format_timestamp(time.time())}")
    except Exception as error:  # a failed job is a valid Zendesk outcome; never lose it silently
        log.exception("bulk job %s failed", job["id"])
        job.update(status="failed", message=str(error))
    finally:
        state.finish_job(job)


async def handle_job_status(request: web.Request) -> web.Response:
    """A job's status; every poll is an API request and counts against the account limit."""
    state = _state(request)
    # https://developer.zendesk.com/api-reference/ticketing/ticket-management/job_statuses/
    # (statuses are kept for a limited time after the job finished, then they are gone)
    state.forget_expired_jobs(time.monotonic())
    job = state.jobs.get(request.match_info["job_id"])
    if job is None:
        state.job_status_404 += 1
        raise _not_found()
    return web.json_response({"job_status": job})


def _search_documents(request: web.Request) -> list[SearchDocument]:
    try:
        return _state(request).search(request.query.get("query", ""))
    except SearchError as error:
        raise ApiError(400, {"error": "invalid", "description": f"Invalid search: {error}"}) from None


async def handle_search(request: web.Request) -> web.Response:
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
    base = _base_url(request)
    results = [{**_public(doc.ticket, base), "result_type": "ticket"} for doc in matches[start:end]]
    # Like real Zendesk, next_page is offered whenever more matches exist, even past the
    # 1,000-result cap where following it answers 422.
    next_page = str(request.url.update_query(page=page + 1)) if end < len(matches) else None
    previous_page = str(request.url.update_query(page=page - 1)) if page > 1 else None
    return web.json_response({"results": results, "facets": None, "next_page": next_page,
                              "previous_page": previous_page, "count": len(matches)})


def _encode_cursor(state: SimState, key: tuple[int, int], issued: float) -> str:
    """An opaque, signed cursor naming the last ticket of a page (created_at, id) and when it
    was issued, so pages stay consistent while the index changes and old cursors expire."""
    created_at, ticket_id = key
    payload = f"ticket:{issued:.3f}:{created_at}:{ticket_id}"
    signature = hmac.new(state.cursor_key, payload.encode(), "sha256").hexdigest()[:16]
    return base64.urlsafe_b64encode(f"{payload}:{signature}".encode()).decode().rstrip("=")


def _decode_cursor(state: SimState, cursor: str) -> tuple[float, tuple[int, int]]:
    """(issue time, (created_at, id)) of a cursor this simulator made; 400 for anything else."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        payload, _, signature = text.rpartition(":")
        expected = hmac.new(state.cursor_key, payload.encode(), "sha256").hexdigest()[:16]
        if hmac.compare_digest(signature.encode(), expected.encode()):
            kind, issued, created_at, ticket_id = payload.split(":")
            if kind == "ticket":
                return float(issued), (int(created_at), int(ticket_id))
    except (binascii.Error, ValueError):  # UnicodeError is a ValueError
        pass
    raise _bad_request("The pagination cursor is invalid", "InvalidPaginationParameter")


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
        raise _bad_request(f"page[size] must be an integer between 1 and {MAX_EXPORT_PAGE_SIZE}",
                           "InvalidPaginationParameter")
    return size


async def handle_export(request: web.Request) -> web.Response:
    """GET /api/v2/search/export: cursor pages in created_at order, forward only.

    https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#export-search-results
    """
    state = _state(request)
    params = request.query
    filter_type = params.get("filter[type]")
    if not filter_type:
        raise _bad_request("filter[type] is required", "InvalidPaginationParameter")
    if filter_type not in EXPORT_FILTER_TYPES:
        raise _bad_request(f"filter[type] must be one of {', '.join(EXPORT_FILTER_TYPES)}",
                           "InvalidSearchParameter")
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
    page = matches[start:start + size]
    has_more = start + size < len(matches)
    after_cursor = _encode_cursor(state, page[-1].export_key, time.time()) if has_more else None
    next_link = None
    if after_cursor is not None:
        query = {key: value for key, value in params.items() if key != "page[after]"}
        next_link = str(request.url.with_query({**query, "page[after]": after_cursor}))
    base = _base_url(request)
    return web.json_response({
        "results": [{**_public(doc.ticket, base), "result_type": "ticket"} for doc in page],
        "facets": None,
        "meta": {"has_more": has_more, "after_cursor": after_cursor, "before_cursor": None},
        "links": {"prev": None, "next": next_link},
    })


# --- /_sim handlers ---------------------------------------------------------------------------

async def handle_sim_stats(request: web.Request) -> web.Response:
    return web.json_response(_state(request).stats())


async def handle_sim_config_get(request: web.Request) -> web.Response:
    return web.json_response(_state(request).config_view())


async def handle_sim_config_post(request: web.Request) -> web.Response:
    """Change runtime settings; all-or-nothing, 400 naming the first bad value."""
    state = _state(request)
    payload = await _read_sim_json(request)
    try:
        settings = {}
        for name, value in payload.items():
            if name in RUNTIME_SETTINGS:
                settings[name] = _checked_setting(name, value)
            elif name not in ("outage_seconds", "fail_updates"):
                raise ConfigError(f"unknown setting {name}")
        outage = payload.get("outage_seconds")
        if outage is not None and (isinstance(outage, bool) or not isinstance(outage, (int, float))
                                   or outage < 0):
            raise ConfigError("outage_seconds must be a number >= 0")
        failures = _parse_fail_updates(payload.get("fail_updates"))
    except ConfigError as error:
        return web.json_response({"error": str(error)}, status=400)
    for name, value in settings.items():
        setattr(state.config, name, value)
    if outage is not None:
        state.start_outage(time.monotonic(), outage)
    if failures is not None:
        state.fail_updates = failures
    return web.json_response(state.config_view())


def _parse_fail_updates(raw: Any) -> dict[int, int] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError('fail_updates must be an object like {"12": 422}')
    try:
        failures = {int(ticket_id): int(status) for ticket_id, status in raw.items()}
    except (TypeError, ValueError):
        raise ConfigError("fail_updates maps ticket ids to HTTP statuses") from None
    if not all(400 <= status <= 599 for status in failures.values()):
        raise ConfigError("fail_updates statuses must be between 400 and 599")
    return failures


async def _read_sim_json(request: web.Request) -> dict:
    try:
        return await _read_json_object(request)
    except ApiError as error:
        raise web.HTTPBadRequest(text=json.dumps(error.body), content_type="application/json") from None


def _sim_ticket_fields(spec: Any) -> tuple[str, str, list[str], str | None, str, int | None]:
    """Validate one ticket of POST /_sim/tickets (an optional past ``created_at`` backdates it)."""
    if not isinstance(spec, dict):
        raise ConfigError("every ticket must be an object")
    subject, description = spec.get("subject"), spec.get("description")
    if not isinstance(subject, str) or not isinstance(description, str):
        raise ConfigError("subject and description are required strings")
    try:
        tags = _normalize_tags(spec.get("tags", []), "tags")
    except ApiError as error:
        raise ConfigError(_describe(error.body)) from None
    priority, status = spec.get("priority"), spec.get("status", "new")
    if priority is not None and priority not in PRIORITIES:
        raise ConfigError(f"priority must be one of {PRIORITIES} or null")
    if status not in STATUSES:
        raise ConfigError(f"status must be one of {STATUSES}")
    created_at = None
    if spec.get("created_at") is not None:
        moment = parse_timestamp(spec["created_at"]) if isinstance(spec["created_at"], str) else None
        if moment is None or moment > time.time():
            raise ConfigError("created_at must be an ISO 8601 timestamp that is not in the future")
        created_at = int(moment)
    return subject, description, tags, priority, status, created_at


async def handle_sim_tickets_post(request: web.Request) -> web.Response:
    state = _state(request)
    payload = await _read_sim_json(request)
    try:
        if "tickets" in payload:
            if not isinstance(payload["tickets"], list):
                raise ConfigError("tickets must be a list")
            specs = [_sim_ticket_fields(spec) for spec in payload["tickets"]]
            records = [state.add_ticket(*spec) for spec in specs]
        else:
            count = payload.get("count")
            if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 100_000:
                raise ConfigError('send {"tickets": [...]} or {"count": N} with 0 <= N <= 100000')
            records = [state.add_generated_ticket() for _ in range(count)]
    except ConfigError as error:
        return web.json_response({"error": str(error)}, status=400)
    return web.json_response({"ids": [record.id for record in records]})


async def handle_sim_agent_edit(request: web.Request) -> web.Response:
    state = _state(request)
    record = state.tickets.get(int(request.match_info["ticket_id"]))
    if record is None:
        return web.json_response({"error": "RecordNotFound"}, status=404)
    edit = await _read_sim_json(request)
    problems = []
    if "priority" in edit and edit["priority"] not in PRIORITIES:
        problems.append(f"priority must be one of {PRIORITIES}")
    if "status" in edit and edit["status"] not in STATUSES:
        problems.append(f"status must be one of {STATUSES}")
    if "comment" in edit and not isinstance(edit["comment"], str):
        problems.append("comment must be a string")
    try:
        _normalize_tags(edit.get("additional_tags", []), "additional_tags")
    except ApiError:
        problems.append("additional_tags must be a list of strings")
    if problems:
        return web.json_response({"error": "; ".join(problems)}, status=400)
    state.agent_edit(record, edit)
    return web.json_response({"ticket": _public(record.to_json(), _base_url(request))})


async def handle_sim_ticket_get(request: web.Request) -> web.Response:
    record = _state(request).tickets.get(int(request.match_info["ticket_id"]))
    if record is None:
        return web.json_response({"error": "RecordNotFound"}, status=404)
    generated = record.generated
    return web.json_response({
        "ticket": _public(record.to_json(), _base_url(request)),
        "comments": record.comments,
        "updates": record.api_updates,
        "protected_tags": sorted(record.protected_tags),
        "protected_priority": record.protected_priority,
        "api_private_notes": record.api_private_notes,
        # Ground truth of generated tickets, for benchmarks that score the triage.
        "generated": None if generated is None else {
            "category": generated.category, "language": generated.language,
            "urgency": generated.urgency, "sentiment": generated.sentiment,
            "pii": list(generated.pii)},
    })


# --- Application ------------------------------------------------------------------------------

TICKET_PATH = r"/api/v2/tickets/{ticket_id:\d+}"
JSON_SUFFIX = r"{suffix:(?:\.json)?}"  # Zendesk answers with or without ".json"

API_ROUTES = (
    ("GET", "/api/v2/tickets/show_many" + JSON_SUFFIX, handle_show_many, "show_many"),
    ("PUT", "/api/v2/tickets/update_many" + JSON_SUFFIX, handle_update_many, "update_many"),
    ("GET", TICKET_PATH + JSON_SUFFIX, handle_ticket_get, "ticket_get"),
    ("PUT", TICKET_PATH + JSON_SUFFIX, handle_ticket_update, "ticket_update"),
    ("DELETE", TICKET_PATH + JSON_SUFFIX, handle_ticket_delete, "ticket_delete"),
    ("GET", TICKET_PATH + "/comments" + JSON_SUFFIX, handle_comments, "comments"),
    ("PUT", TICKET_PATH + "/tags" + JSON_SUFFIX, handle_tags_add, "tags"),
    ("GET", "/api/v2/job_statuses/{job_id:[0-9a-f]+}" + JSON_SUFFIX, handle_job_status, "job_status"),
    ("GET", "/api/v2/search" + JSON_SUFFIX, handle_search, "search"),
    ("GET", "/api/v2/search/export" + JSON_SUFFIX, handle_export, "export"),
)


async def _arrivals(state: SimState) -> None:
    """Add generated tickets at config.arrival_rate per minute (it may change at run time)."""
    due = 0.0
    last = time.monotonic()
    while True:
        await asyncio.sleep(0.1)
        now = time.monotonic()
        due += state.config.arrival_rate / 60 * (now - last)
        last = now
        while due >= 1:
            state.add_generated_ticket()
            due -= 1


async def _agent_edits(state: SimState) -> None:
    """Simulated agents edit tickets at config.agent_edit_rate per minute (may change at run time)."""
    due = 0.0
    last = time.monotonic()
    while True:
        await asyncio.sleep(0.1)
        now = time.monotonic()
        due += state.config.agent_edit_rate / 60 * (now - last)
        last = now
        while due >= 1:
            state.random_agent_edit()
            due -= 1


async def _start_background(app: web.Application) -> None:
    state = app[STATE_KEY]
    if state.config.outage_seconds > 0:
        state.start_outage(time.monotonic() + state.config.outage_start, state.config.outage_seconds)
    app[BACKGROUND_KEY].add(asyncio.create_task(_arrivals(state)))
    app[BACKGROUND_KEY].add(asyncio.create_task(_agent_edits(state)))


async def _stop_background(app: web.Application) -> None:
    tasks = list(app[BACKGROUND_KEY])
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def create_app(config: SimConfig) -> web.Application:
    """Build the simulator's aiohttp application (seeded at once, background tasks on startup)."""
    # Room for oversized tickets (a 1 MB log pasted into a body) so clients can be tested on them.
    app = web.Application(middlewares=[api_middleware], client_max_size=16 * 1024 * 1024)
    app[STATE_KEY] = SimState(config)
    app[BACKGROUND_KEY] = set()
    for method, path, handler, endpoint in API_ROUTES:
        app.router.add_route(method, path, handler, name=endpoint)
    app.router.add_get("/_sim/stats", handle_sim_stats)
    app.router.add_get("/_sim/config", handle_sim_config_get)
    app.router.add_post("/_sim/config", handle_sim_config_post)
    app.router.add_post("/_sim/tickets", handle_sim_tickets_post)
    app.router.add_get(r"/_sim/tickets/{ticket_id:\d+}", handle_sim_ticket_get)
    app.router.add_post(r"/_sim/tickets/{ticket_id:\d+}/agent_edit", handle_sim_agent_edit)
    app.on_startup.append(_start_background)
    app.on_cleanup.append(_stop_background)
    return app


def state_of(app: web.Application) -> SimState:
    """The in-memory state behind an application made by create_app."""
    return app[STATE_KEY]


@contextlib.contextmanager
def running_simulator(**options: Any) -> Iterator[RunningSimulator]:
    """Serve a simulator on a free port in a background thread for the ``with`` block.

    ``options`` are SimConfig fields; ``port`` defaults to 0 (a free port).
    """
    config = SimConfig(**{"port": 0, **options})
    with serve_in_thread(create_app, state_of, config, "zendesk-sim") as simulator:
        yield simulator


async def serve(config: SimConfig) -> None:
    """Serve until SIGTERM or SIGINT, announcing the address once connections are accepted."""
    await serve_until_signalled(create_app(config), config, "zendesk simulator")


def parse_args(argv: list[str] | None = None) -> SimConfig:
    """Read the command line into a SimConfig."""
    defaults = SimConfig()
    parser = argparse.ArgumentParser(prog="python -m sim.zendesk", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=defaults.host)
    parser.add_argument("--port", type=int, default=defaults.port, help="0 picks a free port")
    parser.add_argument("--tickets", type=int, default=defaults.tickets, help="tickets seeded at start")
    parser.add_argument("--seed", type=int, default=defaults.seed,
                        help="seed of the ticket generator and of injected faults")
    parser.add_argument("--email", default=defaults.email, help="API user; log in as EMAIL/token")
    parser.add_argument("--token", default=defaults.token, help="API token (the Basic auth password)")
    parser.add_argument("--latency-ms", type=float, default=defaults.latency_ms,
                        help="added to every /api/v2 response")
    parser.add_argument("--index-lag", type=float, default=defaults.index_lag,
                        help="seconds before a new or changed ticket is visible to search "
                             "(seeded tickets are indexed from the start)")
    parser.add_argument("--rate-limit", type=int, default=defaults.rate_limit,
                        help="account requests per window")
    parser.add_argument("--update-rate-limit", type=int, default=defaults.update_rate_limit,
                        help="PUT /api/v2/tickets/{id} per window (agents' UI edits count too)")
    parser.add_argument("--export-rate-limit", type=int, default=defaults.export_rate_limit,
                        help="GET /api/v2/search/export per window, on top of the account limit")
    parser.add_argument("--cursor-ttl", type=float, default=defaults.cursor_ttl,
                        help="seconds an export cursor stays valid after it was issued")
    parser.add_argument("--rate-window", type=float, default=defaults.rate_window,
                        help="rate-limit window in seconds (shorten it to compress time)")
    parser.add_argument("--error-ratio", type=float, default=defaults.error_ratio,
                        help="share of /api/v2 requests that fail with --error-status")
    parser.add_argument("--error-status", type=int, default=defaults.error_status)
    parser.add_argument("--outage-start", type=float, default=defaults.outage_start,
                        help="seconds after start when the outage begins")
    parser.add_argument("--outage-seconds", type=float, default=defaults.outage_seconds,
                        help="length of the outage (0: none)")
    parser.add_argument("--arrival-rate", type=float, default=defaults.arrival_rate,
                        help="new tickets per minute while running")
    parser.add_argument("--job-delay-ms", type=float, default=defaults.job_delay_ms,
                        help="time an update_many job stays queued")
    parser.add_argument("--job-item-ms", type=float, default=defaults.job_item_ms,
                        help="time a working update_many job spends on each ticket")
    parser.add_argument("--job-ttl", type=float, default=defaults.job_ttl,
                        help="seconds a finished job's status can still be read (then 404)")
    parser.add_argument("--max-jobs", type=int, default=defaults.max_jobs,
                        help="jobs that may be queued or working at once; update_many answers "
                             "429 TooManyJobs beyond")
    parser.add_argument("--bulk-safe-update", action="store_true", default=defaults.bulk_safe_update,
                        help="honour safe_update/updated_stamp inside update_many items "
                             "(Zendesk documents them for single-ticket updates only)")
    parser.add_argument("--agent-edit-rate", type=float, default=defaults.agent_edit_rate,
                        help="edits per minute by simulated agents (raise priority to urgent or tag "
                             "agent_reviewed); they use up the Update Ticket budget")
    parser.add_argument("--non-english-share", type=float, default=defaults.non_english_share,
                        help="share of generated tickets in German, Spanish, French or Portuguese")
    return config_from_args(parser, SimConfig, argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m sim.zendesk``."""
    run_command_line(serve, parse_args(argv))


if __name__ == "__main__":
    main()
