"""The fleet's state in Redis besides claims: the shared pauses, configuration faults, update_many
job records and slots, and runs. Every key is listed in app/fleet/__init__.py."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import redis

from app.clients.zendesk_auth import StoredToken
from app.domain.summary import RunSummary
from app.fleet import lanes
from app.fleet.replies import members, scored, text
from app.fleet.writeback import JobRecord

RUNS_KEPT = 500
RUN_TTL = 90 * 24 * 3600


class RedisPauseGate:
    """A pause every Zendesk client honours once any of them saw a 429 with Retry-After."""

    def __init__(self, client: redis.Redis, key: str = "zendesk:paused") -> None:
        self.redis = client
        self.key = key

    def remaining(self) -> float:
        ttl_ms = self.redis.pttl(self.key)
        return ttl_ms / 1000 if ttl_ms and ttl_ms > 0 else 0.0

    def pause(self, seconds: float) -> None:
        # Keep the longest pause when processes report different Retry-After values. Read then
        # write is racy but harmless: the worst case is a pause a little shorter than the longest.
        # (PEXPIRE GT would be atomic but needs Redis 7; the embedded server is 6.2.)
        millis = max(1, int(seconds * 1000))
        if self.redis.pttl(self.key) < millis:
            self.redis.set(self.key, "1", px=millis)


class LanePauseGate:
    """Two pauses of one service: `pause` (a 429: the service refused, every lane waits) and
    `pause_backlog` (its headers say the quota is nearly spent: the backlog waits for the reset,
    while the intake lane goes on as the shared bucket, lowered to what the service says is left,
    allows; app.fleet.lanes)."""

    def __init__(self, client: redis.Redis, key: str) -> None:
        self.everyone = RedisPauseGate(client, key)
        self.backlog = RedisPauseGate(client, f"{key}:backlog")

    def remaining(self) -> float:
        if lanes.in_intake():
            return self.everyone.remaining()
        return max(self.everyone.remaining(), self.backlog.remaining())

    def pause(self, seconds: float) -> None:
        self.everyone.pause(seconds)

    def pause_backlog(self, seconds: float) -> None:
        self.backlog.pause(seconds)


class ProcessPauseGate:
    """A service's pauses as a command a person runs sees them: it honours the fleet's (a 429 the
    fleet met holds for the whole account), but one it meets itself pauses only this process."""

    def __init__(self, fleet: LanePauseGate) -> None:
        self.fleet = fleet
        self.until = 0.0  # time.monotonic() when this process's own pause ends

    def remaining(self) -> float:
        return max(self.fleet.remaining(), self.until - time.monotonic())

    def pause(self, seconds: float) -> None:
        self.until = max(self.until, time.monotonic() + seconds)

    def pause_backlog(self, seconds: float) -> None:
        self.pause(seconds)  # one process has no lanes


class FaultRecord:
    """A configuration fault every process sees while it lasts (e.g. `llm:fault`): set when a
    request is refused for what every request carries, cleared by the next request that succeeds."""

    TTL = 7 * 24 * 3600

    def __init__(self, client: redis.Redis, key: str) -> None:
        self.redis = client
        self.key = key

    def get(self) -> str | None:
        raw = self.redis.get(self.key)
        return raw.decode() if isinstance(raw, bytes) else raw

    def record(self, reason: str) -> None:
        self.redis.set(self.key, reason, ex=self.TTL)

    def clear(self) -> None:
        self.redis.delete(self.key)


# Deletes KEYS[1] only while its field (ARGV[1]) still holds ARGV[2]: a process that found a token
# refused, or a renewer whose lock expired, never removes what another process put there since.
DELETE_IF_SCRIPT = """
if redis.call('TYPE', KEYS[1]).ok == 'hash' then
  if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('DEL', KEYS[1]) end
