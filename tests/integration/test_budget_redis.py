"""The daily LLM budget's Lua against the real Redis (the session's server, a prefix of the test's
own): reserve only within the budget, settle, threads racing never past it, the UTC day from one
clock and a new key at midnight, the 80% and reached marks once a day."""

from __future__ import annotations

import random
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
import redis

from app.errors import BudgetHeld
from app.fleet.budget import _DAY_LUA, KEEP_DAYS, DailyBudget, Reservation, next_midnight
from tests.conftest import run_side_by_side


@pytest.fixture
def client(prefixed_redis):
    return prefixed_redis


class Clock:
    """A settable clock (Unix seconds) in place of Redis's."""

    def __init__(self, when: str) -> None:
        self.now = datetime.fromisoformat(when).replace(tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def figures(client, budget: DailyBudget, day: str) -> dict[str, int]:
    raw = client.hgetall(budget.key(day))
    return {k.decode(): int(float(v)) for k, v in raw.items() if k.decode() not in ("warned_at", "reached_at")}


def amounts(client, budget: DailyBudget, day: str) -> dict[str, int]:
    now = figures(client, budget, day)
    return {"settled": now.get("settled", 0), "reserved": now.get("reserved", 0)}


def test_granted_within_the_budget_held_by_requests_in_flight_reached_by_what_was_spent(client, redis_prefix):
    clock = Clock("2026-12-06T10:00:00")
    budget = DailyBudget(client, 1.0, redis_prefix, clock=clock)
    granted = [budget.reserve(0.3) for _ in range(3)]
    assert all(r is not None and (r.day, r.nanos) == ("2026-12-06", 300_000_000) for r in granted)
    assert len({r.member for r in granted if r is not None}) == 3
    # 0 spent + 0.9 in flight + 0.11 > 1.0: the room is held, not gone; nothing changes.
    with pytest.raises(BudgetHeld):
        budget.reserve(0.11)
    assert amounts(client, budget, "2026-12-06") == {"settled": 0, "reserved": 900_000_000}
    assert budget.reserve(0.1) is not None  # exactly at the budget still fits
    for reservation in granted:
        assert reservation is not None
        budget.settle(reservation, 0.3)  # each cost its worst case
    with pytest.raises(BudgetHeld):  # 0.9 spent, 0.1 in flight: held by that one
        budget.reserve(0.05)
    assert budget.reserve(0.2) is None  # 0.9 spent + 0.2 > 1.0: reached, whatever settles
    after = figures(client, budget, "2026-12-06")
    assert (after["refused"], after["held"], after["requests"], after["limit"]) == (1, 2, 4, 1_000_000_000)
    day = budget.status()
    assert (day.day, day.limit_usd, day.settled_usd, day.reserved_usd) == ("2026-12-06", 1.0, 0.9, 0.1)
    assert day.reached and day.reached_at == pytest.approx(clock.now) and day.used_share == pytest.approx(0.9)


def test_settling_moves_the_reservation_to_its_real_cost_and_frees_what_it_held(client, redis_prefix):
    budget = DailyBudget(client, 1.0, redis_prefix, clock=Clock("2026-12-06T10:00:00"))
    billed, refused, lost = budget.reserve(0.2), budget.reserve(0.2), budget.reserve(0.2)
    assert billed and refused and lost
    budget.settle(billed, 0.0123456789)  # the answer's usage at the model's price
    budget.settle(refused, 0.0)  # a 429: never ran
    budget.settle(lost, 0.2)  # a timeout after sending: its worst case stays
    budget.settle(billed, 0.5)  # settled twice (never by the fleet): counted once
    day = budget.status()
    assert day.reserved_usd == 0 and day.settled_usd == pytest.approx(0.2123456790, abs=1e-9)
    assert figures(client, budget, "2026-12-06")["settled"] == 212_345_679  # whole nano-dollars, rounded up
    last = budget.reserve(0.787654321)  # the room it left, to the nano
    assert last is not None
    budget.settle(last, 0.787654321)
    assert budget.reserve(0.000000001) is None


def test_a_reservation_never_settled_counts_spent_at_its_worst_case_once_its_time_is_up(client, redis_prefix):
    clock = Clock("2026-12-06T10:00:00")
    budget = DailyBudget(client, 1.0, redis_prefix, clock=clock, hold_seconds=90)
    orphan = budget.reserve(0.6)  # its worker dies mid-request
    assert orphan is not None
    with pytest.raises(BudgetHeld):
        budget.reserve(0.6)
    clock.now += 91
    day = budget.status()
    assert (day.settled_usd, day.reserved_usd) == (pytest.approx(0.6), 0)
    assert figures(client, budget, "2026-12-06")["expired"] == 1
    assert budget.reserve(0.6) is None  # 0.6 spent: another 0.6 cannot be, reached
    budget.settle(orphan, 0.01)  # a settle after it expired changes nothing: its worst case stands
    assert budget.status().settled_usd == pytest.approx(0.6)


def test_a_day_redis_lost_is_never_handed_room_by_a_late_settle(client, redis_prefix):
    budget = DailyBudget(client, 1.0, redis_prefix, clock=Clock("2026-12-06T10:00:00"))
    reservation = budget.reserve(0.5)
    assert reservation is not None
    client.delete(budget.key("2026-12-06"))  # lost (a Redis without persistence restarted)
    budget.settle(reservation, 0.1)
    day = budget.status()
    assert day.reserved_usd == 0 and day.settled_usd == pytest.approx(0.1)  # not -0.5 reserved


def test_threads_racing_for_the_budget_never_take_more_than_it(client, redis_url, redis_prefix):
    """200 threads, each with its own connection, reserve and settle at once, coming back when the
    budget is held: the granted reservations never add up to more than the budget, and it is used
    until less than one worst case is left."""
    limit, worst = 0.05, 0.0007
    clock = Clock("2026-12-06T10:00:00")
    granted: list[Reservation] = []
    held = 0
    lock = threading.Lock()

    def worker(seed: int) -> None:
        nonlocal held
        rng = random.Random(seed)
        budget = DailyBudget(redis.Redis.from_url(redis_url), limit, redis_prefix, clock=clock)
        for _ in range(5):
            for _ in range(200):
                try:
                    reservation = budget.reserve(worst)
                    break
                except BudgetHeld:
                    with lock:
                        held += 1
                    time.sleep(0.005)
            else:
                continue
            if reservation is None:
                continue
            with lock:
                granted.append(reservation)
            budget.settle(reservation, rng.uniform(0, worst))  # answered: below its worst case

    run_side_by_side([lambda seed=seed: worker(seed) for seed in range(200)], timeout=120)
    day = DailyBudget(client, limit, redis_prefix, clock=clock).status()
    assert day.settled_usd + day.reserved_usd <= limit and day.reserved_usd == 0
    assert day.settled_usd > limit - worst  # used to the last worst case
    assert len(granted) > int(limit / worst)  # answers below their worst cases left room for more
    assert day.requests == len(granted)
    print(
        f"200 threads x 5 requests of ${worst} worst case against ${limit}: {len(granted)} granted, "
        f"{held} held and asked again, {day.refused} refused as reached, ${day.settled_usd:.6f} spent"
    )


def test_the_day_is_utc_from_one_clock_and_midnight_starts_a_new_key(client, redis_prefix):
    clock = Clock("2026-12-06T23:59:59.5")
    budget = DailyBudget(client, 0.01, redis_prefix, clock=clock)
    spent = budget.reserve(0.006)
    assert spent is not None and spent.day == "2026-12-06"
    budget.settle(spent, 0.006)
    late = budget.reserve(0.003)
    assert late is not None
    assert budget.reserve(0.006) is None  # reached for the 6th
    clock.now += 0.6  # 00:00:00.1 UTC on the 7th: the LLM is used again
    early = budget.reserve(0.006)
    assert early is not None and early.day == "2026-12-07"
    budget.settle(late, 0.001)  # settled after midnight, on the day it was reserved
    old = DailyBudget(client, 0.01, redis_prefix, clock=Clock("2026-12-06T12:00:00")).status()
    new = budget.status()
    assert (old.settled_usd, old.reserved_usd, old.reached) == (pytest.approx(0.007), 0, True)
    assert (new.day, new.settled_usd, new.reserved_usd, new.reached) == ("2026-12-07", 0, 0.006, False)
    assert new.resets_at == next_midnight(clock.now)
    ttl = client.ttl(budget.key("2026-12-06"))
    assert KEEP_DAYS * 86400 - 60 < ttl <= KEEP_DAYS * 86400  # kept for health and reports


@pytest.mark.parametrize(
    "day",
    [
        date(1970, 1, 1),
        date(1999, 12, 31),
        date(2000, 2, 29),
        date(2024, 2, 29),
        date(2024, 3, 1),
        date(2026, 12, 31),
        date(2027, 1, 1),
        date(2100, 2, 28),
        date(2100, 3, 1),
    ],
)
def test_the_scripts_name_the_utc_day_as_the_calendar_does(client, redis_prefix, day):
    """The day is worked out in Lua from the Unix time (Redis's clock has no calendar)."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    for offset in (0.0, 0.001, 43200.0, 86399.999):
        status = DailyBudget(client, 1.0, redis_prefix, clock=lambda offset=offset: midnight + offset).status()
        assert status.day == day.isoformat(), offset
    before = DailyBudget(client, 1.0, redis_prefix, clock=lambda: midnight - 0.001).status()
    assert before.day == (day - timedelta(days=1)).isoformat()


def test_every_day_of_a_leap_cycle_is_named_right(client):
    first = date(2024, 1, 1)
    script = client.register_script(
        _DAY_LUA + "local out = {} for i = 0, tonumber(ARGV[2]) - 1 do "
        "out[#out + 1] = utc_day(tonumber(ARGV[1]) + i * 86400 + 3600) end return out"
    )
    start = datetime(first.year, first.month, first.day, tzinfo=UTC).timestamp()
    days = 4 * 365 + 1
    named = [value.decode() for value in script(keys=[], args=[start, days])]
    assert named == [(first + timedelta(days=n)).isoformat() for n in range(days)]


def test_without_a_clock_the_day_is_redis_servers(client, redis_prefix):
    budget = DailyBudget(client, 1.0, redis_prefix)
    before = datetime.now(UTC)
    reservation = budget.reserve(0.1)
    after = datetime.now(UTC)
    assert reservation is not None and reservation.day in {before.date().isoformat(), after.date().isoformat()}
    status = budget.status()
    server_time = client.time()
    assert abs(status.now - (server_time[0] + server_time[1] / 1e6)) < 5
    assert status.reserved_usd == pytest.approx(0.1)


def test_the_80_percent_mark_and_the_first_refusal_are_told_once_a_day_across_threads(client, redis_url, redis_prefix):
    clock = Clock("2026-12-06T10:00:00")
    told: list[tuple[str, str, float]] = []
    lock = threading.Lock()

    def tell(kind: str):
        def record(day) -> None:
            with lock:
                told.append((kind, day.day, day.used_share))

        return record

    def worker() -> None:
        budget = DailyBudget(
            redis.Redis.from_url(redis_url),
            0.01,
            redis_prefix,
            clock=clock,
            on_warning=tell("warning"),
            on_reached=tell("reached"),
        )
        for _ in range(10):
            try:
                reservation = budget.reserve(0.0004)
            except BudgetHeld:
                continue
            if reservation is not None:
                budget.settle(reservation, 0.0004)

    run_side_by_side([worker] * 50, timeout=60)
    assert sorted(kind for kind, _, _ in told) == ["reached", "warning"]
    share = {kind: used for kind, _, used in told}
    assert 0.8 <= share["warning"] <= 1.0  # told by the settlement whose spend reached 80%
    clock.now += 86400  # the next day: told again, once
    run_side_by_side([worker] * 20, timeout=60)
    assert [day for _, day, _ in told].count("2026-12-07") == 2


def test_a_budget_raised_during_the_day_opens_it_again(client, redis_prefix):
    clock = Clock("2026-12-06T10:00:00")
    told: list[str] = []
    small = DailyBudget(
        client, 0.01, redis_prefix, clock=clock, on_warning=lambda d: told.append("80%"), on_reached=told.append
    )
    first = small.reserve(0.009)
    assert first is not None
    small.settle(first, 0.009)
    assert small.reserve(0.002) is None
    assert small.status().reached and told[0] == "80%" and len(told) == 2
    raised = DailyBudget(
        client, 0.05, redis_prefix, clock=clock, on_warning=lambda d: told.append("80% again"), on_reached=told.append
    )
    second = raised.reserve(0.002)  # the workers restarted with more
    assert second is not None
    day = raised.status()
    assert not day.reached and day.warned_at is None and day.limit_usd == 0.05
    raised.settle(second, 0.002)
    third = raised.reserve(0.03)
    assert third is not None
    raised.settle(third, 0.03)
    assert told[-1] == "80% again"
