"""The Zendesk simulator's in-memory state: tickets, jobs, the search index, budgets and figures.

``SimState`` seeds the account, applies API updates as Update Ticket does, lets simulated
agents edit tickets, keeps the rate-limit windows and counts what ``/_sim/stats`` reports.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import random
import secrets
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from sim.common import ApiError, SlidingWindow
from sim.ticketgen import GeneratedTicket, generate_ticket
from sim.zendesk.config import SimConfig
from sim.zendesk.search import SearchDocument, SearchIndex, compile_query
from sim.zendesk.wire import (
    ENDPOINTS,
    JOB_STATUS_ACTIVE,
    PRIORITIES,
    PRIORITY_RANK,
    STATUSES,
    UPDATE_CONFLICT,
    TicketRecord,
    format_timestamp,
    injected_failure_body,
    make_comment,
    normalize_tags,
    not_found,
    parse_timestamp,
    record_invalid,
)

API_USER_ID = 1_000_001  # the integration's user: author of comments made through the API
AGENT_IDS = tuple(range(1_000_002, 1_000_012))
GROUP_IDS = (360_001, 360_002, 360_003)
ORGANIZATION_IDS = tuple(range(500_001, 500_041))
FIRST_REQUESTER_ID = 2_000_001
REQUESTER_POOL = 5000
SEED_HISTORY_SECONDS = 3 * 24 * 3600  # seeded tickets were created over the last three days

# Simulated agents: the tag they add and the priority they raise tickets to.
AGENT_REVIEW_TAG = "agent_reviewed"
AGENT_RAISED_PRIORITY = "urgent"
AGENT_PRIORITY_SHARE = 0.8  # "usually" raise the priority, otherwise add the review tag


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
        # /api/v2 requests being answered now, and the most at once (not in /_sim/stats).
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests_by_endpoint = Counter({name: 0 for name in ENDPOINTS})
        self.responses_by_status: Counter[str] = Counter()
        self.ticket_updates_total = 0
        self.tickets_created = 0
        self.tickets_deleted = 0
        self.jobs_created = 0
        self.job_status_404 = 0
        self.agent_edits_total = 0
        self.agent_priority_raises = 0
        self.on_created: Callable[[TicketRecord], None] | None = None
        self.webhooks: Counter[str] = Counter()  # deliveries by outcome (sim.zendesk.webhooks)
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
        record.created_precise = time.time()
        record.comments.append(make_comment(next(self._comment_ids), requester_id,
                                            generated.description, True, created_at))
        if status in ("pending", "hold"):
            # Waiting on the customer or a third party: an agent has answered once.
            record.comments.append(make_comment(
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
        return self._announce(self._create(written, self.arrival_rng, created, now, self._visible_at()))

    def add_generated_ticket(self) -> TicketRecord:
        """Create a new generated ticket, the way --arrival-rate adds them."""
        generated = dataclasses.replace(
            generate_ticket(self.arrival_rng, self.config.non_english_share), status="new")
        now = int(time.time())
        return self._announce(self._create(generated, self.arrival_rng, now, now, self._visible_at()))

    def _announce(self, record: TicketRecord) -> TicketRecord:
        """A ticket created while running: its webhook goes out (sim.zendesk.webhooks) when set."""
        if self.on_created is not None:
            self.on_created(record)
        return record

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
            raise not_found()
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
        if record.first_api_write_at is None:
            record.first_api_write_at = time.time()
        if comment is not None:
            body, public = comment
            record.comments.append(make_comment(next(self._comment_ids), API_USER_ID, body,
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
        tags = normalize_tags(edit.get("additional_tags", []), "additional_tags")
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
            record.comments.append(make_comment(next(self._comment_ids), author, edit["comment"],
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
        """Note that a job ended now: its status expires job_ttl seconds later."""
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
        """Answer 503 from ``at`` (monotonic) for ``seconds``."""
        self.outage_from, self.outage_until = at, at + seconds

    def outage_remaining(self, now: float) -> float:
        """Seconds of outage left at ``now`` (0 outside an outage)."""
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
        """Zendesk's rate-limit headers for the account budget."""
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
            "webhooks": dict(self.webhooks),
            "uptime_seconds": round(time.monotonic() - self.started, 3),
        }

    def config_view(self) -> dict:
        """Current configuration for GET /_sim/config (the API token and webhook secret left out)."""
        view = dataclasses.asdict(self.config)
        view.pop("token")
        view.pop("webhook_secret")
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
            changes[name] = normalize_tags(fields[name], name)
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
