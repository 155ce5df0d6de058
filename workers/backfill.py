"""Backfill: a chunk of an export file redacted and classified (app.intake.backfill)."""

from __future__ import annotations

from typing import Any

from celery import Task as CeleryTask

from app import services
from app.celery import app
from app.errors import TryLater, retry_countdown
from app.intake.backfill import Row, triage_rows
from app.names import Task
from app.settings import get_settings


@app.task(name=str(Task.BACKFILL), bind=True, max_retries=None)
def backfill_task(self: CeleryTask, rows: list[dict[str, Any]], include_redacted: bool = False) -> list[dict[str, Any]]:
    """Rows in (raw text, shown in Flower as line numbers only), one result per row out. The LLM
    asking to wait sends the chunk back to the queue; answers already given come from the cache."""
    try:
        return triage_rows(
            [Row.model_validate(row) for row in rows], services.redactor(), services.classifier(), include_redacted
        )
    except TryLater as e:
        raise self.retry(countdown=retry_countdown(e, 0, get_settings().workers.retry_max_countdown)) from e
