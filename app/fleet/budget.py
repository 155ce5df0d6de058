"""The fleet's daily LLM budget (LLM_DAILY_BUDGET_USD): one spend counter for every process on every
host, per UTC day, in Redis.

Every LLM request reserves its worst-case cost before it is sent and settles its real cost once it
is answered (app.clients.llm says what the worst case and the real cost are). A reservation is
granted only while the day's settled and reserved amounts plus this one stay within the budget,
checked and taken in one Lua script: however many threads, processes and hosts ask at once, what
the day can be charged never passes the budget. Refused, a request is not sent, for one of two
reasons:
- reached: what the day has spent leaves no room for one more worst case. Until midnight the
  ticket's fallback (the local model or the rules) answers, nothing is waited for or retried;
- held: what is spent leaves room, but requests in flight hold it until they settle, mostly far
  below their worst cases (a worst case is about five times a gpt-4o-mini answer). The request
  comes back in a moment (BudgetHeld), so a burst of tickets does not hand most of the day's
  budget to the rules while a few requests are answered.

One hash per UTC day, `{prefix}llm:budget:<YYYY-MM-DD>`, amounts in whole nano-dollars (integers,
so a day of HINCRBYs adds up exactly):
    settled     what answered requests cost (their usage at the model's price), plus the worst case
                of every request whose cost cannot be known (a timeout after it was sent)
    reserved    worst cases of the requests in flight, each also a member of `<day key>:inflight`
                (see _EXPIRE_LUA: one never settled counts spent at its worst case after a while)
    limit       the budget the day's last reservation was checked against
    requests    reservations granted; `refused` reached, `held` held, `expired` never settled
    warned_at   when the day's spend (settled) first reached WARN_SHARE of the budget (Unix time):
                the 80% alert's once-a-day guard
    reached_at  when a reservation was first refused as reached: the day's budget reached (the
                100% alert's)
It is kept KEEP_DAYS after its last write, so `health` and reports can show recent days.

The day is Redis's: the scripts read the server's clock (TIME), the one clock every host shares,
and name the day's key from it, so hosts whose clocks disagree around midnight still count into
one day. At 00:00 UTC a new key starts empty, and the LLM is used again. (A script that names its
own key is fine on one Redis server, with or without Sentinel, which is what the fleet runs on;
Redis Cluster would want every key passed in.)
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.errors import BudgetHeld
from app.fleet.replies import text

log = logging.getLogger(__name__)

NANOS_PER_USD = 1_000_000_000
WARN_SHARE = 0.8  # the alert before the budget is reached
KEEP_DAYS = 8
KEY_PREFIX = "llm:budget:"

# The UTC day (YYYY-MM-DD) of a Unix time, and the time now: ARGV[1] when the caller gives one (a
# test's clock), else the Redis server's. civil_from_days is Howard Hinnant's algorithm
# (https://howardhinnant.github.io/date_algorithms.html), in Lua 5.1's floating-point numbers.
_DAY_LUA = """
local function utc_day(seconds)
  local z = math.floor(seconds / 86400) + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp + 3
  if mp >= 10 then m = mp - 9 end
  local y = yoe + era * 400
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02d', y, m, d)
end
local function now(given)
  if given ~= '' then return tonumber(given) end
  local clock = redis.call('TIME')
  return tonumber(clock[1]) + tonumber(clock[2]) / 1000000
end
"""

# Requests in flight, a sorted set beside the day's hash (`<day key>:inflight`): one member
# "<id>:<nanos>" per reservation, scored by the time by which its request must have ended (sent,
# answered or timed out: LLM_TIMEOUT and a margin). One whose owner never settled it (a worker killed
# mid-request) is counted spent at its worst case once that time passes, so a leaked reservation
# holds the budget for a minute, not until midnight, and never lets the day pass the budget.
# `release` moves one reservation to the settled amount, at `cost` (nil: its worst case), never
# taking `reserved` below zero: a day Redis lost while a request was in flight is not handed that
# reservation as room. Settling and expiring both go through it.
_EXPIRE_LUA = """
local function release(key, member, cost)
  local nanos = tonumber(string.match(member, ':(%d+)$'))
  local reserved = tonumber(redis.call('HGET', key, 'reserved') or '0')
  local freed = math.min(nanos, reserved)
  if freed > 0 then redis.call('HINCRBY', key, 'reserved', string.format('%d', -freed)) end
  return tonumber(redis.call('HINCRBY', key, 'settled', string.format('%d', cost or nanos)))
