"""What each stage does with a ticket once it is redacted: classify it, then write it to Zendesk
one at a time or as a batch, and finish it (app.fleet.outcome).

The Celery tasks in workers/ call these and decide only between a countdown retry and a recorded
failure: a TryLater (quota, breaker, busy job queue, configuration fault) always waits; other
Zendesk errors retry within a budget. Every function keeps the ticket's claim alive first, and
takes what it uses from `fleet` (app.fleet.context), which the task passes in.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError

from app.clients.bulk import JobPolling
from app.clients.zendesk import ZendeskNotFound
from app.domain.models import BatchProgress, Ticket, TicketWork, WrittenTicket
from app.domain.note_text import note_language
from app.domain.triage import plan_update
from app.errors import TryLater
from app.fleet.context import Fleet
from app.fleet.outcome import finish, written_status
from app.fleet.writeback import BatchItem, BatchTarget, write_batch, write_triage

log = logging.getLogger(__name__)

REDACTED_TEXT = {"redacted_subject", "redacted_description"}


def classify_ticket(fleet: Fleet, work: TicketWork) -> dict[str, Any]:
    """The analysis attached to the ticket's work, without its text (the update needs the
    analysis, and the result backend keeps a day of results). Raises TryLater (the LLM's quota,
    a configuration fault) and RedisError (the fleet's store out of reach) for the caller to wait
    out; any other failure is recorded on the work."""
    if not work.error:
        if not work.dry_run:
            fleet.claims().keep_alive(work.ticket_id)
        try:
            work.analysis = fleet.classifier().classify(work.redacted_subject, work.redacted_description, may_wait=True)
        except (TryLater, RedisError):
            raise
        except Exception as e:
            log.exception("ticket %s: classification failed", work.ticket_id)
            work.failed_stage, work.error = "classify", f"classification failed ({type(e).__name__})"
    return work.model_dump(exclude=REDACTED_TEXT)


def update_ticket(fleet: Fleet, work: TicketWork) -> dict[str, Any]:
    """Write tags, priority and the private note once (one safe_update PUT), or record why not.
    A ticket in shadow mode is not written at all; one in suggest mode gets the note alone.
    Raises the client's ZendeskError for the caller to retry or give up on."""
    if work.error or work.analysis is None:
        return finish(fleet, work, "failed", stage=work.failed_stage, error=work.error or "no analysis")
    taxonomy = fleet.taxonomy()
    modes = taxonomy.modes(work.triage_mode)
    language = _note_language(fleet, work)
    if work.dry_run:
        if modes.ticket == "shadow":
            return finish(fleet, work, written_status(work))
        plan = plan_update(
            work.analysis, taxonomy, work.priority, None, work.run_id, modes=modes, note_language=language
        )
        return finish(
            fleet,
            work,
            written_status(work),
            tags_added=plan.additional_tags,
            priority_set=plan.priority,
            private_note=plan.private_note,
        )
    claims = fleet.claims()
    claims.keep_alive(work.ticket_id)  # also on every retry: the claim outlives long waits
    if claims.is_done(work.ticket_id):  # redelivered after the write landed
        return finish(fleet, work, "skipped", error="already triaged")
    if modes.ticket == "shadow":  # recorded by finish, remembered by its done marker; Zendesk untouched
        return finish(fleet, work, written_status(work))
    known = (
        Ticket(id=work.ticket_id, priority=work.priority, updated_at=work.updated_at, status="open")
        if work.updated_at
        else None
    )
    note_only = modes.ticket == "suggest"
    # A note alone leaves no tag to find it by: before a second attempt at it, the ticket's audits
    # say whether the first one landed (app.fleet.writeback.note_written).
    earlier_attempt = note_only and not claims.begin_note(work.ticket_id, work.run_id)
    try:
        written = write_triage(
            fleet.zendesk(),
            work.ticket_id,
            work.analysis,
            taxonomy,
            work.run_id,
            known,
            by_trigger=fleet.priority_by_triggers(),
            modes=modes,
            check_note=earlier_attempt,
            note_language=language,
        )
    except ZendeskNotFound:
        return finish(fleet, work, "failed", stage="update", error="ticket not found (deleted?)")
    if written.already_done:
        return finish(fleet, work, "skipped", error="already triaged")
    return finish(fleet, work, written_status(work), tags_added=written.tags_added, priority_set=written.priority_set)


def _note_language(fleet: Fleet, work: TicketWork) -> str:
    """The language of this ticket's note under NOTE_LANGUAGE (English unless it is `ticket`)."""
    analysis_language = work.analysis.language if work.analysis is not None else None
    return note_language(fleet.settings().workers.note_language, work.language, analysis_language)


def batch_works(works_data: list[Any]) -> list[TicketWork]:
    """A batch chord's results as works: dicts only (redact_batch's own result is an empty list),
    the last one per ticket (a redelivered redact_batch may have classified a ticket twice)."""
    works = (TicketWork.model_validate(data) for data in works_data if isinstance(data, dict))
    return list({work.ticket_id: work for work in works}.values())


def update_batch(
    fleet: Fleet, works: list[TicketWork], run_id: str, batch_no: int, progress: BatchProgress | None = None
) -> list[dict[str, Any]]:
    """Write a batch (app.fleet.writeback: tags and notes in update_many jobs, priority raises one safe
    PUT each) and finish every ticket. Raises BatchInterrupted, carrying what is done, when
    Zendesk asks to wait or fails; called again with that progress it resumes. Tickets handled in
    shadow or suggest mode (dispatch sends those one chain each; a batch holds them only when
    TRIAGE_MODE changed under a run's message) go the single way: no write, or the note alone."""
    taxonomy = fleet.taxonomy()
    not_tagged = [w for w in works if taxonomy.modes(w.triage_mode).ticket != "live"]
    if not_tagged:
        records = [update_ticket(fleet, work) for work in not_tagged]
        rest = [w for w in works if w not in not_tagged]
        return records + (update_batch(fleet, rest, run_id, batch_no, progress) if rest else [])
    if progress is None:  # first attempt: tickets a redelivery of this batch already wrote
        claims = fleet.claims()
        progress = BatchProgress(
            written={
                w.ticket_id: WrittenTicket(already_done=True, written_at=0)
                for w in works
                if claims.is_done(w.ticket_id)
            }
        )
    found_done = {ticket_id for ticket_id, written in progress.written.items() if written.already_done}
    ready = [w for w in works if w.analysis is not None and not w.error and w.ticket_id not in found_done]
    for work in ready:
        fleet.claims().keep_alive(work.ticket_id)
    settings = fleet.settings()
    polling = JobPolling(
        interval=settings.workers.bulk_poll_interval,
        max_interval=10 * settings.workers.bulk_poll_interval,
        timeout=settings.workers.bulk_job_timeout,
        max_sleep=fleet.max_sleep(settings),
    )
    items = [BatchItem(w.ticket_id, w.analysis, _note_language(fleet, w)) for w in ready if w.analysis is not None]
    by_trigger = progress.by_trigger if progress.by_trigger is not None else fleet.priority_by_triggers()
    modes = taxonomy.modes(works[0].triage_mode) if works else None
    target = BatchTarget(
        fleet.zendesk(), taxonomy, run_id, fleet.bulk_jobs(), fleet.job_slots(), polling, by_trigger, modes
    )
    done = write_batch(target, items, f"{run_id}:{batch_no}", progress)
    log.info(
        "run %s batch %s: %d written, %d failed, %d update_many jobs, %d priorities raised%s",
        run_id,
        batch_no,
        len(done.written),
        len(done.failed),
        done.jobs,
        sum(1 for p in done.priorities.values() if p),
        " (by Zendesk's triggers)" if done.by_trigger else "",
    )
    return finish_batch(fleet, works, done, "no outcome")


def finish_batch(fleet: Fleet, works: list[TicketWork], progress: BatchProgress, reason: str) -> list[dict[str, Any]]:
    """Finish every ticket of a batch from what its write did; `reason` for those it never reached."""
    records = []
    for work in works:
        written = progress.written.get(work.ticket_id)
        if work.error or work.analysis is None:
            records.append(finish(fleet, work, "failed", stage=work.failed_stage, error=work.error or "no analysis"))
        elif written is None:
            error = progress.failed.get(work.ticket_id, reason)
            records.append(finish(fleet, work, "failed", stage="update", error=error))
        elif written.already_done:
            records.append(finish(fleet, work, "skipped", error="already triaged"))
        else:
            records.append(
                finish(
                    fleet,
                    work,
                    written_status(work),
                    tags_added=written.tags_added,
                    priority_set=progress.priorities.get(work.ticket_id),
                    written_at=written.written_at,
                )
            )
    return records
