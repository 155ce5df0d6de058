"""A run's end, and the check that runs still end: the summary (file, Redis, metrics, alerts) and the
stalled-fleet watchdog. A run starts in app.fleet.dispatch.start_run (a sweep, then its chord)."""

from __future__ import annotations

import logging
import time
from typing import Any

from app.domain.models import TicketResult
from app.domain.summary import RunSummary, build_summary, write_summary_file
from app.fleet.context import Fleet
from app.ops.alerts import run_alerts, stalled_alert

log = logging.getLogger(__name__)


def ticket_records(results: list[Any]) -> list[TicketResult]:
    """The run chord's results: a record per ticket, or a list of them per batch."""
    flat: list[dict[str, Any]] = []
    for item in results:
        if isinstance(item, list):
            flat.extend(r for r in item if isinstance(r, dict))
        elif isinstance(item, dict):
            flat.append(item)
    return [TicketResult.model_validate(r) for r in flat]


def finish_run(
    fleet: Fleet, results: list[Any], run_id: str, started_at: float, dry_run: bool, source: str = "sweep"
) -> RunSummary:
    """Write the run summary file, keep it in Redis, count its tickets in the fleet's metrics, fire
    the run's alerts. Idempotent: a redelivered chord body finds the summary already stored and
    returns it (and the metrics count a run once)."""
    store = fleet.run_store()
    existing = store.summary(run_id)
    if existing is not None:
        return existing
    summary = build_summary(
        run_id, started_at, dry_run, ticket_records(results), fields=list(fleet.taxonomy().fields), source=source
    )
    summary.agent_override = store.agent_override()
    settings = fleet.settings()
    path = write_summary_file(settings.operators.log_dir, summary)
    summary.file = str(path)
    store.save_summary(summary)
    store.mark_completed()
    if not dry_run:  # a dry run wrote nothing: the metrics count what the fleet did
        fleet.meters().run_finished(run_id, summary.source, summary.results)
    sent = fleet.alerts().fire_all(
        run_alerts(summary, settings.operators.alert_failure_rate, settings.operators.alert_slow_seconds)
    )
    log.info(
        "run %s finished: %d tickets, %d processed, %d failed, %.1fs -> %s%s",
        run_id,
        summary.total,
        summary.processed,
        summary.failed,
        summary.total_time,
        path,
        f" (alerts: {', '.join(sent)})" if sent else "",
    )
    return summary


def check_runs_complete(fleet: Fleet) -> None:
    """Alert when no run completed (a sweep that found nothing counts) for three sweep intervals."""
    store = fleet.run_store()
    # A fleet that never completed a run starts counting from its first check.
    last = store.last_completed() or store.mark_completed(only_if_missing=True)
    alert = stalled_alert(last, time.time(), fleet.settings().intake.sweep_interval)
    if alert is not None:
        fleet.alerts().fire(alert)
