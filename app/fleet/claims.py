"""A ticket's claim, from the sweep that finds it to its outcome, and the dead letters.

Whichever path finds a ticket (a sweep, a requeue) takes its claim (SET NX EX), so of two racing
paths on any hosts exactly one dispatches it. Every stage keeps the claim alive, also on each
retry, and the ticket's outcome (app.fleet.outcome) ends it: written tickets get the done marker,
which outlives Zendesk's search lag so a ticket just written is not swept again; failures become
dead letters that sweeps skip until they are requeued.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from app.fleet.replies import members


def claim_owner() -> str:
    """The claim value: which host and process claimed a ticket."""
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(eq=False)  # compared and hashed by identity, as before
class Claims:
    """Claims and done markers: `ticket:<id>:claim`, `ticket:<id>:done` (keys in app.fleet)."""

    redis: redis.Redis
    claim_ttl: int
    done_ttl: int
    prefix: str = ""

    def claim_key(self, ticket_id: int) -> str:
        return f"{self.prefix}ticket:{ticket_id}:claim"

    def done_key(self, ticket_id: int) -> str:
        return f"{self.prefix}ticket:{ticket_id}:done"

    def dead_key(self, ticket_id: int) -> str:
        return f"{self.prefix}ticket:{ticket_id}:dead"

    def take(self, ticket_id: int, owner: str | None = None) -> bool:
        """True when this caller now owns the ticket; False when someone else does."""
        return bool(self.redis.set(self.claim_key(ticket_id), owner or claim_owner(), nx=True, ex=self.claim_ttl))

    def keep_alive(self, ticket_id: int) -> None:
        """Extend a claim while its ticket is still being worked on (a stage starts or retries)."""
        self.redis.expire(self.claim_key(ticket_id), self.claim_ttl)  # no-op when there is no claim

    def note_key(self, ticket_id: int) -> str:
        return f"{self.prefix}ticket:{ticket_id}:note"

    def begin_note(self, ticket_id: int, run_id: str) -> bool:
        """Mark that a note-only write (suggest mode) is about to be sent; False when an earlier
        attempt was marked, which may have landed."""
        return bool(self.redis.set(self.note_key(ticket_id), run_id, nx=True, ex=self.done_ttl))

    def is_done(self, ticket_id: int) -> bool:
        return bool(self.redis.exists(self.done_key(ticket_id)))

    def finish(self, ticket_id: int, written: bool) -> None:
        """End the claim; a ticket Zendesk now holds as processed gets the done marker first."""
        pipe = self.redis.pipeline()
        if written:
            pipe.set(self.done_key(ticket_id), str(int(time.time())), ex=self.done_ttl)
        pipe.delete(self.claim_key(ticket_id), self.note_key(ticket_id))
        pipe.execute()

    def unavailable(self, ticket_ids: Iterable[int], include_claims: bool = True) -> set[int]:
        """The ids among `ticket_ids` that are done, dead-lettered (or claimed), in one round trip."""
        ids = list(ticket_ids)
        if not ids:
            return set()
        pipe = self.redis.pipeline(transaction=False)
        for ticket_id in ids:
            keys = [self.done_key(ticket_id), self.dead_key(ticket_id)]
            if include_claims:
                keys.append(self.claim_key(ticket_id))
            pipe.exists(*keys)
        return {ticket_id for ticket_id, count in zip(ids, pipe.execute()) if count}


class DeadLetters:
    """Tickets that failed for good, with the stage and the reason, until someone requeues them."""

    def __init__(self, claims: Claims) -> None:
        self.claims = claims
        self.redis = claims.redis
        self.index = f"{claims.prefix}dead:index"

    def add(self, ticket_id: int, stage: str, reason: str, run_id: str) -> None:
        entry = {
            "ticket_id": ticket_id,
            "stage": stage,
            "reason": reason,
            "run_id": run_id,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        pipe = self.redis.pipeline()
        pipe.set(self.claims.dead_key(ticket_id), json.dumps(entry))
        pipe.zadd(self.index, {str(ticket_id): time.time()})
        pipe.execute()

    def entries(self) -> list[dict[str, Any]]:
        """Every dead letter, oldest first."""
        ids = [int(member) for member in members(self.redis.zrange(self.index, 0, -1))]
        if not ids:
            return []
        raws = self.redis.mget([self.claims.dead_key(i) for i in ids])
        return [json.loads(raw) for raw in raws if raw]

    def remove(self, ticket_ids: Iterable[int]) -> None:
        ids = list(ticket_ids)
        if ids:
            pipe = self.redis.pipeline()
            pipe.delete(*[self.claims.dead_key(i) for i in ids])
            pipe.zrem(self.index, *[str(i) for i in ids])
            pipe.execute()
