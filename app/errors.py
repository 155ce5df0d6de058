"""The one base every "try again later" error shares, so a task decides retry-or-record the same
way whichever service asked it to wait."""

from __future__ import annotations


class TryLater(Exception):
    """The call may succeed if made again after `retry_after` seconds (a rate limit, an open
    breaker, a job still running, a configuration fault an operator is expected to fix).
    Waiting out one of these never uses up a retry budget: it always passes."""

    def __init__(self, message: str = "", retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
