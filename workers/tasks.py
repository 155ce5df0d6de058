"""Celery tasks: thin wrappers that call app/ and decide between retry and a recorded outcome.

A per-ticket chain (redact -> classify -> update) never raises into its chord: whatever happens,
`triage.update` returns a TicketResult record, so `triage.summarize` always runs. Arguments are
ids and small pydantic payloads; the raw ticket text exists only in the messages of the redact
tasks (`triage.redact`, `triage.redact_batch`), which Flower and the logs show as ids (see
`argsrepr` in workers.pipeline).
"""

from __future__ import annotations

import gc
import logging
import random
import time
from typing import Any

from celery import Task
from celery.signals import after_setup_logger, worker_init
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from app import services
from app.alerts import run_alerts, stalled_alert
from app.bulk import BatchInterrupted, BatchItem, JobPolling, write_batch
from app.celery import app
from app.errors import TryLater
from app.logs import setup_file_logging
from app.models import Analysis, BatchProgress, Ticket, TicketInput, TicketResult, TicketWork
from app.redaction import redact_inputs
from app.settings import get_settings
from app.summary import build_summary, write_summary_file
from app.sweep import sweep
from app.triage import plan_update, write_triage
from app.zendesk import ZendeskError, ZendeskNotFound
from workers.pipeline import batch_repr, classify_signature, dispatch_run, redact_batch_signature, ticket_repr

log = logging.getLogger("triage")

REDACTED_TEXT = {"redacted_subject", "redacted_description"}
# Tickets per spaCy pass in triage.redact_batch: nlp.pipe costs about two thirds of a call per
# ticket from 20 on (bench/redaction_batching.py). A batch's first pass is shorter: every batch
# starts at once, and the LLM should not wait for all of their first passes.
FIRST_REDACT_CHUNK = 5
REDACT_CHUNK = 20


class HideReturnValues(logging.Filter):
    """Celery logs each task's return value on success; ours carry ticket text (redacted, but
    the logs need ids only), so the value is replaced before the line is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, dict) and "return_value" in record.args:
            record.args = {**record.args, "return_value": "<hidden>"}
        return True


logging.getLogger("celery.app.trace").addFilter(HideReturnValues())


WARM_UP_TEXT = ("Hi, I'm Anna Berg (anna@example.org, +44 20 7946 0958, 030 1234567). Card 4111 1111 1111 1111, "
                "IBAN GB82 WEST 1234 5698 7654 32, SSN 123-45-6789, IP 192.0.2.1, 12 Baker Street, London.")


@after_setup_logger.connect
def _log_to_daily_files(**_: Any) -> None:
    """Workers and beat also write LOG_DIR/triage.log (app/logs.py)."""
    setup_file_logging(get_settings())


@worker_init.connect
def _load_models_before_fork(**_: Any) -> None:
    """Load spaCy in the worker's parent so every pool child shares its pages (copy on write).

    One redaction first builds what loads lazily (phonenumbers metadata, regex and vocabulary
    caches) in the parent too; gc.freeze() then keeps the collector from writing to those
    objects in every child, which would give each child its own copy of the pages.
    """
    provider, why = get_settings().llm_choice()
    taxonomy = services.taxonomy()  # a bad taxonomy file stops the worker here, not per ticket
    log.warning("classifier: %s (%s); taxonomy %s@%s", provider, why, taxonomy.name, taxonomy.version)
    services.redactor().redact_tickets([(WARM_UP_TEXT, WARM_UP_TEXT)] * 2)  # the batch path too
    gc.freeze()


@app.task(name="triage.sweep", bind=True, ignore_result=True)
def sweep_task(self: Task, limit: int | None = None, dry_run: bool = False) -> None:
    """Beat's periodic sweep: claim unprocessed tickets and dispatch one chord for them."""
    settings = get_settings()
    try:
        outcome = sweep(services.zendesk(), services.ledger(), limit or settings.sweep_max_tickets, dry_run=dry_run,
                        processed_tag=services.taxonomy().processed_tag)
    except ZendeskError as e:
        # The first search page failed, so nothing was claimed: the next beat tick is the retry.
        log.warning("sweep skipped: %s", e)
        return
    store = services.run_store()
    store.mark_sweep()
    if not outcome.found:
        store.mark_completed()  # nothing to do counts as a completed run for the stalled-fleet alert
    dispatch_run(outcome)


@app.task(name="triage.watchdog", bind=True, ignore_result=True)
def watchdog_task(self: Task) -> None:
    """Beat's check that runs still complete: alert when none did for three sweep intervals."""
    store = services.run_store()
    # A fleet that never completed a run starts counting from its first check.
    last = store.last_completed() or store.mark_completed(only_if_missing=True)
    alert = stalled_alert(last, time.time(), get_settings().sweep_interval)
    if alert is not None:
        services.alerts().fire(alert)


