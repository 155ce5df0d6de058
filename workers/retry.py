"""Retry or give up: the one decision every Zendesk-writing task makes when a call fails."""

from __future__ import annotations

import logging
from typing import Any, NoReturn

from celery import Task
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from app.clients.zendesk import ZendeskError
from app.errors import TryLater, retry_countdown
from app.fleet import lanes
from app.settings import get_settings

log = logging.getLogger(__name__)

# Redis (claims, markers, limiter, breakers, cache) or the broker out of reach: nothing about the
# ticket is wrong, so it waits instead of failing. Seen in tests/hosts: a worker host cut off from
# Redis recorded tickets as failed that another host then wrote, leaving false dead letters.
STORE_UNAVAILABLE = (RedisError, OperationalError)


def retry_when_store_returns(task: Task, error: BaseException, label: str, argsrepr: dict[str, str]) -> NoReturn:
    """Retry with backoff, without touching any failure budget. If the broker is out of reach too,
    the retry itself fails and the task ends in that error: its message, never acknowledged,
    comes back after the visibility timeout."""
    countdown = retry_countdown(error, min(task.request.retries, 6), get_settings().workers.retry_max_countdown)
    log.warning("%s: Redis unavailable (%s); retrying in %.0fs", label, type(error).__name__, countdown)
    raise task.retry(countdown=countdown, **argsrepr) from error


def retry_or_give_up(
    task: Task, error: ZendeskError, failures: int, label: str, argsrepr: dict[str, str], **carry: Any
) -> str:
    """Retry later when the error can pass: a TryLater (429, quota, open breaker, busy job queue)
    always does, without using up the failure budget; 5xx, timeouts and conflicts do within
    UPDATE_MAX_RETRIES. Otherwise returns the reason the tickets failed. `carry` goes into the
    retry's keyword arguments (what is done so far)."""
    settings = get_settings()
    waiting = isinstance(error, TryLater)
    if waiting or (error.retryable and failures < settings.workers.update_max_retries):
        countdown = retry_countdown(error, failures, settings.workers.retry_max_countdown, lanes.in_intake())
        log.info("%s: %s; retrying in %.0fs", label, error, countdown)
        kwargs = {**task.request.kwargs, **carry, "failures": failures + (not waiting)}
        raise task.retry(countdown=countdown, kwargs=kwargs, **argsrepr) from error
    return str(error) if not error.retryable else f"gave up after {failures} retries: {error}"
