"""Every queue and task name of the fleet, written once; Celery's routes are derived from them.

One queue per kind of work, so hosts can specialise (`-Q redact` on big CPUs, `-Q zendesk` near
the quota) while a plain `celery -A app worker` consumes them all. Tickets webhooks announce have
their own two (intake for their CPU work, intake_io for their waiting work), so a new ticket never
queues behind a backlog's tasks, and the fleet's shared quotas and job slots keep a reserve for
them (app.fleet.lanes).
"""

from __future__ import annotations

from enum import StrEnum


class Queue(StrEnum):
    INTAKE = "intake"
    INTAKE_IO = "intake_io"
    SWEEP = "sweep"
    REDACT = "redact"
    CLASSIFY = "classify"
    ZENDESK = "zendesk"


class Task(StrEnum):
    """Task names as Flower, the logs and `celery inspect` show them."""

    SWEEP = "triage.sweep"
    INTAKE = "triage.intake"
    WATCHDOG = "triage.watchdog"
    SUMMARIZE = "triage.summarize"
    REDACT = "triage.redact"
    REDACT_BATCH = "triage.redact_batch"
    CLASSIFY = "triage.classify"
    UPDATE = "triage.update"
    UPDATE_BATCH = "triage.update_batch"
    BACKFILL = "triage.backfill"

    @property
    def queue(self) -> Queue:
        return TASK_QUEUES[self]


TASK_QUEUES = {
    Task.SWEEP: Queue.SWEEP,
    Task.INTAKE: Queue.INTAKE,
    Task.WATCHDOG: Queue.SWEEP,
    Task.SUMMARIZE: Queue.SWEEP,
    Task.REDACT: Queue.REDACT,
    Task.REDACT_BATCH: Queue.REDACT,
    Task.CLASSIFY: Queue.CLASSIFY,
    Task.UPDATE: Queue.ZENDESK,
    Task.UPDATE_BATCH: Queue.ZENDESK,
    Task.BACKFILL: Queue.REDACT,
}
ROUTES = {str(task): {"queue": str(task.queue)} for task in Task}

# The workers of a host (docs/scaling-out.md, "Two pools"): CPU work on a prefork pool that shares the spaCy
# model across its children; waiting work (the LLM's seconds, Zendesk's job polls) on a thread pool
# of hundreds, each thread costing a stack rather than a process; and a small thread pool for new
# tickets' waiting work alone. A backlog that waits on its quota fills every thread of the I/O
# worker, and a full worker fetches its next message only every second or two (kombu polls while
# Celery's prefetch window is full): new tickets need threads no backlog can take. The I/O worker
# takes intake_io too, so a host without the intake worker still serves it, only slower.
CPU_QUEUES = (Queue.SWEEP, Queue.INTAKE, Queue.REDACT)
IO_QUEUES = (Queue.INTAKE_IO, Queue.CLASSIFY, Queue.ZENDESK)
INTAKE_IO_QUEUES = (Queue.INTAKE_IO,)
INTAKE_THREADS = 32
# Announced tickets' queues: their waiting work (classify, update, summarize) goes to the I/O twin
# of the queue their CPU work goes to.
IO_TWIN = {Queue.INTAKE: Queue.INTAKE_IO}
INTAKE_QUEUES = frozenset({Queue.INTAKE, Queue.INTAKE_IO})
IO_THREADS = 200
