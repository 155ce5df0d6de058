"""The fleet's writes to Zendesk, each exactly once: one ticket at a time (`write_triage`), or a
batch through update_many (`write_batch`). What to write is app.domain.triage's; the requests are
app.clients'.

One ticket: `write_triage` applies the plan with `safe_update`, so a concurrent write (an agent, or
another fleet process that got there first) answers 409; we re-read, and either find the processed
tag already there (done, do not write twice) or recompute against the fresh ticket and try again.
A note alone (suggest mode) leaves no tag: a second attempt at one first reads the ticket's audits
for the note of the same run (`note_written`).

A batch, one request for up to 100 tickets:

Zendesk's Update Ticket endpoint has its own account limit of 100 requests per minute, shared with
the agents working in the UI, so one PUT per ticket holds any fleet near that. update_many counts
against the account limit only, once per job, and each ticket in it still gets its own tags and
private note. What it does not do is protect what people set: `safe_update` is documented for
single-ticket updates only (https://developer.zendesk.com/api-reference/ticketing/tickets/tickets/#update-many-tickets),
so a priority sent in a job could lower one an agent raised a moment earlier. So a batch is
written in two parts:

1. update_many jobs carry only additive fields: `additional_tags` and a private note. Neither can
   overwrite anything a person did.
2. Priorities: with the fleet's priority triggers installed (`python -m app zendesk setup`), the
   job's items carry the pending tag and Zendesk raises each priority in the same update, checked
   on the ticket as it stands then; nothing more is sent. Without them, priority raises go out one
   ticket at a time through Update Ticket with `safe_update` and the stamp just read
   (`raise_priority`): a person's write in between answers 409, the ticket is read again, and a
   priority they set at or above ours is left alone. These count against the fleet's
   share of the Update Ticket limit, so they trail the tags and notes on a large backlog.

Exactly once without safe_update: each round's job is recorded in Redis before it is sent and
again with its id once Zendesk answered. A retried batch follows that job instead of sending
another. Before a batch's first job its tickets are read again (show_many, 100 per request), so
one already written or closed is not sent. A job that cannot be followed (its status expired,
answered 404, or its id never came back) is settled by reading its tickets back with show_many:
those holding the processed tag were written; the others are written again only once the job must
have finished (BULK_JOB_TIMEOUT after it was sent), so a job still queued is never doubled. At most
BULK_MAX_JOBS jobs are queued or running across the fleet (JobSlots in Redis); Zendesk allows an
account 30.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Protocol

from app.clients.bulk import JobPolling, follow_job, item_error, read_fresh
from app.clients.zendesk import (
    BULK_MAX_TICKETS,
    ZendeskClient,
    ZendeskConflict,
    ZendeskError,
    ZendeskJobsBusy,
    ZendeskNotFound,
    ZendeskRejected,
)
from app.domain.models import Analysis, BatchProgress, Ticket, TicketUpdate, WrittenTicket
from app.domain.note_text import is_note
from app.domain.taxonomy import Modes, Taxonomy
from app.domain.triage import CLOSED_STATUSES, expected_trigger_priority, plan_update, priority_to_set

CONFLICT_ATTEMPTS = 3
# Rounds of update_many per batch: the first write, then two more for tickets a job did not write
# (a transient per-ticket failure, a killed job).
ROUNDS = 3


@dataclass(frozen=True)
class WriteOutcome:
    already_done: bool
    tags_added: list[str]
    priority_set: str | None


def write_triage(
    client: ZendeskClient,
    ticket_id: int,
    analysis: Analysis,
    taxonomy: Taxonomy,
    run_id: str,
    known: Ticket | None,
    by_trigger: bool = False,
    modes: Modes | None = None,
    check_note: bool = False,
    note_language: str = "en",
) -> WriteOutcome:
    """Write tags, priority and note once. `known` is the ticket as last read (None: read it now).
    `by_trigger`: the priority is left to the fleet's triggers (PENDING_TAG). `modes`: what of the
    answer is written (default the taxonomy's own). `check_note`: an earlier attempt at this run's
    note may have landed; the audits say (a note alone has no tag to find it by). `note_language`:
    the note's wording (app.domain.note_text).

    Raises ZendeskRejected when the ticket was closed meanwhile, ZendeskConflict when it kept
    changing under us for every attempt, and the client's errors otherwise.
    """
    if check_note and note_written(client, ticket_id, run_id):
        return WriteOutcome(already_done=False, tags_added=[], priority_set=None)
    ticket = known or client.get_ticket(ticket_id)
    for _ in range(CONFLICT_ATTEMPTS):
        if taxonomy.processed_tag in ticket.tags:
            return WriteOutcome(already_done=True, tags_added=[], priority_set=None)
        if ticket.status in CLOSED_STATUSES:
            raise ZendeskRejected(f"ticket is {ticket.status}; left untouched")
        update = plan_update(
            analysis, taxonomy, ticket.priority, ticket.updated_at, run_id, by_trigger, modes, note_language
        )
        try:
            client.update_ticket(ticket_id, update)
        except ZendeskConflict:
            ticket = client.get_ticket(ticket_id)
            continue
        priority = expected_trigger_priority(analysis, taxonomy, ticket, modes) if by_trigger else update.priority
        return WriteOutcome(already_done=False, tags_added=update.additional_tags, priority_set=priority)
    raise ZendeskConflict(f"ticket changed during {CONFLICT_ATTEMPTS} update attempts")


def note_written(client: ZendeskClient, ticket_id: int, run_id: str) -> bool:
    """Whether the ticket holds this run's private note already: a Comment event of its audits
    whose body is the fleet's note (first line "AI Analysis:", or its German or French heading:
    app.domain.note_text.NOTE_HEADINGS) for `run_id` (its "Run:" line, the same in every language)."""
    for audit in client.ticket_audits(ticket_id):
        for event in audit.get("events") or []:
            body = event.get("body") if event.get("type") == "Comment" else None
            if isinstance(body, str) and is_note(body) and f"\nRun: {run_id}" in body:
                return True
    return False


def raise_priority(client: ZendeskClient, ticket_id: int, wanted: str, ticket: Ticket) -> str | None:
    """Raise one ticket's priority to `wanted` with a safe_update PUT against `ticket` (as just
    read); returns the priority written, or None when a person's is already as high, the ticket is
    closed or gone, or it kept changing under us. Rate limits and outages are raised to the caller.
    """
    try:
        for _ in range(CONFLICT_ATTEMPTS):
            target = priority_to_set(wanted, ticket.priority)
            if target is None or ticket.status in CLOSED_STATUSES or not ticket.updated_at:
                return None
            try:
                client.set_priority(ticket_id, target, ticket.updated_at)
            except ZendeskConflict:
                ticket = client.get_ticket(ticket_id)
                continue
            return target
    except (ZendeskNotFound, ZendeskRejected):
        pass  # deleted, or closed meanwhile (422): the tags and note stand
    return None


@dataclass(frozen=True)
class JobRecord:
    """One round's job: when it was sent, which tickets it carries, and its id once known."""

    sent_at: float
    ticket_ids: list[int]
    job_id: str | None = None