@app.task(name="triage.redact", bind=True)
def redact_task(self: Task, payload: dict[str, Any]) -> dict[str, Any]:
    """Raw ticket in, redacted ticket out. With triage.redact_batch, the only tasks that see personal data."""
    return redact_inputs(services.redactor(), [TicketInput.model_validate(payload)])[0].model_dump()


# Adding to the chord needs Redis: a dropped connection retries the pass (classifying a ticket
# twice is harmless, update_batch keeps one result per ticket) instead of failing the batch.
@app.task(name="triage.redact_batch", bind=True, autoretry_for=(RedisError, OperationalError),
          retry_backoff=2, retry_backoff_max=60, max_retries=20)
def redact_batch_task(self: Task, payloads: list[dict[str, Any]], run_id: str, batch_no: int,
                      first: bool = True) -> list:
    """Large runs: redact the next few tickets of a batch in one spaCy pass and add their
    triage.classify, then the rest of the batch as another triage.redact_batch, to the batch's
    chord; its body, triage.update_batch, waits for them all. The first pass is short so the LLM
    starts early; handing the rest back to the queue frees this worker process meanwhile."""
    size = FIRST_REDACT_CHUNK if first else REDACT_CHUNK
    tickets = [TicketInput.model_validate(p) for p in payloads[:size]]
    for work in redact_inputs(services.redactor(), tickets):
        self.add_to_chord(classify_signature(work))
    if len(payloads) > size:
        self.add_to_chord(redact_batch_signature(payloads[size:], run_id, batch_no, first=False))
    return []  # the chord's results are the classify tasks'; update_batch skips this one


# max_retries=None: Celery's default of 3 would end a chain with an exception (and the chord with
# it); waits that always pass (quota, configuration fault) are unbounded, the rest keep budgets.
@app.task(name="triage.classify", bind=True, max_retries=None)
def classify_task(self: Task, work_data: dict[str, Any]) -> dict[str, Any]:
    """Redacted ticket in, analysis attached. A ticket waiting for the LLM's quota, or for an
    operator to fix a configuration fault, keeps its place (a countdown retry, so the worker process
    is free meanwhile); the rules answer only when the LLM is down or cannot answer this ticket."""
    work = TicketWork.model_validate(work_data)
    if work.error:
        return work.model_dump(exclude=REDACTED_TEXT)
    if not work.dry_run:
        services.ledger().keep_alive(work.ticket_id)
    try:
        work.analysis = services.classifier().classify(work.redacted_subject, work.redacted_description,
                                                       may_wait=True)
    except TryLater as e:
        countdown = _retry_countdown(e, self.request.retries, get_settings().retry_max_countdown)
        log.info("ticket %s: %s; classifying again in %.0fs", work.ticket_id, e, countdown)
        raise self.retry(countdown=countdown, **ticket_repr(work.ticket_id)) from e
    except Exception as e:  # noqa: BLE001
        log.exception("ticket %s: classification failed", work.ticket_id)
        work.failed_stage, work.error = "classify", f"classification failed ({type(e).__name__})"
    # The update needs the analysis, not the text: the result backend keeps a day of results.
    return work.model_dump(exclude=REDACTED_TEXT)


def _retry_countdown(error: Exception, retries: int, cap: int) -> float:
    """Retry-After when the service gave one, else exponential backoff; jitter spreads the herd so
    a freed slot is not met by every waiting task at once."""
    if isinstance(error, TryLater):
        base = error.retry_after
        return min(cap, base + random.uniform(0, max(5.0, base)))
    base = min(cap, 5 * 2**retries)
    return base * random.uniform(0.75, 1.25)


def _finish(work: TicketWork, result: TicketResult) -> dict[str, Any]:
    """Dead-letter a failure, release the claim, count progress, log one line without personal data."""
    if result.status == "failed" and not work.dry_run:
        services.dead_letters().add(work.ticket_id, result.stage or "unknown", result.error or "unknown", work.run_id)
    services.ledger().release(work.ticket_id)
    services.run_store().ticket_finished(work.run_id)
    # One line per ticket outcome; the fields are JSON keys with LOG_FORMAT=json (app/logs.py).
    fields = {"ticket_id": work.ticket_id, "run_id": work.run_id, "status": result.status, "stage": result.stage,
              "seconds": result.processing_time}
    if result.status == "failed":
        log.warning("ticket %s failed at %s: %s (dead-lettered)", work.ticket_id, result.stage, result.error,
                    extra={**fields, "error": result.error})
    else:
        log.info("ticket %s %s in %.2fs tags=%s priority=%s", work.ticket_id, result.status,
                 result.processing_time, ",".join(result.tags_added), result.priority_set,
                 extra={**fields, "tags": result.tags_added, "priority": result.priority_set})
    return result.model_dump()