end
local function expire_inflight(key, t)
  local inflight = key .. ':inflight'
  for _, member in ipairs(redis.call('ZRANGEBYSCORE', inflight, '-inf', t)) do
    release(key, member, nil)
    redis.call('HINCRBY', key, 'expired', 1)
    redis.call('ZREM', inflight, member)
  end
end
"""

# Today's day key from KEYS[1], the key prefix, on the clock ARGV[1] gives ('' for Redis's), its
# requests in flight that outlived their time already counted spent: what reserving and reading start with.
_TODAY_LUA = (
    _DAY_LUA
    + _EXPIRE_LUA
    + """
local t = now(ARGV[1])
local day = utc_day(t)
local key = KEYS[1] .. day
expire_inflight(key, t)
"""
)

# KEYS[1]: the key prefix (`{prefix}llm:budget:`). ARGV: now ('' for Redis's clock), the worst case
# (nanos), the budget (nanos), the 80% mark (nanos), seconds to keep the day, the reservation's id,
# seconds its request may take at most.
# Returns {outcome, day, first, settled, reserved, now}: outcome 1 granted; 2 held (what is spent
# leaves room for it, but the requests in flight hold that room until they settle below their
# worst cases: come back in a moment); 0 reached (what is spent leaves no room: until midnight).
# `first` is 1 when this call saw the day's spend reach the 80% mark first (granted or held), or
# made the day's first refusal (reached).
RESERVE_SCRIPT = (
    _TODAY_LUA
    + """
local inflight = key .. ':inflight'
-- A budget raised during the day (the workers restarted with more) opens the day again: its marks
-- are told afresh against the new budget.
if tonumber(redis.call('HGET', key, 'limit') or ARGV[3]) < tonumber(ARGV[3]) then
  redis.call('HDEL', key, 'reached_at', 'warned_at')
end
redis.call('HSET', key, 'limit', ARGV[3])
redis.call('EXPIRE', key, ARGV[5])
local settled = tonumber(redis.call('HGET', key, 'settled') or '0')
local reserved = tonumber(redis.call('HGET', key, 'reserved') or '0')
local worst = tonumber(ARGV[2])
local warned = 0
if settled >= tonumber(ARGV[4]) then
  warned = redis.call('HSETNX', key, 'warned_at', tostring(t))
end
if settled + worst > tonumber(ARGV[3]) then
  redis.call('HINCRBY', key, 'refused', 1)
  local first = redis.call('HSETNX', key, 'reached_at', tostring(t))
  return {0, day, first, string.format('%d', settled), string.format('%d', reserved), tostring(t)}
end
if settled + reserved + worst > tonumber(ARGV[3]) then
  redis.call('HINCRBY', key, 'held', 1)
  return {2, day, warned, string.format('%d', settled), string.format('%d', reserved), tostring(t)}
end
reserved = redis.call('HINCRBY', key, 'reserved', ARGV[2])
redis.call('ZADD', inflight, t + tonumber(ARGV[7]), ARGV[6])
redis.call('EXPIRE', inflight, ARGV[5])
redis.call('HINCRBY', key, 'requests', 1)
return {1, day, warned, string.format('%d', settled), string.format('%d', reserved), tostring(t)}
"""
)

# KEYS[1]: the reservation's day. ARGV: the reservation's member ("<id>:<nanos>"), its real cost
# (nanos), seconds to keep the day, the 80% mark (nanos), now ('' for Redis's clock). A reservation
# that expired meanwhile was counted at its worst case already (never less than its real cost):
# nothing more is done. Returns {settled now, first: 1 when this settlement brought the day's
# spend to the 80% mark first}.
SETTLE_SCRIPT = (
    _DAY_LUA
    + _EXPIRE_LUA
    + """
local t = now(ARGV[5])
if redis.call('ZREM', KEYS[1] .. ':inflight', ARGV[1]) == 0 then return {0, 0} end
local settled = release(KEYS[1], ARGV[1], tonumber(ARGV[2]))
redis.call('EXPIRE', KEYS[1], ARGV[3])
local first = 0
if settled >= tonumber(ARGV[4]) then first = redis.call('HSETNX', KEYS[1], 'warned_at', tostring(t)) end
return {1, first}
"""
)

# KEYS[1]: the key prefix. ARGV[1]: now ('' for Redis's clock). Returns {day, now, the day's hash
# as field, value, ...}: what `health` and the metrics exporter show, read on the workers' clock.
READ_SCRIPT = (
    _TODAY_LUA
    + """
