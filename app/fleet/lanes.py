"""Lanes: a ticket webhooks announced is served beside a backlog, never behind it.

Its tasks travel on queues of their own (app.names.INTAKE_QUEUES), and while one runs it is in the
intake lane: the shared quotas keep a reserve that only the intake lane may take, intake threads
take their own turns at the buckets (never waiting behind a backlog thread that sleeps there), and
the update_many job slots keep a few for it. A backlog still gets the whole plan over time: the
reserve refills and is taken the moment the backlog's turn comes.

The lane lives in a context variable, set around each task by workers.signals from the queue the
task came from; each thread of the I/O pool has its own.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from app.names import INTAKE_QUEUES

INTAKE = "intake"
BACKLOG = "backlog"

_lane: contextvars.ContextVar[str] = contextvars.ContextVar("triage_lane", default=BACKLOG)


def current() -> str:
    """The lane of the task running in this thread (backlog outside a task)."""
    return _lane.get()


def in_intake() -> bool:
    return _lane.get() == INTAKE


def lane_of_queue(queue: str | None) -> str:
    return INTAKE if queue in INTAKE_QUEUES else BACKLOG


def enter(queue: str | None) -> contextvars.Token[str]:
    """The lane of a task delivered from `queue`; `leave` with the token when it ends."""
    return _lane.set(lane_of_queue(queue))


def leave(token: contextvars.Token[str]) -> None:
    _lane.reset(token)


@contextmanager
def intake_lane() -> Iterator[None]:
    """Run the block in the intake lane (tests, and callers outside a task)."""
    token = _lane.set(INTAKE)
    try:
        yield
    finally:
        _lane.reset(token)