class JobLog(Protocol):
    """Remembers which update_many job a batch round sent (see app.fleet.store.BulkJobLog)."""

    def get(self, key: str) -> JobRecord | None: ...

    def put(self, key: str, record: JobRecord) -> None: ...

    def forget(self, key: str) -> None: ...


class JobSlots(Protocol):
    """The fleet's share of the account's queued-or-running jobs (see app.fleet.store.JobSlots)."""

    def acquire(self, holder: str, hold: float) -> bool: ...

    def release(self, holder: str) -> None: ...


@dataclass(frozen=True)
class BatchItem:
    """One ticket of a batch and its analysis."""

    ticket_id: int
    analysis: Analysis
    note_language: str = "en"  # the note's wording (app.domain.note_text.note_language)


@dataclass
class BatchOutcome:
    """Per ticket: tags and note written (or found already written), or failed with a reason.
    `written_at` is when the fleet saw each write land."""

    written: dict[int, WriteOutcome] = field(default_factory=dict)
    failed: dict[int, str] = field(default_factory=dict)
    written_at: dict[int, float] = field(default_factory=dict)
    jobs: int = 0


@dataclass(frozen=True)
class BatchTarget:
    """What every batch of a run is written with: the client, the run's taxonomy and id, the
    fleet's job log and job slots, how jobs are followed, and whether the fleet's priority triggers
    raise priorities (`by_trigger`) or safe PUTs do."""

    client: ZendeskClient
    taxonomy: Taxonomy
    run_id: str
    jobs: JobLog
    slots: JobSlots
    polling: JobPolling = field(default_factory=JobPolling)
    by_trigger: bool = False
    modes: Modes | None = None  # what of each answer is written (None: the taxonomy's own modes)


