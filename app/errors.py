"""The one base every "try again later" error shares, and the one countdown every task retries with,
so a task decides retry-or-record the same way whichever service asked it to wait."""

from __future__ import annotations

import random


class TryLater(Exception):
    """The call may succeed if made again after `retry_after` seconds (a rate limit, an open
    breaker, a job still running, a configuration fault an operator is expected to fix).
    Waiting out one of these never uses up a retry budget: it always passes."""

    def __init__(self, message: str = "", retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def retry_countdown(error: BaseException, failures: int, cap: float) -> float:
    """Seconds before a retry: the wait a TryLater asked for, else exponential backoff on the
    failures so far. Jitter spreads the herd, so a freed slot is not met by every waiting task
    at once."""
    if isinstance(error, TryLater):
        base = error.retry_after
        return min(cap, base + random.uniform(0, max(5.0, base)))
    base = min(cap, 5 * 2**failures)
    return base * random.uniform(0.75, 1.25)
