"""Sliding-window rate limiting, as both simulators count their budgets."""

from __future__ import annotations

import math
from collections import deque


class SlidingWindow:
    """Weighted moments of admitted requests within the last window.

    A weight of 1 counts requests; a weight of a request's tokens counts tokens. Limit and
    window come with every call because both can change at run time.
    """

    def __init__(self) -> None:
        self._entries: deque[tuple[float, int]] = deque()
        self._total = 0

    def _forget_before(self, horizon: float) -> None:
        while self._entries and self._entries[0][0] <= horizon:
            self._total -= self._entries.popleft()[1]

    def wait_for_slot(self, now: float, limit: int, window: float, weight: int = 1) -> float:
        """Seconds until ``weight`` more fits (0 when it fits now, infinity when it never will)."""
        self._forget_before(now - window)
        must_leave = self._total + weight - limit
        if must_leave <= 0:
            return 0.0
        if weight > limit:
            return math.inf
        # It fits once enough of the oldest weight has left the window.
        left = 0
        for moment, entry_weight in self._entries:
            left += entry_weight
            if left >= must_leave:
                return moment + window - now
        raise AssertionError("unreachable: the whole window always frees enough")

    def record(self, now: float, weight: int = 1) -> None:
        """Count an admitted request (with its weight) at ``now``."""
        self._entries.append((now, weight))
        self._total += weight

    def remaining(self, now: float, limit: int, window: float) -> int:
        """How much of the limit is still free."""
        self._forget_before(now - window)
        return max(0, limit - self._total)

    def reset_after(self, now: float, window: float) -> float:
        """Seconds until the oldest counted request leaves the window."""
        self._forget_before(now - window)
        return self._entries[0][0] + window - now if self._entries else 0.0