elseif redis.call('GET', KEYS[1]) == ARGV[2] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class SharedTokenStore:
    """The fleet's one Zendesk OAuth access token (`zendesk:oauth:token`, a hash that expires with
    the token) and the lock its renewer holds (`zendesk:oauth:renewing`). Every process on every
    host uses the same token, so the token endpoint sees about one request per token lifetime,
    whatever the size of the fleet (app.clients.zendesk_auth)."""

    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.redis = client
        self.key = f"{prefix}zendesk:oauth:token"
        self.lock_key = f"{prefix}zendesk:oauth:renewing"
        self._delete_if = client.register_script(DELETE_IF_SCRIPT)

    def get(self) -> StoredToken | None:
        raw = self.redis.hgetall(self.key)
        if not raw:
            return None
        fields = {text(key): text(value) for key, value in raw.items()}
        try:
            return StoredToken(fields["value"], float(fields["expires_at"]), float(fields["lifetime"]))
        except (KeyError, ValueError):
            return None

    def put(self, token: StoredToken) -> None:
        ttl_ms = max(1, int((token.expires_at - time.time()) * 1000))
        pipe = self.redis.pipeline()
        pipe.delete(self.key)
        pipe.hset(
            self.key,
            mapping={"value": token.value, "expires_at": repr(token.expires_at), "lifetime": repr(token.lifetime)},
        )
        pipe.pexpire(self.key, ttl_ms)
        pipe.execute()

    def discard(self, value: str) -> None:
        self._delete_if(keys=[self.key], args=["value", value])

    def lock(self, holder: str, seconds: float) -> bool:
        return bool(self.redis.set(self.lock_key, holder, nx=True, px=max(1, int(seconds * 1000))))

    def unlock(self, holder: str) -> None:
        self._delete_if(keys=[self.lock_key], args=["", holder])


class BulkJobLog:
    """Which update_many job each batch round sent, and when, so a retried batch follows that job
    instead of sending another. The record is written before the request goes out (without a job
    id) and again with the id once Zendesk answered: a record without an id is a job that may exist.
    Kept a day: Zendesk keeps job statuses an hour or so; past that the tickets are read back."""

    TTL = 24 * 3600

    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.redis = client
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return f"{self.prefix}bulkjob:{key}"

    def get(self, key: str) -> JobRecord | None:
        raw = self.redis.get(self._key(key))
        return JobRecord(**json.loads(raw)) if raw else None

    def put(self, key: str, record: JobRecord) -> None:
        self.redis.set(self._key(key), json.dumps(dataclasses.asdict(record)), ex=self.TTL)

    def forget(self, key: str) -> None:
        self.redis.delete(self._key(key))