return {day, tostring(t), redis.call('HGETALL', key)}
"""
)


def to_nanos(usd: float) -> int:
    """Dollars as whole nano-dollars, rounded up (a reservation or a cost is never counted short);
    rounding to a thousandth of a nano-dollar first keeps float noise (0.1 * 1e9 = 100000000.00000001)
    from adding one."""
    return max(0, math.ceil(round(usd * NANOS_PER_USD, 3)))


def to_usd(nanos: int | float) -> float:
    return nanos / NANOS_PER_USD


def next_midnight(now: float) -> float:
    """00:00 UTC after `now` (Unix time): when the day's budget starts again."""
    day = datetime.fromtimestamp(now, UTC).date()
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() + timedelta(days=1).total_seconds()


@dataclass(frozen=True)
class Reservation:
    """A worst case reserved on a day; settled on that same day's key, even after midnight."""

    day: str
    nanos: int
    member: str = ""  # "<id>:<nanos>" in the day's in-flight set


@dataclass(frozen=True)
class BudgetDay:
    """One UTC day of the budget as Redis holds it."""

    day: str
    now: float  # the clock the day was read by (Redis's), Unix time
    limit_usd: float | None  # None: no budget known (none configured, and no reservation that day)
    settled_usd: float = 0.0
    reserved_usd: float = 0.0
    requests: int = 0
    refused: int = 0
    warned_at: float | None = None
    reached_at: float | None = None

    @property
    def reached(self) -> bool:
        return self.reached_at is not None

    @property
    def used_share(self) -> float:
        """What the day spent, as a share of the budget (what the 80% alert watches)."""
        if not self.limit_usd:
            return 0.0
        return self.settled_usd / self.limit_usd

    @property
    def resets_at(self) -> float:
        return next_midnight(self.now)

    def as_json(self) -> dict[str, Any]:
        return {
            "day": self.day,
            "limit_usd": self.limit_usd,
            "spent_usd": round(self.settled_usd, 9),
            "reserved_usd": round(self.reserved_usd, 9),
            "used_share": round(self.used_share, 4),
            "requests": self.requests,
            "refused": self.refused,
            "warned_at": self.warned_at,
            "reached": self.reached,
            "reached_at": self.reached_at,
            "resets_at": self.resets_at,
        }


def parse_day(reply: list[Any], limit_usd: float | None) -> BudgetDay:
    """READ_SCRIPT's reply as a BudgetDay; the configured budget wins over the one the hash last saw."""
    day, now, flat = text(reply[0]), float(text(reply[1])), reply[2]
    fields = {text(flat[i]): text(flat[i + 1]) for i in range(0, len(flat), 2)}

    def number(name: str) -> int:
        try:
            return int(float(fields.get(name, 0)))
        except ValueError:
            return 0

    def moment(name: str) -> float | None:
        try:
            return float(fields[name]) if name in fields else None
        except ValueError:
            return None

    if limit_usd is None and "limit" in fields:
        limit_usd = to_usd(number("limit"))
    return BudgetDay(
        day=day,
        now=now,
        limit_usd=limit_usd,
        settled_usd=to_usd(number("settled")),
        reserved_usd=to_usd(number("reserved")),
        requests=number("requests"),
        refused=number("refused"),
        warned_at=moment("warned_at"),
        reached_at=moment("reached_at"),
    )


def queue_read(pipe: Any, prefix: str = "", now: float | None = None) -> None:
    """Adds today's read to a pipeline (the metrics exporter's one round trip); parse its reply
    with parse_day. A plain EVAL: a pipeline cannot fall back from EVALSHA to loading the script."""
    pipe.eval(READ_SCRIPT, 1, f"{prefix}{KEY_PREFIX}", "" if now is None else repr(now))


Alert = Callable[[BudgetDay], None]


