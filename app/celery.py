"""The Celery application, built from settings. `celery -A app worker|beat|flower` finds `app` here.

Only configuration: the task modules it loads, their routes (app.names) and the beat schedule
(app.schedule)."""

from __future__ import annotations

from urllib.parse import urlparse

from celery import Celery
from kombu import Queue as KombuQueue

from app.names import ROUTES, Queue, Task
from app.schedule import beat_schedule
from app.settings import get_settings

settings = get_settings()

# Every module that defines tasks; the names and routes are in app.names, the schedule in app.schedule.
TASK_MODULES = ["workers.signals", "workers.sweep", "workers.intake", "workers.redact", "workers.classify",
                "workers.update", "workers.backfill"]

prefix = {"global_keyprefix": settings.redis.prefix} if settings.redis.prefix else {}
# With REDIS_SENTINELS the broker (unless BROKER_URL points elsewhere) and the result backend are
# Celery's sentinel:// URLs, which need the master's name in their transport options.
broker_scheme = urlparse(settings.redis.effective_broker_url).scheme
broker_is_redis = broker_scheme in {"redis", "rediss", "unix", "sentinel"}
broker_sentinel = settings.redis.sentinel_transport_options if broker_scheme == "sentinel" else {}

app = Celery("triage", broker=settings.redis.effective_broker_url, backend=settings.redis.result_backend_url,
             include=TASK_MODULES)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_routes=ROUTES,
    task_annotations=({str(Task.UPDATE): {"rate_limit": settings.workers.worker_update_rate_limit}}
                      if settings.workers.worker_update_rate_limit else None),
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
    result_backend_transport_options={**prefix, **settings.redis.sentinel_transport_options},
    broker_connection_retry_on_startup=True,
    # kombu's Redis transports, surviving Celery 5.7's reconnect after a Redis restart (app/broker.py).
    broker_transport={"redis": "app.broker:Transport",
                      "sentinel": "app.broker:SentinelTransport"}.get(broker_scheme),
    result_expires=24 * 3600,
    # Flower needs events; names are explicit (`triage.redact`), args are shown as ticket ids.
    worker_send_task_events=True,
    task_send_sent_event=True,
    beat_schedule=beat_schedule(settings),
    # RedBeat keeps the schedule and a lock in Redis, so a second beat process waits instead of
    # sending every sweep twice.
    beat_scheduler="redbeat.RedBeatScheduler",
    redbeat_redis_url=settings.redis.redbeat_redis_url,
    # Through Sentinel, RedBeat's own options name the sentinels; empty otherwise (set explicitly,
    # so RedBeat does not fall back to reading broker_transport_options).
    redbeat_redis_options=settings.redis.redbeat_redis_options,
    redbeat_key_prefix=f"{settings.redis.prefix}redbeat:",
    beat_max_loop_interval=max(1, min(60, int(settings.intake.sweep_interval))),
    timezone="UTC",
)