# KEYS[1]: sorted set of holders scored by expiry (ms). ARGV: holder, limit (the slots this caller
# may fill: the backlog leaves the intake lane's reserve), hold ms.
# Returns 1 when the holder has (or already had) a slot. Expired holders (a worker that died with a
# job in flight) free their slot by themselves.
ACQUIRE_SLOT_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
return 1
"""


class JobSlots:
    """A fleet-wide cap on update_many jobs queued or running at once: Zendesk allows an account 30
    and answers 429 beyond them. A slot is held from just before a job is sent until it is seen
    finished; `hold` seconds bound it, so a dead worker's slot comes back by itself. A backlog
    leaves `reserve` slots (a fifth of them, at most 3) to the intake lane (app.fleet.lanes)."""

    def __init__(self, client: redis.Redis, limit: int, prefix: str = "") -> None:
        self.redis = client
        self.limit = limit
        self.reserve = min(3, limit // 5)
        self.key = f"{prefix}zendesk:jobs"
        self._acquire = client.register_script(ACQUIRE_SLOT_SCRIPT)

    def acquire(self, holder: str, hold: float) -> bool:
        limit = self.limit if lanes.in_intake() else self.limit - self.reserve
        return bool(self._acquire(keys=[self.key], args=[holder, limit, max(1, int(hold * 1000))]))

    def release(self, holder: str) -> None:
        self.redis.zrem(self.key, holder)


class RunStore:
    """Run metadata, progress counters and summaries, for `python -m app runs` and `--wait`."""

    def __init__(self, client: redis.Redis, prefix: str = "") -> None:
        self.redis = client
        self.prefix = prefix

    def _key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def start(self, run_id: str, total: int, dry_run: bool, started_at: float) -> None:
        pipe = self.redis.pipeline()
        pipe.hset(
            self._key("run", run_id),
            mapping={"total": total, "dry_run": int(dry_run), "started_at": started_at},
        )
        pipe.expire(self._key("run", run_id), RUN_TTL)
        pipe.zadd(self._key("runs"), {run_id: started_at})
        pipe.zremrangebyrank(self._key("runs"), 0, -RUNS_KEPT - 1)
        pipe.execute()

    def meta(self, run_id: str) -> dict[str, Any]:
        raw = self.redis.hgetall(self._key("run", run_id))
        return {text(k): text(v) for k, v in raw.items()}

    def ticket_finished(self, run_id: str) -> None:
        pipe = self.redis.pipeline()
        pipe.incr(self._key("run", run_id, "finished"))
        pipe.expire(self._key("run", run_id, "finished"), RUN_TTL)
        pipe.execute()

    def progress(self, run_id: str) -> tuple[int, int]:
        """(tickets finished, tickets in the run)."""
        finished = int(self.redis.get(self._key("run", run_id, "finished")) or 0)
        total = int(self.meta(run_id).get("total", 0))
        return finished, total

    def save_summary(self, summary: RunSummary) -> None:
        self.redis.set(self._key("run", summary.id, "summary"), summary.model_dump_json(), ex=RUN_TTL)

    def summary(self, run_id: str) -> RunSummary | None:
        raw = self.redis.get(self._key("run", run_id, "summary"))
        return RunSummary.model_validate_json(raw) if raw else None

    def save_agent_override(self, measured: dict[str, Any]) -> None:
        """The agent override rate as `train --from-zendesk` measured it (kept until measured again)."""
        self.redis.set(self._key("learn", "override"), json.dumps(measured))

    def agent_override(self) -> dict[str, Any] | None:
        raw = self.redis.get(self._key("learn", "override"))
        return json.loads(raw) if raw else None

    def mark_sweep(self) -> None:
        """Every sweep, even one that found nothing: how `health` sees that beat is alive."""
        self.redis.set(self._key("sweep", "last"), str(time.time()), ex=RUN_TTL)

    def last_sweep(self) -> float | None:
        raw = self.redis.get(self._key("sweep", "last"))
        return float(raw) if raw else None

    def mark_completed(self, only_if_missing: bool = False) -> float:
        """A run finished (or a sweep found nothing to do): what the stalled-fleet alert watches."""
        now = time.time()
        self.redis.set(self._key("run", "completed", "last"), str(now), ex=RUN_TTL, nx=only_if_missing)
        return now

    def last_completed(self) -> float | None:
        raw = self.redis.get(self._key("run", "completed", "last"))
        return float(raw) if raw else None

    def last_run(self) -> float | None:
        """When the newest run started."""
        newest = scored(self.redis.zrevrange(self._key("runs"), 0, 0, withscores=True))
        return newest[0][1] if newest else None

    def run_ids_since(self, since: float) -> list[str]:
        """Ids of runs started at or after `since` (epoch seconds), oldest first."""
        return members(self.redis.zrangebyscore(self._key("runs"), since, "+inf"))

    def recent(self, limit: int = 20) -> list[RunSummary]:
        """Summaries of finished runs, newest first."""
        run_ids = members(self.redis.zrevrange(self._key("runs"), 0, limit * 2))
        summaries = []
        for run_id in run_ids:
            summary = self.summary(run_id)
            if summary is not None:
                summaries.append(summary)
            if len(summaries) >= limit:
                break
        return summaries