class DailyBudget:
    """Reserve and settle LLM spend against the day's budget (see the module docstring).

    `clock` gives the time (Unix seconds) for a test; None, the default, is Redis's own clock.
    `on_warning(day)` is called once a UTC day, in the process that first saw the day's spend at
    WARN_SHARE of the budget; `on_reached(day)` once a day, in the process whose reservation was
    the day's first refused as reached. Both are the fleet's alerts (app.services). `hold_seconds`:
    the longest a request may take (LLM_TIMEOUT and a margin); a reservation not settled by then is
    counted spent at its worst case."""

    def __init__(
        self,
        client: Any,
        limit_usd: float,
        prefix: str = "",
        clock: Callable[[], float] | None = None,
        on_warning: Alert | None = None,
        on_reached: Alert | None = None,
        hold_seconds: float = 120.0,
    ) -> None:
        self.redis = client
        self.limit_usd = limit_usd
        self.limit = to_nanos(limit_usd)
        self.warn_at = math.ceil(WARN_SHARE * self.limit)
        self.prefix = prefix
        self.key_prefix = f"{prefix}{KEY_PREFIX}"
        self.clock = clock
        self.on_warning = on_warning
        self.on_reached = on_reached
        self.ttl = KEEP_DAYS * 24 * 3600
        self.hold_seconds = hold_seconds
        self._reserve = client.register_script(RESERVE_SCRIPT)
        self._settle = client.register_script(SETTLE_SCRIPT)
        self._read = client.register_script(READ_SCRIPT)
        self._too_small_said = False

    def key(self, day: str) -> str:
        return f"{self.key_prefix}{day}"

    def _now(self) -> str:
        return "" if self.clock is None else repr(self.clock())

    def reserve(self, usd: float) -> Reservation | None:
        """A reservation of `usd` on today's budget, or None: the budget is reached (nothing
        reserved). Raises BudgetHeld when requests in flight hold the room it needs, and a Redis
        error as it is: without the counter no request may go out."""
        nanos = to_nanos(usd)
        if nanos > self.limit and not self._too_small_said:
            self._too_small_said = True
            log.error(
                "LLM_DAILY_BUDGET_USD (%s USD) is less than one request's worst case (%.6f USD): no LLM request "
                "can be sent; raise the budget or lower LLM_MAX_TOKENS",
                f"{self.limit_usd:g}",
                usd,
            )
        member = f"{secrets.token_hex(6)}:{nanos}"
        args = [self._now(), nanos, self.limit, self.warn_at, self.ttl, member, self.hold_seconds]
        reply = self._reserve(keys=[self.key_prefix], args=args)
        outcome, day, first = int(reply[0]), text(reply[1]), int(reply[2])
        if first:
            seen = BudgetDay(
                day=day,
                now=float(text(reply[5])),
                limit_usd=self.limit_usd,
                settled_usd=to_usd(int(text(reply[3]))),
                reserved_usd=to_usd(int(text(reply[4]))),
            )
            self._tell(self.on_reached if outcome == 0 else self.on_warning, seen)
        if outcome == 2:
            raise BudgetHeld(f"{describe_usd(nanos)} waits for the LLM requests in flight to settle")
        return Reservation(day, nanos, member) if outcome == 1 else None

    def settle(self, reservation: Reservation, usd: float) -> None:
        """Moves a reservation to the day's settled amount at `usd`, its real cost (0 for a request
        surely not billed; the reservation itself to keep the worst case). A Redis error is logged,
        not raised: the reservation then expires, counted at its worst case, which only ever errs
        on the side of less."""
        try:
            reply = self._settle(
                keys=[self.key(reservation.day)],
                args=[reservation.member, to_nanos(usd), self.ttl, self.warn_at, self._now()],
            )
        except Exception as e:
            log.warning("could not settle an LLM budget reservation (%s): it stays counted", type(e).__name__)
            return
        if int(reply[1]):  # this settlement brought the day's spend to the 80% mark
            try:
                day = self.status()
            except Exception:
                return
            self._tell(self.on_warning, day)

    def status(self) -> BudgetDay:
        """Today, as Redis holds it (the day by Redis's clock, or the test's)."""
        reply = self._read(keys=[self.key_prefix], args=[self._now()])
        return parse_day(reply, self.limit_usd)

    def _tell(self, alert: Alert | None, day: BudgetDay) -> None:
        if alert is None:
            return
        try:
            alert(day)
        except Exception:  # an alert never fails a ticket
            log.warning("the LLM budget's alert could not be sent", exc_info=True)


def describe_usd(nanos: int) -> str:
    return f"${to_usd(nanos):.6f}"


def until_text(day: BudgetDay) -> str:
    """When the day's budget starts again, e.g. "00:00 UTC (in 9h58m)", for health and alerts."""
    left = max(0, int(day.resets_at - day.now))
    return f"00:00 UTC (in {left // 3600}h{left % 3600 // 60:02d}m)"


def describe(day: BudgetDay) -> str:
    """The day's figures in one line, e.g. "$0.0042 spent + $0.0010 reserved of $0.0100 on 2026-12-06 UTC (52%)"."""
    limit = f"{day.limit_usd:.4f}" if day.limit_usd is not None else "?"
    return (
        f"${day.settled_usd:.4f} spent + ${day.reserved_usd:.4f} reserved of ${limit} "
        f"on {day.day} UTC ({day.used_share:.0%})"
    )
