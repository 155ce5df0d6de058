"""The raw ceiling for bench/throughput.py: a 3-task Celery chain plus a chord, doing no work.

Configured like the fleet's app (JSON, acks_late, prefetch 1, Redis broker and result backend
with a key prefix), so the only difference from the fleet is the work itself:

    BENCH_REDIS_URL=redis://... BENCH_REDIS_PREFIX=p: celery -A noop_chain worker --autoscale=50,10
"""

from __future__ import annotations

import os

from celery import Celery, chain, chord

redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
prefix = {"global_keyprefix": os.environ.get("BENCH_REDIS_PREFIX", "noop:")}

app = Celery("noop_chain", broker=redis_url, backend=redis_url)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    broker_transport_options=prefix,
    result_backend_transport_options=prefix,
    worker_send_task_events=True,
    task_send_sent_event=True,
    result_expires=3600,
    broker_connection_retry_on_startup=True,
)


@app.task(name="noop.first")
def first(ticket_id: int) -> dict:
    return {"ticket_id": ticket_id}


@app.task(name="noop.second")
def second(work: dict) -> dict:
    return work


@app.task(name="noop.third")
def third(work: dict) -> dict:
    return work


@app.task(name="noop.summarize")
def summarize(results: list) -> int:
    return len(results)


def dispatch(tickets: int):
    """chord([first -> second -> third per ticket], summarize), as the fleet's small runs are built."""
    return chord([chain(first.s(i), second.s(), third.s()) for i in range(tickets)])(summarize.s())