def _send(target: BatchTarget, updates: dict[int, TicketUpdate], key: str) -> JobRecord:
    """Take a job slot, record the job as sent, send it, record its id."""
    client, jobs, slots, polling = target.client, target.jobs, target.slots, target.polling
    if not slots.acquire(key, hold=2 * polling.timeout):
        raise ZendeskJobsBusy(max(2.0, polling.interval * 5), "the fleet's update_many job slots are all in use")
    record = JobRecord(sent_at=polling.clock(), ticket_ids=sorted(updates))
    jobs.put(key, record)
    try:
        job = client.update_many(updates)
    except ZendeskError as e:
        # Refused before or by Zendesk (a quota, an open breaker, a 4xx): no job exists. A timeout
        # or a 5xx leaves it unknown; the record stays and the tickets will be read back.
        if not e.reached_zendesk or (e.status is not None and e.status < 500):
            jobs.forget(key)
            slots.release(key)
        raise
    record = JobRecord(sent_at=record.sent_at, ticket_ids=record.ticket_ids, job_id=job.id)
    jobs.put(key, record)
    return record


def write_triage_batch(target: BatchTarget, items: list[BatchItem], batch_key: str) -> BatchOutcome:
    """Add tags and a private note to every item once, through update_many jobs (priorities are
    not written here: see `priorities_to_raise` and `raise_priority`; `by_trigger`
    adds the pending tag for the fleet's priority triggers instead, and each written ticket's
    outcome says the priority they set).

    Raises the client's errors when a job cannot be sent or followed; calling again with the same
    `batch_key` resumes: the jobs already sent are followed, never sent twice.
    """
    if len(items) > BULK_MAX_TICKETS:
        raise ValueError(f"a batch holds at most {BULK_MAX_TICKETS} tickets, got {len(items)}")
    client, taxonomy, run_id, polling, by_trigger = (
        target.client,
        target.taxonomy,
        target.run_id,
        target.polling,
        target.by_trigger,
    )
    modes = target.modes or taxonomy.modes()
    if modes.ticket != "live":
        raise ValueError(f"update_many carries tagged writes only, not a ticket in {modes.ticket} mode")
    plans = {
        item.ticket_id: plan_update(item.analysis, taxonomy, None, None, run_id, by_trigger, modes, item.note_language)
        for item in items
    }
    analyses = {item.ticket_id: item.analysis for item in items}
    outcome = BatchOutcome()
    if not items:
        return outcome
    sent_as: dict[int, Ticket] = {}  # each ticket as read just before the job that wrote it

    def written(ticket_id: int, already_done: bool = False) -> None:
        tags = [] if already_done else plans[ticket_id].additional_tags
        priority = None
        if by_trigger and not already_done and ticket_id in sent_as:
            priority = expected_trigger_priority(analyses[ticket_id], taxonomy, sent_as[ticket_id], modes)
        outcome.written[ticket_id] = WriteOutcome(already_done=already_done, tags_added=tags, priority_set=priority)
        outcome.written_at[ticket_id] = polling.clock()

    # Before the first round a processed tag means someone else wrote the ticket; after one of our
    # jobs it means that job did.
    pending: dict[int, Ticket] = {}
    ours_if_tagged = False
    errors: dict[int, str] = {}
    for round_no in range(1, ROUNDS + 2):
        key = f"{batch_key}:{round_no}"
        record = target.jobs.get(key)
        just_sent = record is None
        if record is None and round_no == 1:
            # Read what Zendesk holds now, not what the sweep saw: a job cannot be made conditional
            # (no safe_update), so a ticket written meanwhile (after Redis lost the job log, say)
            # or closed must be found before it is sent.
            fresh = read_fresh(client, [item.ticket_id for item in items])
            outcome.failed.update(
                {item.ticket_id: "ticket not found (deleted?)" for item in items if item.ticket_id not in fresh}
            )
            pending = dict(fresh)
        if record is None:
            updates: dict[int, TicketUpdate] = {}
            for ticket_id, ticket in pending.items():
                if taxonomy.processed_tag in ticket.tags:
                    written(ticket_id, already_done=not ours_if_tagged)
                elif ticket.status in CLOSED_STATUSES:
                    outcome.failed[ticket_id] = f"ticket is {ticket.status}; left untouched"
                elif round_no > ROUNDS:
                    outcome.failed[ticket_id] = f"not written in {ROUNDS} update_many rounds: {errors[ticket_id]}"
                else:
                    updates[ticket_id] = plans[ticket_id]
                    sent_as[ticket_id] = ticket
            if not updates:
                break
            record = _send(target, updates, key)
        outcome.jobs += 1
        # A ticket the job carried but this call does not (a redelivery found it done) is not ours to settle.
        record = dataclasses.replace(record, ticket_ids=[t for t in record.ticket_ids if t in plans])
        job = follow_job(client, record.job_id, polling, just_sent) if record.job_id else None
        if job is None:
            fresh = _settle_unknown_job(client, record, taxonomy, polling, key)
            again = [
                ticket_id
                for ticket_id in record.ticket_ids
                if not (ticket_id in fresh and taxonomy.processed_tag in fresh[ticket_id].tags)
            ]
            for ticket_id in record.ticket_ids:
                if ticket_id not in again:
                    written(ticket_id)
                else:
                    errors[ticket_id] = f"job {record.job_id or '(id never received)'} status unknown"
        else:
            results = {r.get("id"): r for r in job.results if isinstance(r, dict)}
            again = []
            for ticket_id in record.ticket_ids:
                result = results.get(ticket_id)
                if result is not None and result.get("success"):
                    written(ticket_id)
                else:
                    errors[ticket_id] = item_error(result, job)
                    again.append(ticket_id)
            fresh = read_fresh(client, again) if again else {}
        target.slots.release(key)
        if not again:
            break
        pending = {}
        for ticket_id in again:
            if ticket_id in fresh:
                pending[ticket_id] = fresh[ticket_id]
            else:
                outcome.failed[ticket_id] = "ticket not found (deleted?)"
        ours_if_tagged = True
    return outcome