def _written_status(work: TicketWork) -> str:
    return "fallback" if work.analysis is not None and work.analysis.is_fallback else "success"


def _result(work: TicketWork, status: str, written_at: float | None = None, **fields: Any) -> TicketResult:
    """The ticket's record; its time runs from the sweep's claim until Zendesk held the write (or,
    for a ticket that was not written, until its outcome was known)."""
    written_at = written_at or time.time()
    timing = {"processing_time": round(written_at - work.enqueued_at, 3), "claimed_at": work.enqueued_at,
              "written_at": written_at if status in ("success", "fallback") else None}
    analysis: Analysis | None = work.analysis
    if analysis is None:
        return TicketResult(ticket_id=work.ticket_id, status=status, **timing, **fields)
    return TicketResult(
        ticket_id=work.ticket_id,
        status=status,
        **timing,
        analysis=analysis.record(),
        values=analysis.values,
        tokens=analysis.prompt_tokens + analysis.completion_tokens,
        prompt_tokens=analysis.prompt_tokens,
        completion_tokens=analysis.completion_tokens,
        cost_usd=analysis.cost_usd,
        llm_latency_ms=analysis.latency_ms,
        **fields,
    )


@app.task(name="triage.update", bind=True, max_retries=None)
def update_task(self: Task, work_data: dict[str, Any], failures: int = 0) -> dict[str, Any]:
    """Write tags, priority and the private note once, or record why not. Always returns a record.

    `failures` counts 5xx/timeouts/conflicts; waiting out a 429 does not use up that budget,
    because a rate limit always passes (Celery's own retry count covers both, hence our own)."""
    work = TicketWork.model_validate(work_data)
    if work.error or work.analysis is None:
        return _finish(work, _result(work, "failed", stage=work.failed_stage, error=work.error or "no analysis"))
    taxonomy = services.taxonomy()
    success = _written_status(work)
    if work.dry_run:
        plan = plan_update(work.analysis, taxonomy, work.priority, None, work.run_id)
        return _finish(work, _result(work, success, tags_added=plan.additional_tags, priority_set=plan.priority))
    ledger = services.ledger()
    ledger.keep_alive(work.ticket_id)  # also on every retry: the claim outlives long waits
    if ledger.is_done(work.ticket_id):
        # Redelivered after the write landed: the done marker is written right after the PUT.
        return _finish(work, _result(work, "skipped", error="already triaged"))
    known = (
        Ticket(id=work.ticket_id, priority=work.priority, updated_at=work.updated_at, status="open")
        if work.updated_at
        else None
    )
    try:
        outcome = write_triage(services.zendesk(), work.ticket_id, work.analysis, taxonomy, work.run_id, known)
    except ZendeskNotFound:
        return _finish(work, _result(work, "failed", stage="update", error="ticket not found (deleted?)"))
    except ZendeskError as e:
        error = _retry_or_fail(self, e, failures, f"ticket {work.ticket_id}",
                               ticket_repr(work.ticket_id))
        return _finish(work, _result(work, "failed", stage="update", error=error))
    except Exception as e:  # noqa: BLE001 - a bug must not take the chord down with it
        log.exception("ticket %s: update failed unexpectedly", work.ticket_id)
        return _finish(work, _result(work, "failed", stage="update", error=f"unexpected {type(e).__name__}"))
    ledger.mark_done(work.ticket_id)
    if outcome.already_done:
        return _finish(work, _result(work, "skipped", error="already triaged"))
    return _finish(work, _result(work, success, tags_added=outcome.tags_added, priority_set=outcome.priority_set))


def _retry_or_fail(task: Task, error: ZendeskError, failures: int, label: str, argsrepr: dict[str, str],
                   **carry: Any) -> str:
    """Retry later when the error can pass (a 429, a quota, an open breaker or a busy job queue
    always does, without using up the failure budget); otherwise the reason the tickets failed.
    `carry` goes into the retry's keyword arguments (what is done so far)."""
    settings = get_settings()
    waiting = isinstance(error, TryLater)
    if waiting or (error.retryable and failures < settings.update_max_retries):
        countdown = _retry_countdown(error, failures, settings.retry_max_countdown)
        log.info("%s: %s; retrying in %.0fs", label, error, countdown)
        kwargs = {**task.request.kwargs, **carry, "failures": failures + (not waiting)}
        raise task.retry(countdown=countdown, kwargs=kwargs, **argsrepr) from error
    return str(error) if not error.retryable else f"gave up after {failures} retries: {error}"


