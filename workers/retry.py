"""Retry or give up: the one decision every Zendesk-writing task makes when a call fails."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task

from app.clients.zendesk import ZendeskError
from app.errors import TryLater, retry_countdown
from app.settings import get_settings

log = logging.getLogger(__name__)


def retry_or_give_up(task: Task, error: ZendeskError, failures: int, label: str, argsrepr: dict[str, str],
                     **carry: Any) -> str:
    """Retry later when the error can pass: a TryLater (429, quota, open breaker, busy job queue)
    always does, without using up the failure budget; 5xx, timeouts and conflicts do within
    UPDATE_MAX_RETRIES. Otherwise returns the reason the tickets failed. `carry` goes into the
    retry's keyword arguments (what is done so far)."""
    settings = get_settings()
    waiting = isinstance(error, TryLater)
    if waiting or (error.retryable and failures < settings.update_max_retries):
        countdown = retry_countdown(error, failures, settings.retry_max_countdown)
        log.info("%s: %s; retrying in %.0fs", label, error, countdown)
        kwargs = {**task.request.kwargs, **carry, "failures": failures + (not waiting)}
        raise task.retry(countdown=countdown, kwargs=kwargs, **argsrepr) from error
    return str(error) if not error.retryable else f"gave up after {failures} retries: {error}"
