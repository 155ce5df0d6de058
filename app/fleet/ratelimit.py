"""Quotas shared by every process on every host: token buckets in Redis, updated atomically.

Celery's `rate_limit` counts per worker process, and Zendesk and OpenAI count per account, so
the fleet takes a token from a bucket in Redis before each call. A Lua script makes the
take-or-wait decision atomic, and uses Redis's clock so hosts with skewed clocks agree.

A provider's limit of N per window W, enforced over any sliding window, is kept by a bucket of
capacity B (a small burst) refilled at (N - B) / (W + D) per second: at most B + (N - B) = N
tokens are taken in any W + D seconds, so at most N calls reach the provider in any W seconds
even when a call arrives up to D seconds after its token was taken (a busy host, a slow network).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Every script below works on one bucket: KEYS[1], a hash of `tokens` and `ts` (ms on Redis's
# clock). ARGV[1] is its capacity, ARGV[2] its refill per second, ARGV[4] the key's ttl in ms.
# The bucket as it stands now, refilled since it was last touched, and how it is stored back:
REFILLED = """
redis.replicate_commands()
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or capacity
local ts = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - ts) * rate / 1000)
"""
STORE = """
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
"""

# Takes ARGV[3] tokens if there are that many plus ARGV[5] left over (the reserve only the intake
# lane may use; never more than the bucket holds). Returns {granted, wait_ms}.
TAKE_SCRIPT = (
    REFILLED
    + """
local cost = tonumber(ARGV[3])
local need = math.min(capacity, cost + tonumber(ARGV[5] or '0'))
local granted = 0
local wait = 0
if tokens >= need then
  tokens = tokens - cost
  granted = 1
else
  wait = math.ceil((need - tokens) * 1000 / rate)
end
"""
    + STORE
    + "return {granted, wait}"
)

# Lowers the bucket to ARGV[3], what the provider says is left (never raises it).
CLAMP_SCRIPT = REFILLED + "tokens = math.min(tokens, tonumber(ARGV[3]))\n" + STORE + "return 1"

# Gives tokens back (capped at capacity) when a later bucket of the same call refused.
REFUND_SCRIPT = """
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
if tokens then
  redis.call('HSET', KEYS[1], 'tokens', tostring(math.min(tonumber(ARGV[1]), tokens + tonumber(ARGV[2]))))
end
return 1
"""

# Seconds a call may wait for its process's turn at the buckets before the wait is counted: less is
# another thread's Redis round trip, not the limiter holding it back.
TURN_WAIT_COUNTED = 0.05

DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
DURATION_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str | None) -> float | None:
    """Seconds in a duration as OpenAI's x-ratelimit-reset-* headers write it ("6m0s", "120ms")."""
    if not text:
        return None
    parts = DURATION_RE.findall(text.strip())
    if not parts or "".join(f"{n}{u}" for n, u in parts) != text.strip():
        return None
    return sum(float(number) * DURATION_UNITS[unit] for number, unit in parts)


@dataclass(frozen=True)
class Quota:
    """N calls (or tokens) per `window` seconds."""

    name: str
    limit: float
    window: float = 60.0
    burst_share: float = 0.1
    # Caps the burst at this many seconds of the limit's pace (None: no cap). A large plan's 10%
    # is minutes' worth of calls at once, and the bucket's refill stays 10% under the plan for good.
    burst_seconds: float | None = None
    # ... but never below one call's largest cost: a call bigger than the bucket is charged only
    # the bucket (see take), so too small a bucket would let big calls through under-counted.
    min_capacity: float = 1.0
    # D above: seconds a call may take from its token to the provider. One second costs 1.6% of
    # a 60 s window's rate, and keeps a loaded 2-core host from ever meeting a 429.
    delay_allowance: float = 1.0
    # The share of the bucket a backlog leaves for the intake lane (app.fleet.lanes): a new ticket's
    # call finds tokens at once while a backlog keeps the bucket near empty.
    reserve_share: float = 0.1

    @property
    def reserve(self) -> float:
        """Tokens a backlog call must leave in the bucket: a tenth of it, at least one call's worth
        where the bucket holds two."""
        return max(self.capacity * self.reserve_share, min(1.0, self.capacity / 2))

    @property
    def capacity(self) -> float:
        burst = self.limit * self.burst_share
        if self.burst_seconds is not None:
            burst = max(min(burst, self.limit * self.burst_seconds / self.window), min(self.min_capacity, burst))
        return max(1.0, burst)

    @property
    def refill_per_second(self) -> float:
        spare = self.limit - self.capacity
        # A limit no larger than the one-call burst (say half a call a minute, a small share of a
        # small plan) refills at the limit's own pace instead of never.
        return (spare if spare > 0 else self.limit) / (self.window + self.delay_allowance)