@app.task(name="triage.update_batch", bind=True, max_retries=None)
def update_batch_task(self: Task, works_data: list[dict[str, Any]], run_id: str, batch_no: int,
                      failures: int = 0, progress: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Chord body of one batch: tags and notes for up to 100 classified tickets through update_many
    jobs, then priority raises one safe PUT at a time (app.bulk). Returns one TicketResult record
    per ticket, like `triage.update` does for one. A retry (429, outage, quota) carries what is
    done in `progress`; jobs already sent are followed, never sent twice."""
    settings = get_settings()
    taxonomy = services.taxonomy()
    ledger = services.ledger()
    resumed = BatchProgress.model_validate(progress) if progress else None
    # Dicts only (redact_batch's own result is an empty list); the last result per ticket, in case
    # a redelivered redact_batch classified a ticket twice.
    works = list({w.ticket_id: w for w in (TicketWork.model_validate(data) for data in works_data
                                            if isinstance(data, dict))}.values())
    results: dict[int, TicketResult] = {}
    ready: list[TicketWork] = []
    for work in works:
        if work.error or work.analysis is None:
            results[work.ticket_id] = _result(work, "failed", stage=work.failed_stage, error=work.error or "no analysis")
        elif resumed is None and ledger.is_done(work.ticket_id):
            results[work.ticket_id] = _result(work, "skipped", error="already triaged")
        else:
            ledger.keep_alive(work.ticket_id)
            ready.append(work)
    if ready:
        items = [BatchItem(w.ticket_id, w.analysis) for w in ready if w.analysis is not None]
        polling = JobPolling(interval=settings.bulk_poll_interval, max_interval=10 * settings.bulk_poll_interval,
                             timeout=settings.bulk_job_timeout, max_sleep=settings.rate_limit_max_sleep)
        stopped = "no outcome"
        try:
            done = write_batch(services.zendesk(), items, taxonomy, run_id, services.bulk_jobs(), services.job_slots(),
                               f"{run_id}:{batch_no}", polling, resumed)
        except BatchInterrupted as e:
            stopped = _retry_or_fail(self, e.error, failures, f"run {run_id} batch {batch_no}",
                                     batch_repr(run_id, batch_no, len(works)),
                                     progress=e.progress.model_dump(mode="json"))
            done = e.progress
        except Exception as e:  # noqa: BLE001 - a bug must not take the chord down with it
            log.exception("run %s batch %s: update failed unexpectedly", run_id, batch_no)
            done, stopped = BatchProgress(), f"unexpected {type(e).__name__}"
        log.info("run %s batch %s: %d written, %d failed, %d update_many jobs, %d priorities raised", run_id,
                 batch_no, len(done.written), len(done.failed), done.jobs, sum(1 for p in done.priorities.values() if p))
        for work in ready:
            written = done.written.get(work.ticket_id)
            if written is None:
                error = done.failed.get(work.ticket_id, stopped)
                results[work.ticket_id] = _result(work, "failed", stage="update", error=error)
                continue
            ledger.mark_done(work.ticket_id)
            if written.already_done:
                results[work.ticket_id] = _result(work, "skipped", error="already triaged")
            else:
                results[work.ticket_id] = _result(work, _written_status(work), tags_added=written.tags_added,
                                                  priority_set=done.priorities.get(work.ticket_id),
                                                  written_at=written.written_at)
    return [_finish(work, results[work.ticket_id]) for work in works]


def _flatten(results: list[Any]) -> list[dict[str, Any]]:
    """The run chord's results: a record per ticket, or a list of them per batch."""
    flat: list[dict[str, Any]] = []
    for item in results:
        if isinstance(item, list):
            flat.extend(r for r in item if isinstance(r, dict))
        elif isinstance(item, dict):
            flat.append(item)
    return flat


@app.task(name="triage.summarize", bind=True)
def summarize_task(self: Task, results: list[dict[str, Any]], run_id: str, started_at: float, dry_run: bool = False) -> dict[str, Any]:
    """Chord body: write the run summary file and keep it in Redis. Idempotent on redelivery."""
    store = services.run_store()
    existing = store.summary(run_id)
    if existing is not None:
        return {"run_id": run_id, "total": existing["total"], "failed": existing["failed"]}
    records = [TicketResult.model_validate(r) for r in _flatten(results)]
    summary = build_summary(run_id, started_at, dry_run, records, fields=list(services.taxonomy().fields))
    settings = get_settings()
    path = write_summary_file(settings.log_dir, summary)
    summary["file"] = str(path)
    store.save_summary(summary)
    store.mark_completed()
    sent = services.alerts().fire_all(run_alerts(summary, settings.alert_failure_rate, settings.alert_slow_seconds))
    log.info("run %s finished: %d tickets, %d processed, %d failed, %.1fs -> %s%s", run_id,
             summary["total"], summary["processed"], summary["failed"], summary["total_time"], path,
             f" (alerts: {', '.join(sent)})" if sent else "")
    return {"run_id": run_id, "total": summary["total"], "failed": summary["failed"]}
