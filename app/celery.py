"""The Celery application. `celery -A app worker|beat|flower` finds `app` here.

Only configuration: the task modules it loads, their routes (app.names) and the beat schedule
(app.schedule). The settings are read when Celery first needs its configuration (a worker
starting, a task sent), not at import: importing this module needs no environment, and a worker
with bad settings still stops at start-up with the one-line ConfigError."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from celery import Celery
from kombu import Queue as KombuQueue

from app.names import ROUTES, Queue, Task
from app.schedule import beat_schedule
from app.settings import Settings, get_settings

# Every module that defines tasks; the names and routes are in app.names, the schedule in app.schedule.
TASK_MODULES = [
    "workers.signals",
    "workers.sweep",
    "workers.intake",
    "workers.redact",
    "workers.classify",
    "workers.update",
    "workers.backfill",
]


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery's configuration for these settings."""
    redis = settings.redis
    prefix = {"global_keyprefix": redis.prefix} if redis.prefix else {}
    # With REDIS_SENTINELS the broker (unless BROKER_URL points elsewhere) and the result backend are
    # Celery's sentinel:// URLs, which need the master's name in their transport options.
    broker_scheme = urlparse(redis.effective_broker_url).scheme
    broker_is_redis = broker_scheme in {"redis", "rediss", "unix", "sentinel"}
    broker_sentinel = redis.sentinel_transport_options if broker_scheme == "sentinel" else {}
    update_rate_limit = settings.workers.worker_update_rate_limit
    return dict(
        broker_url=redis.effective_broker_url,
        result_backend=redis.result_backend_url,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_routes=ROUTES,
        task_annotations=({str(Task.UPDATE): {"rate_limit": update_rate_limit}} if update_rate_limit else None),
        task_queues=[KombuQueue(str(queue)) for queue in Queue],
        task_default_queue=str(Queue.SWEEP),
        # At-least-once: a task is acknowledged only after it ran; a worker killed mid-task gives it back.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Unacknowledged tasks (their worker died) come back after the visibility timeout; every
        # worker looks for them every 10 s.
        broker_transport_options={
            "visibility_timeout": settings.workers.broker_visibility_timeout,
            "unacked_restore_interval": 10,
            "unacked_restore_throttle": 1,
            **(prefix if broker_is_redis else {}),
            **broker_sentinel,
        },
        result_backend_transport_options={**prefix, **redis.sentinel_transport_options},
        broker_connection_retry_on_startup=True,
        # kombu's Redis transports, surviving Celery 5.7's reconnect after a Redis restart (app/broker.py).
        broker_transport={"redis": "app.broker:Transport", "sentinel": "app.broker:SentinelTransport"}.get(
            broker_scheme
        ),
        result_expires=24 * 3600,
        # Flower needs events; names are explicit (`triage.redact`), args are shown as ticket ids.
        worker_send_task_events=True,
        task_send_sent_event=True,
        beat_schedule=beat_schedule(settings),
        # RedBeat keeps the schedule and a lock in Redis, so a second beat process waits instead of
        # sending every sweep twice.
        beat_scheduler="redbeat.RedBeatScheduler",
        redbeat_redis_url=redis.redbeat_redis_url,
        # Through Sentinel, RedBeat's own options name the sentinels; empty otherwise (set explicitly,
        # so RedBeat does not fall back to reading broker_transport_options).
        redbeat_redis_options=redis.redbeat_redis_options,
        redbeat_key_prefix=f"{redis.prefix}redbeat:",
        beat_max_loop_interval=max(1, min(60, int(settings.intake.sweep_interval))),
        timezone="UTC",
    )


# Whether reading the configuration demands Zendesk's settings. Workers and beat keep the demand:
# they stop at start-up with the one-line ConfigError, before anything prints. A command that only
# sends work that never reaches Zendesk (`backfill` without --write) lifts it first: see
# `without_zendesk`.
_needs_zendesk = True


def without_zendesk() -> None:
    """Let this process read the Celery configuration with no Zendesk settings; call it before the
    configuration is first read (the first task sent). The Celery settings name no Zendesk value."""
    global _needs_zendesk
    _needs_zendesk = False


app = Celery("triage", include=TASK_MODULES)
# A callable is evaluated when the configuration is first read (Celery's `add_defaults` promise),
# and what it returns stands above Celery's own defaults.
app.add_defaults(lambda: celery_config(get_settings(need_zendesk=_needs_zendesk)))