class SharedRateLimiter:
    """Token buckets in Redis. `take` answers 0 when granted, else the seconds to wait."""

    def __init__(self, client: Any, prefix: str = "", waited: Callable[[str, float], None] | None = None) -> None:
        self.redis = client
        self.prefix = prefix
        # waited(bucket name, seconds): told each time a caller slept or queued in place for a
        # bucket's tokens (app.fleet.meters: triage_limiter_wait_seconds_total).
        self.waited = waited
        # Threads of one process that want the same quotas take turns (see acquire).
        self._turns: dict[tuple[str, ...], threading.Lock] = {}
        self._turns_lock = threading.Lock()
        self._take = client.register_script(TAKE_SCRIPT)
        self._refund = client.register_script(REFUND_SCRIPT)
        self._clamp = client.register_script(CLAMP_SCRIPT)

    def _key(self, quota: Quota) -> str:
        return f"{self.prefix}ratelimit:{quota.name}"

    def take(self, quota: Quota, cost: float = 1.0, priority: bool = False) -> float:
        """Take `cost` tokens now (0) or say how long until they are there. Without `priority` the
        bucket's reserve must stay in it."""
        if quota.limit <= 0:
            return 0.0  # no limit configured
        cost = min(cost, quota.capacity)  # a request bigger than the burst waits for a full bucket
        ttl_ms = int(2000 * quota.window)
        reserve = 0.0 if priority else quota.reserve
        granted, wait_ms = self._take(
            keys=[self._key(quota)], args=[quota.capacity, quota.refill_per_second, cost, ttl_ms, reserve]
        )
        return 0.0 if int(granted) else int(wait_ms) / 1000

    def refund(self, quota: Quota, cost: float = 1.0) -> None:
        if quota.limit > 0:
            self._refund(keys=[self._key(quota)], args=[quota.capacity, min(cost, quota.capacity)])

    def clamp(self, quota: Quota, available: float) -> None:
        """The provider says only `available` is left in its window: take no more than that now."""
        if quota.limit > 0:
            self._clamp(
                keys=[self._key(quota)],
                args=[quota.capacity, quota.refill_per_second, max(0.0, available), int(2000 * quota.window)],
            )

    def _waited(self, quota: Quota, seconds: float) -> None:
        if self.waited is not None:
            self.waited(quota.name, seconds)

    def _turn(self, quotas: list[tuple[Quota, float]], priority: bool) -> threading.Lock:
        key = (*(quota.name for quota, _ in quotas), "priority" if priority else "")
        with self._turns_lock:
            return self._turns.setdefault(key, threading.Lock())

    def acquire(self, quotas: list[tuple[Quota, float]], max_sleep: float, priority: bool = False) -> float:
        """Take from every bucket, sleeping through short waits; returns 0 when all were granted,
        else the wait (> max_sleep) the caller should turn into a countdown retry. When a bucket
        refuses, the tokens already taken for this call go back.

        On a thread pool, a hundred threads may want the LLM quota at once. They take turns, one
        at a time per process: the one whose turn it is asks Redis and sleeps until its tokens are
        due, the others wait on the lock without a CPU cycle or a Redis call, instead of all
        waking when a token is due and all but one asking in vain. `priority` calls (the intake
        lane) take turns of their own and may use the buckets' reserve."""
        started = time.monotonic()
        deadline = started + max_sleep
        turn = self._turn(quotas, priority)
        # A turn is at most a Redis round trip, or a sleep no longer than its holder's max_sleep.
        got_turn = turn.acquire(timeout=max_sleep + 1.0)
        queued = time.monotonic() - started
        if queued > TURN_WAIT_COUNTED and quotas:
            # Waiting for the turn is waiting for the tokens the holder sleeps for: counted
            # against the call's first bucket.
            self._waited(quotas[0][0], queued)
        if not got_turn:
            return max(max_sleep, 1.0)  # still busy: the caller comes back later
        try:
            taken: list[tuple[Quota, float]] = []
            for quota, cost in quotas:
                while True:
                    wait = self.take(quota, cost, priority)
                    if wait == 0:
                        taken.append((quota, cost))
                        break
                    if time.monotonic() + wait > deadline:
                        for earlier, earlier_cost in taken:
                            self.refund(earlier, earlier_cost)
                        return wait
                    time.sleep(wait)
                    self._waited(quota, wait)
            return 0.0
        finally:
            turn.release()
