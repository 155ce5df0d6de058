"""The run's beginning and end: beat's sweep, the watchdog, and the chord body that summarizes."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task as CeleryTask

from app import services
from app.celery import app
from app.clients.zendesk import ZendeskError
from app.fleet.dispatch import start_run
from app.fleet.runs import check_runs_complete, finish_run
from app.names import Task

log = logging.getLogger(__name__)


@app.task(name=str(Task.SWEEP), bind=True, ignore_result=True)
def sweep_task(self: CeleryTask, limit: int | None = None, dry_run: bool = False) -> None:
    """Beat's periodic sweep: claim unprocessed tickets and dispatch one chord for them."""
    try:
        start_run(services.fleet(), limit=limit, dry_run=dry_run)
    except ZendeskError as e:
        # The first search page failed, so nothing was claimed: the next beat tick is the retry.
        log.warning("sweep skipped: %s", e)


@app.task(name=str(Task.WATCHDOG), bind=True, ignore_result=True)
def watchdog_task(self: CeleryTask) -> None:
    """Beat's check that runs still complete: alert when none did for three sweep intervals."""
    check_runs_complete(services.fleet())


@app.task(name=str(Task.SUMMARIZE), bind=True)
def summarize_task(
    self: CeleryTask, results: list[Any], run_id: str, started_at: float, dry_run: bool = False, source: str = "sweep"
) -> dict[str, Any]:
    """Chord body: write the run summary file and keep it in Redis. Idempotent on redelivery."""
    summary = finish_run(services.fleet(), results, run_id, started_at, dry_run, source)
    return {"run_id": run_id, "total": summary.total, "failed": summary.failed}