def _settle_unknown_job(
    client: ZendeskClient, record: JobRecord, taxonomy: Taxonomy, polling: JobPolling, key: str
) -> dict[int, Ticket]:
    """A job whose status cannot be read: what Zendesk holds says what it wrote. Tickets still
    without the processed tag are written again only once the job must have finished."""
    fresh = read_fresh(client, record.ticket_ids)
    untagged = [
        ticket_id
        for ticket_id in record.ticket_ids
        if ticket_id in fresh and taxonomy.processed_tag not in fresh[ticket_id].tags
    ]
    may_still_run = polling.clock() - record.sent_at
    if untagged and may_still_run < polling.timeout:
        raise ZendeskJobsBusy(
            polling.timeout - may_still_run,
            f"job for {key} cannot be followed and {len(untagged)} of its tickets are not "
            "written yet; waiting until it must have finished before writing them again",
        )
    return fresh


def priorities_to_raise(items: list[BatchItem], taxonomy: Taxonomy, modes: Modes | None = None) -> dict[int, str]:
    """The priority each ticket's analysis asks for, where the taxonomy maps one and writes it."""
    if (modes or taxonomy.modes()).priority != "write":
        return {}
    wanted = {item.ticket_id: taxonomy.priority_for(item.analysis.values) for item in items}
    return {ticket_id: priority for ticket_id, priority in wanted.items() if priority}


