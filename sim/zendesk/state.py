"""The Zendesk simulator's in-memory state: tickets, jobs, the search index, budgets and figures.

``SimState`` seeds the account (open tickets, and with ``--solved`` a solved history planned by
``sim.zendesk.history``), applies API updates as Update Ticket does, lets simulated agents edit
tickets, runs the account's triggers on every creation and update (``sim.zendesk.triggers``),
writes an audit for every change, keeps the OAuth tokens (``sim.zendesk.oauth``), the webhooks
(``sim.zendesk.webhooks_api``) and the rate-limit windows, and counts what ``/_sim/stats`` reports.
"""

from __future__ import annotations

import asyncio
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
from sim.zendesk.history import PlannedTicket, ages, history_report, plan_solved_ticket
from sim.zendesk.oauth import TokenRegistry
from sim.zendesk.search import SearchDocument, SearchIndex, compile_query
from sim.zendesk.triggers import VIA_WEB_FORM, VIA_WEB_SERVICE, TriggerBook, UpdateFacts, render_placeholders
from sim.zendesk.webhooks import ticket_created_event
from sim.zendesk.webhooks_api import TICKET_CREATED_EVENT, Webhook, WebhookBook
from sim.zendesk.wire import (
    API_USER_ID,
    CREATE_EVENT_FIELDS,
    ENDPOINTS,
    JOB_STATUS_ACTIVE,
    PRIORITY_RANK,
    UPDATE_CONFLICT,
    TicketRecord,
    change_event,
    comment_event,
    create_event,
    format_timestamp,
    injected_failure_body,
    make_audit,
    make_comment,
    normalize_tags,
    not_found,
    parse_timestamp,
    record_invalid,
    rule_change_event,
    validated_changes,
)

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
WAITING_REPLY = (
    "Thanks for reaching out! Could you send us a screenshot and the exact time "
    "this happened? We'll take it from there."
)

# The fields of an Update Ticket request that change the ticket (and show in its audit).
UPDATABLE_FIELDS = ("tags", "priority", "status", "subject")


