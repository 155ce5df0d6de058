"""The one base every "try again later" error shares, the one countdown every task retries with,
so a task decides retry-or-record the same way whichever service asked it to wait, and the one
in-process wait for commands a person runs."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class TryLater(Exception):
    """The call may succeed if made again after `retry_after` seconds (a rate limit, an open
    breaker, a job still running, a configuration fault an operator is expected to fix).
    Waiting out one of these never uses up a retry budget: it always passes.

    `needs_operator`: it passes only once someone fixes the configuration. A worker waits for that;
    a command a person runs says so and stops (waiting_out)."""

    needs_operator = False

    def __init__(self, message: str = "", retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def waiting_out(call: Callable[[], T], patience: float | None = None, shortest_wait: float = 0.2) -> T:
    """Run `call` in this process, waiting out every TryLater (a quota, a 429, an open breaker) and
    calling again, for as long as `patience` seconds allow (None: as long as it takes; past it the
    TryLater is raised). A configuration fault is raised at once: the person running the command is
    the one to fix it. For commands a person runs; tasks retry with a countdown instead."""
    deadline = None if patience is None else time.monotonic() + patience
    while True:
        try:
            return call()
        except TryLater as e:
            if e.needs_operator or (deadline is not None and time.monotonic() + e.retry_after > deadline):
                raise
            time.sleep(max(e.retry_after, shortest_wait))


def retry_countdown(error: BaseException, failures: int, cap: float, prompt: bool = False) -> float:
    """Seconds before a retry: the wait a TryLater asked for, else exponential backoff on the
    failures so far. Jitter spreads the herd, so a freed slot is not met by every waiting task
    at once; `prompt` (a new ticket's task, app.fleet.lanes) keeps it under a second: a few
    tickets are no herd, and the seconds are theirs."""
    if isinstance(error, TryLater):
        base = error.retry_after
        return min(cap, base + random.uniform(0, min(1.0, base) if prompt else max(5.0, base)))
    base = min(cap, 5 * 2**failures)
    return base * random.uniform(0.75, 1.25)


class BudgetHeld(Exception):
    """The daily LLM budget (app.fleet.budget) has room for a request by what the day has spent,
    but requests in flight hold it until they settle: ask again in a moment."""