def raise_priorities(
    client: ZendeskClient, wanted: dict[int, str], done: dict[int, str | None], stamps: dict[int, Ticket]
) -> None:
    """Raise each ticket's priority to `wanted[id]` with a safe_update PUT, never lowering what a
    person set. `done` is filled as it goes (the priority written, or None) and `stamps` keeps the
    tickets as read, so a caller stopped by the Update Ticket quota resumes where it stopped
    without reading them again."""
    todo = [ticket_id for ticket_id in wanted if ticket_id not in done]
    unread = [ticket_id for ticket_id in todo if ticket_id not in stamps]
    if unread:  # read after our own job wrote them: their stamps are current
        stamps.update(
            {
                ticket_id: Ticket(
                    id=ticket_id, status=ticket.status, priority=ticket.priority, updated_at=ticket.updated_at
                )
                for ticket_id, ticket in read_fresh(client, unread).items()
            }
        )
    for ticket_id in todo:
        ticket = stamps.get(ticket_id)
        done[ticket_id] = raise_priority(client, ticket_id, wanted[ticket_id], ticket) if ticket else None


class BatchInterrupted(Exception):
    """The batch stopped on `error`; `progress` is what is done, to carry into the retry."""

    def __init__(self, error: ZendeskError, progress: BatchProgress) -> None:
        super().__init__(str(error))
        self.error = error
        self.progress = progress


def write_batch(
    target: BatchTarget, items: list[BatchItem], batch_key: str, progress: BatchProgress | None = None
) -> BatchProgress:
    """Tags and notes through update_many jobs, then priority raises one safe PUT at a time (none
    with `by_trigger`: the fleet's triggers raised them in the jobs' own updates). A resumed batch
    keeps the way its first attempt chose, whatever `target.by_trigger` says now.
    Raises BatchInterrupted, carrying what is done, when Zendesk asks to wait or fails."""
    progress = progress or BatchProgress()
    if progress.by_trigger is None:
        progress.by_trigger = target.by_trigger
    by_trigger = progress.by_trigger
    target = dataclasses.replace(target, by_trigger=by_trigger)
    client, taxonomy = target.client, target.taxonomy
    try:
        if not progress.tags_done:
            outcome = write_triage_batch(target, items, batch_key)
            progress.written.update(
                {
                    ticket_id: WrittenTicket(
                        tags_added=written.tags_added,
                        already_done=written.already_done,
                        written_at=outcome.written_at[ticket_id],
                    )
                    for ticket_id, written in outcome.written.items()
                }
            )
            if by_trigger:
                progress.priorities.update(
                    {
                        ticket_id: written.priority_set
                        for ticket_id, written in outcome.written.items()
                        if not written.already_done
                    }
                )
            progress.failed, progress.jobs, progress.tags_done = outcome.failed, outcome.jobs, True
        if by_trigger:
            return progress
        fresh_writes = [
            item
            for item in items
            if item.ticket_id in progress.written and not progress.written[item.ticket_id].already_done
        ]
        raise_priorities(
            client, priorities_to_raise(fresh_writes, taxonomy, target.modes), progress.priorities, progress.stamps
        )
    except ZendeskError as e:
        raise BatchInterrupted(e, progress) from e
    return progress
