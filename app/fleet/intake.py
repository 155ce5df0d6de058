"""Tickets announced by webhooks, between the receiver and the worker that claims them.

The receiver only records the id (`intake:pending`, a sorted set by arrival, so a ticket announced
three times before a worker gets to it waits once) and sends one triage.intake task; the task takes
everything pending and claims it through the same sweep as beat's (app.fleet.sweep), so webhooks,
sweeps and requeues share one ledger. A worker that dies between taking and claiming loses no
ticket for good: nothing is claimed yet, so the next sweep finds it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable

import redis

from app.fleet.replies import scored, text


class IntakeQueue:
    """`intake:pending`, `intake:seen:<digest>` and `intake:stats` (keys in app.fleet)."""

    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.redis = client
        self.pending_key = f"{prefix}intake:pending"
        self.stats_key = f"{prefix}intake:stats"
        self.prefix = prefix

    def _seen_key(self, delivery: str) -> str:
        return f"{self.prefix}intake:seen:{hashlib.sha256(delivery.encode()).hexdigest()[:32]}"

    def first_sight(self, delivery: str, remember_for: int) -> bool:
        """True the first time a delivery (any string naming it: the receiver uses its signature)
        is seen within `remember_for` seconds; False for a repeat of it."""
        return bool(self.redis.set(self._seen_key(delivery), "1", nx=True, ex=remember_for))

    def forget_sight(self, delivery: str) -> None:
        """The delivery could not be accepted: a repeat of it must then be taken."""
        self.redis.delete(self._seen_key(delivery))

    def add(self, ticket_id: int) -> bool:
        """Record a ticket as announced; False when it is already waiting."""
        return bool(self.redis.zadd(self.pending_key, {str(ticket_id): time.time()}, nx=True))

    def take(self, limit: int) -> list[int]:
        """Up to `limit` waiting tickets, oldest first, removed from the waiting set."""
        return [int(member) for member, _ in scored(self.redis.zpopmin(self.pending_key, limit))]

    def put_back(self, ticket_ids: Iterable[int]) -> None:
        """Tickets taken but not claimed (Zendesk could not be read): they wait for the next take."""
        ids = {str(ticket_id): time.time() for ticket_id in ticket_ids}
        if ids:
            self.redis.zadd(self.pending_key, ids, nx=True)

    def waiting(self) -> int:
        return int(self.redis.zcard(self.pending_key))

    def oldest_since(self) -> float | None:
        """When the ticket waiting longest was announced (epoch seconds); None when none waits."""
        oldest = scored(self.redis.zrange(self.pending_key, 0, 0, withscores=True))
        return oldest[0][1] if oldest else None

    def count(self, outcome: str, amount: int = 1) -> None:
        """Count a delivery's or an announced ticket's outcome (shown by `python -m app health`)."""
        if amount:
            self.redis.hincrby(self.stats_key, outcome, amount)

    def stats(self) -> dict[str, int]:
        return {text(key): int(value) for key, value in self.redis.hgetall(self.stats_key).items()}