class SimState:
    """All in-memory state of one simulator; touched only from its event loop."""

    def __init__(self, config: SimConfig):
        self.config = config
        self.started = time.monotonic()
        self.tickets: dict[int, TicketRecord] = {}
        # Deleted tickets, status "deleted": the incremental export still lists them.
        self.deleted: dict[int, TicketRecord] = {}
        self.index = SearchIndex()
        self.jobs: dict[str, dict] = {}
        self.job_finished_at: dict[str, float] = {}  # monotonic moment each finished job ended
        self.fail_updates: dict[int, int] = {}
        self.outage_from = self.outage_until = 0.0
        self.account_window = SlidingWindow()
        self.update_window = SlidingWindow()
        self.export_window = SlidingWindow()
        self.incremental_window = SlidingWindow()
        # Separate generators, so arrivals, faults and agents never change what a seed produces.
        self.fault_rng = random.Random(f"{config.seed}:faults")
        self.arrival_rng = random.Random(f"{config.seed}:arrivals")
        self.agent_rng = random.Random(f"{config.seed}:agents")
        self.finish_rng = random.Random(f"{config.seed}:finish")  # POST /_sim/agents/finish without a seed
        # Signs export cursors: they are opaque, a client can neither forge nor prolong one.
        self.cursor_key = secrets.token_bytes(16)
        self._ticket_ids = itertools.count(1)
        self._comment_ids = itertools.count(10_000_001)
        self._audit_ids = itertools.count(20_000_001)
        self._event_ids = itertools.count(30_000_001)
        self.requests_total = 0
        # /api/v2 requests that would write (PUT, POST, PATCH, DELETE), answered or refused, by
        # "METHOD route template": a fleet in shadow mode must send none.
        self.writes_by_endpoint: Counter[str] = Counter()
        # /api/v2 requests being answered now, and the most at once (not in /_sim/stats).
        self.in_flight = 0
        self.max_in_flight = 0
        self.requests_by_endpoint = Counter(dict.fromkeys(ENDPOINTS, 0))
        self.responses_by_status: Counter[str] = Counter()
        self.ticket_updates_total = 0
        self.tickets_created = 0
        self.tickets_deleted = 0
        self.jobs_created = 0
        self.job_status_404 = 0
        self.agent_edits_total = 0
        self.agent_priority_raises = 0
        self.agent_finished_total = 0  # tickets agents finished (POST /_sim/agents/finish)
        self.oauth = TokenRegistry()
        self.webhook_book = WebhookBook(tuple(h.strip() for h in config.http_webhook_hosts.split(",") if h.strip()))
        self.trigger_book = TriggerBook()
        # Set by sim.zendesk.webhooks.WebhookSender while serving: sends a body to a webhook.
        self.webhook_outbox: Callable[[Webhook, bytes], None] | None = None
        self.webhooks: Counter[str] = Counter()  # deliveries by outcome (sim.zendesk.webhooks)
        self._seed(config.tickets)
        # (ticket id, plan) of the solved history, for GET /_sim/history.
        self.history: list[tuple[int, PlannedTicket]] = self._seed_history(config.solved)

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

    def _seed_history(self, count: int) -> list[tuple[int, PlannedTicket]]:
        """Create the solved history (sim.zendesk.history), indexed from the start.

        Its ids follow the open tickets' and it draws from a generator of its own, so the open
        tickets of a seed stay exactly what they were without it.
        """
        rng = random.Random(f"{self.config.seed}:history")
        now = int(time.time())
        planted = []
        for age in ages(rng, count):
            plan = plan_solved_ticket(rng, now - int(age), API_USER_ID, AGENT_IDS)
            record = self._create(plan.generated, rng, plan.created_at, plan.created_at, indexed_at=self.started)
            for step in plan.steps:
                self._write_audit(record, step.author_id, step.at, step.channel, step.changes, step.comment)
                record.updated_at = step.at
            # What people and the fleet left on a solved ticket must survive it as well.
            record.protected_tags, record.protected_priority = set(record.tags), record.priority
            self.index.publish(record, record.id, self.started)
            planted.append((record.id, plan))
        self.index.refresh(self.started)
        return planted

    def history_report(self) -> dict:
        """GET /_sim/history: the planted facts of the solved history."""
        return history_report(self.history)

    def _create(
        self, generated: GeneratedTicket, rng: random.Random, created_at: int, updated_at: int, indexed_at: float
    ) -> TicketRecord:
        """Store a ticket written by a customer; its person-set tags and priority become protected.

        Its audits tell how it got here: the customer created it (new, unassigned); unless it is
        still new, its assignee later took it and set its status, answering once when it waits.
        """
        status = generated.status
        requester_id = FIRST_REQUESTER_ID + rng.randrange(REQUESTER_POOL)
        # Drawn in this order since the first seeds: changing it would change every seed.
        assignee_id = None if status == "new" else rng.choice(AGENT_IDS)
        organization_id = rng.choice((None, *ORGANIZATION_IDS))
        group_id = rng.choice(GROUP_IDS)
        record = TicketRecord(
            id=next(self._ticket_ids),
            subject=generated.subject,
            description=generated.description,
            status="new",
            priority=generated.priority,
            type=generated.ticket_type,
            tags=list(generated.tags),
            requester_id=requester_id,
            assignee_id=None,
            organization_id=organization_id,
            group_id=group_id,
            created_at=created_at,
            updated_at=created_at,
            protected_tags=set(generated.tags),
            protected_priority=generated.priority,
            generated=generated,
        )
        record.created_precise = time.time()
        self._write_creation(record)
        if status != "new":
            # Waiting on the customer or a third party: an agent has answered once.
            reply = (WAITING_REPLY, True) if status in ("pending", "hold") else None
            self._write_audit(
                record, assignee_id, updated_at, "web", {"assignee_id": assignee_id, "status": status}, reply
            )
        record.updated_at = updated_at
        self.tickets[record.id] = record
        self.tickets_created += 1
        self.index.publish(record, record.id, indexed_at)
        return record

    def add_ticket(
        self,
        subject: str,
        description: str,
        tags: list[str],
        priority: str | None,
        status: str,
        created_at: int | None = None,
    ) -> TicketRecord:
        """Create a hand-written ticket (searchable only after the index lag).

        ``created_at`` (epoch seconds, not in the future) backdates it, as an imported ticket.
        """
        # "unknown" ground truth: nobody labelled a hand-written ticket.
        written = GeneratedTicket(
            subject=subject,
            description=description,
            category="unknown",
            language="unknown",
            urgency="unknown",
            sentiment="unknown",
            pii=(),
            tags=tuple(tags),
            priority=priority,
            status=status,
            ticket_type=None,
        )
        now = int(time.time())
        created = now if created_at is None else min(created_at, now)
        return self._announce(self._create(written, self.arrival_rng, created, now, self._visible_at()))

    def add_generated_ticket(self) -> TicketRecord:
        """Create a new generated ticket, the way --arrival-rate adds them."""
        generated = dataclasses.replace(generate_ticket(self.arrival_rng, self.config.non_english_share), status="new")
        now = int(time.time())
        return self._announce(self._create(generated, self.arrival_rng, now, now, self._visible_at()))

    def _announce(self, record: TicketRecord) -> TicketRecord:
        """A ticket created while running: the ticket.created event goes to the webhooks
        subscribed to it, then the triggers run on its creation (their changes join its last
        audit, the one that brought it to the state they see)."""
        for webhook in self.webhook_book.subscribed_to(TICKET_CREATED_EVENT):
            self._send_webhook(webhook, ticket_created_event(record))
        if self._run_triggers(record, record.audits[-1], UpdateFacts("Create", VIA_WEB_FORM, None, None)):
            self._reindex(record)
        return record

    def _send_webhook(self, webhook: Webhook, body: bytes) -> None:
        if self.webhook_outbox is not None:
            self.webhook_outbox(webhook, body)

    def _run_triggers(self, record: TicketRecord, audit: dict, update: UpdateFacts) -> bool:
        """Run the triggers for one update; whether they changed the ticket.

        Their changes join the update's audit (events via the rule); the webhooks they call get
        their bodies rendered from the ticket as saved, after every trigger ran (docs silent:
        https://support.zendesk.com/hc/en-us/articles/4408886797466 says only that triggers run).
        """
        firings = self.trigger_book.run(record, update)
        for firing in firings:
            trigger = firing.trigger
            for name, value, previous in firing.changes:
                audit["events"].append(
                    rule_change_event(next(self._event_ids), name, value, previous, trigger.id, trigger.title)
                )
                record.trigger_changes.append(
                    {
                        "at": audit["created_at"],
                        "trigger_id": trigger.id,
                        "title": trigger.title,
                        "field": name,
                        "value": value,
                        "previous": previous,
                    }
                )
                if name == "priority" and record.hand_priority:
                    record.hand_priority_overridden = True
        for firing in firings:
            for webhook_id, body in firing.notifications:
                webhook = self.webhook_book.get(webhook_id)
                if webhook is None:  # deleted since the trigger was saved
                    self.webhooks["missing_webhook"] += 1
                    continue
                self._send_webhook(webhook, render_placeholders(body, record).encode())
        return any(firing.changes for firing in firings)

    def _visible_at(self) -> float:
        return time.monotonic() + self.config.index_lag

    def _reindex(self, record: TicketRecord) -> None:
        self.index.publish(record, record.id, self._visible_at())

    # Audits ----------------------------------------------------------------------------
    # https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_audits/ (every update
    # of a ticket stores an audit: who, when, how, and its events)

    def _write_creation(self, record: TicketRecord) -> None:
        """The customer's Create audit: the first comment (the description), then one Create
        event per property, set or not."""
        audit_id = next(self._audit_ids)
        comment = make_comment(
            next(self._comment_ids), record.requester_id, record.description, True, record.created_at
        )
        record.comments.append(comment)
        events = [comment_event(comment, audit_id)]
        events += [create_event(next(self._event_ids), name, getattr(record, name)) for name in CREATE_EVENT_FIELDS]
        record.audits.append(make_audit(audit_id, record.id, record.created_at, record.requester_id, "web", events))

    def _write_audit(
        self,
        record: TicketRecord,
        author_id: int,
        at: int,
        channel: str,
        changes: dict[str, Any],
        comment: tuple[str, bool] | None = None,
        via_id: str | None = None,
    ) -> dict:
        """Apply one update by ``author_id`` at ``at`` (epoch seconds) and return its audit.

        ``changes`` maps properties to new values (tags: the whole list), ``comment`` is
        (body, public). The comment comes first among the events, then a Change event per
        property that really changes. With ``via_id`` (how the update came in) the triggers run
        on it, their changes in the same audit. An update that changes nothing leaves no audit
        behind. updated_at is the caller's to set.
        """
        before = UpdateFacts("Change", via_id or "", record.priority, record.status)
        audit_id = next(self._audit_ids)
        events = []
        if comment is not None:
            body, public = comment
            made = make_comment(next(self._comment_ids), author_id, body, public, at)
            record.comments.append(made)
            events.append(comment_event(made, audit_id))
        for name, value in changes.items():
            previous = getattr(record, name)
            if value != previous:
                events.append(change_event(next(self._event_ids), name, value, previous))
                setattr(record, name, list(value) if isinstance(value, list) else value)
        audit = make_audit(audit_id, record.id, at, author_id, channel, events)
        # Every accepted update runs the triggers, even one that changed nothing (docs silent:
        # less forgiving reading; a webhook may hear of the same ticket again).
        if via_id is not None:
            self._run_triggers(record, audit, before)
        if audit["events"]:
            record.audits.append(audit)
        return audit

    # Writes ----------------------------------------------------------------------------

    def apply_api_update(
        self, ticket_id: int, fields: dict, source: str, honour_safe_update: bool = True
    ) -> tuple[TicketRecord, dict]:
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
        changes, comment = validated_changes(fields)
        # https://developer.zendesk.com/documentation/ticketing/managing-tickets/protecting-against-ticket-update-collisions/
        if honour_safe_update and fields.get("safe_update") is True:
            stamp = fields.get("updated_stamp")
            if not isinstance(stamp, str) or parse_timestamp(stamp) != record.updated_at:
                raise ApiError(409, dict(UPDATE_CONFLICT))

        if "tags" in changes or "additional_tags" in changes or "remove_tags" in changes:
            tags = changes.get("tags", record.tags)
            tags = list(dict.fromkeys([*tags, *changes.get("additional_tags", [])]))
            removed = set(changes.get("remove_tags", []))
            changes["tags"] = [tag for tag in tags if tag not in removed]
        record.touch()
        if record.first_api_write_at is None:
            record.first_api_write_at = time.time()
        updated = {name: changes[name] for name in UPDATABLE_FIELDS if name in changes}
        if record.hand_priority and updated.get("priority", record.priority) != record.priority:
            record.hand_priority_overridden = True
        audit = self._write_audit(
            record, API_USER_ID, record.updated_at, "api", updated, comment, via_id=VIA_WEB_SERVICE
        )
        if comment is not None and not comment[1]:
            record.api_private_notes += 1
        record.api_updates.append({"at": format_timestamp(record.updated_at), "source": source, "fields": fields})
        self.ticket_updates_total += 1
        self._reindex(record)
        return record, audit

    def agent_update(
        self, record: TicketRecord, agent_id: int, changes: dict[str, Any], comment: tuple[str, bool] | None = None
    ) -> dict:
        """Apply an agent's update in the UI and return its audit (author the agent, channel web;
        the triggers run on it as on any update). A priority it sets is what people decided:
        protected for the stats, and set by hand. The caller keeps ``protected_tags``.

        It uses up the Update Ticket budget but is never refused: people are not rate limited.
        """
        # https://developer.zendesk.com/api-reference/introduction/rate-limits/ (the Update
        # Ticket limit counts edits made in the Zendesk UI too)
        self.update_window.record(time.monotonic())
        if "priority" in changes:
            record.protected_priority = changes["priority"]
            record.hand_priority = True
        record.touch()
        audit = self._write_audit(record, agent_id, record.updated_at, "web", changes, comment, via_id=VIA_WEB_FORM)
        self._reindex(record)
        return audit

    def agent_edit(self, record: TicketRecord, edit: dict) -> None:
        """Apply an agent's edit in the UI (POST /_sim/tickets/{id}/agent_edit, --agent-edit-rate):
        the tags it adds become protected for the stats, and its priority (agent_update)."""
        self.agent_edits_total += 1
        tags = normalize_tags(edit.get("additional_tags", []), "additional_tags")
        record.protected_tags.update(tags)
        changes: dict[str, Any] = {"tags": list(dict.fromkeys([*record.tags, *tags]))}
        if "priority" in edit:
            if PRIORITY_RANK[edit["priority"]] > PRIORITY_RANK[record.priority]:
                self.agent_priority_raises += 1
            changes["priority"] = edit["priority"]
        if "status" in edit:
            changes["status"] = edit["status"]
        comment = (edit["comment"], True) if edit.get("comment") else None
        self.agent_update(record, record.assignee_id or AGENT_IDS[0], changes, comment)

    def random_agent_edit(self) -> TicketRecord | None:
        """What --agent-edit-rate does once: an agent edits a random unsolved ticket.

        Usually the agent raises its priority to urgent; otherwise (and always when it is
        urgent already) the agent marks it reviewed with a tag. None when no ticket is open.
        """
        candidates = sorted(
            ticket_id for ticket_id, record in self.tickets.items() if record.status not in ("solved", "closed")
        )
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
        """Delete a ticket; False when there is none with that id.

        https://developer.zendesk.com/documentation/ticketing/managing-tickets/using-the-incremental-export-api
        (the incremental export lists deleted tickets, status "deleted", unless told to exclude them)
        """
        record = self.tickets.pop(ticket_id, None)
        if record is None:
            return False
        record.status = "deleted"
        record.touch()
        self.deleted[ticket_id] = record
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

    def _endpoint_budget(self, endpoint: str | None) -> tuple[SlidingWindow, int, str] | None:
        """The window, limit and 429 description of an endpoint's own budget, if it has one."""
        config = self.config
        budgets = {
            # https://developer.zendesk.com/api-reference/introduction/rate-limits/ (Update Ticket)
            "ticket_update": (
                self.update_window,
                config.update_rate_limit,
                "Number of allowed ticket updates per minute exceeded",
            ),
            # https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#export-search-results
            # (its own limit of 100 requests per minute, in addition to the account limit)
            "export": (
                self.export_window,
                config.export_rate_limit,
                "Number of allowed search export requests per minute exceeded",
            ),
            # https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/
            # (up to 10 requests per minute, in addition to the account limit)
            "incremental": (
                self.incremental_window,
                config.incremental_rate_limit,
                "Number of allowed incremental export API requests per minute exceeded",
            ),
        }
        return budgets.get(endpoint or "")

    async def let_through(self, endpoint: str | None) -> None:
        """What every request meets before it is answered, the token endpoint's too: the injected
        latency (asyncio.sleep, so concurrent requests wait side by side), the rate limits (a 429
        ApiError) and an outage (a 503 ApiError)."""
        if self.config.latency_ms > 0:
            await asyncio.sleep(self.config.latency_ms / 1000)
        now = time.monotonic()
        self.admit(now, endpoint)
        outage = self.outage_remaining(now)
        if outage:
            raise ApiError(
                503,
                {"error": "ServiceUnavailable", "description": "Simulated outage"},
                {"Retry-After": str(max(1, math.ceil(outage)))},
            )

    def admit(self, now: float, endpoint: str | None) -> None:
        """Count the request against the rate budgets or raise a 429 ApiError."""
        config = self.config
        wait = self.account_window.wait_for_slot(now, config.rate_limit, config.rate_window)
        description = "Number of allowed API requests per minute exceeded"
        budget = self._endpoint_budget(endpoint)
        if not wait and budget is not None:
            window, limit, description = budget
            wait = window.wait_for_slot(now, limit, config.rate_window)
        if wait:
            raise ApiError(
                429,
                {"error": "TooManyRequests", "description": description},
                {"Retry-After": str(max(1, math.ceil(wait)))},
            )
        self.account_window.record(now)
        if budget is not None:
            budget[0].record(now)

    def rate_limit_headers(self, now: float) -> dict[str, str]:
        """Zendesk's rate-limit headers for the account budget."""
        config = self.config
        remaining = self.account_window.remaining(now, config.rate_limit, config.rate_window)
        reset = max(1, math.ceil(self.account_window.reset_after(now, config.rate_window)))
        return {
            "X-Rate-Limit": str(config.rate_limit),
            "X-Rate-Limit-Remaining": str(remaining),
            "ratelimit-limit": str(config.rate_limit),
            "ratelimit-remaining": str(remaining),
            "ratelimit-reset": str(reset),
        }

    # Reports ---------------------------------------------------------------------------------

    def stats(self) -> dict:
        """The figures behind GET /_sim/stats (of every ticket, the solved history included)."""
        records = self.tickets.values()
        notes = [record.api_private_notes for record in records]
        return {
            "tickets_total": len(self.tickets),
            "tickets_ai_processed": sum("ai_processed" in record.tags for record in records),
            "max_ai_notes_per_ticket": max(notes, default=0),
            "tickets_with_multiple_notes": sum(count > 1 for count in notes),
            "notes_total": sum(notes),
            "requests_total": self.requests_total,
            "write_requests": sum(self.writes_by_endpoint.values()),
            "writes_by_endpoint": dict(self.writes_by_endpoint),
            "responses_429": self.responses_by_status["429"],
            "responses_400": self.responses_by_status["400"],
            "responses_by_status": dict(self.responses_by_status),
            "requests_by_endpoint": dict(self.requests_by_endpoint),
            "ticket_updates_total": self.ticket_updates_total,
            "tickets_lost_tags": sum(not record.protected_tags <= set(record.tags) for record in records),
            "tickets_priority_lowered": sum(
                PRIORITY_RANK[record.priority] < PRIORITY_RANK[record.protected_priority] for record in records
            ),
            "tickets_by_status": dict(Counter(record.status for record in records)),
            "tickets_created": self.tickets_created,
            # The seeded solved history is part of the figures above (--solved): subtract it
            # where only the live queue counts.
            "history_solved": len(self.history),
            "history_ai_processed": sum(plan.fleet is not None for _, plan in self.history),
            "tickets_deleted": self.tickets_deleted,
            "jobs_total": self.jobs_created,
            "jobs_active": self.active_jobs(),
            "job_status_404": self.job_status_404,
            "agent_edits_total": self.agent_edits_total,
            "agent_priority_raises": self.agent_priority_raises,
            "agent_finished_total": self.agent_finished_total,
            "index_pending": self.index.pending,
            "webhooks": dict(self.webhooks),
            # Triggers (sim.zendesk.triggers): times each fired by title, the priority changes
            # they made, the tickets whose priority they raised, and the tickets whose priority
            # an API write or a trigger changed after an agent set it by hand (0 for a correct fleet).
            "triggers_fired": dict(self.trigger_book.fired),
            "trigger_priority_changes": self.trigger_book.priority_changes,
            "tickets_priority_raised_by_trigger": len(self.trigger_book.raised_tickets),
            "hand_priorities_overridden": sum(record.hand_priority_overridden for record in records),
            "oauth": self.oauth.stats(),
            # /api/v2 requests by the credentials they carried (an API token counts whether or not
            # it passed; refused: nothing that could pass).
            "requests_by_auth": dict(self.oauth.requests_by_auth),
            "uptime_seconds": round(time.monotonic() - self.started, 3),
        }

    def config_view(self) -> dict:
        """Current configuration for GET /_sim/config (the API token and the OAuth client's
        secret left out)."""
        view = dataclasses.asdict(self.config)
        view.pop("token")
        view.pop("oauth_client_secret")
        view["outage_remaining_seconds"] = round(self.outage_remaining(time.monotonic()), 3)
        view["fail_updates"] = {str(ticket_id): status for ticket_id, status in self.fail_updates.items()}
        return view
