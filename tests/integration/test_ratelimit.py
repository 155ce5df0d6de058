"""The shared token bucket against real Redis: no sliding window of the provider's ever sees
more than its limit, even when calls reach it up to `delay_allowance` seconds late."""

from __future__ import annotations

import time

from app import services
from app.fleet.ratelimit import Quota, SharedRateLimiter
from tests.conftest import run_side_by_side


def test_greedy_takers_never_exceed_the_limit_in_any_window_even_with_late_arrivals(fleet_env, redis_prefix):
    quota = Quota("test:window", limit=10, window=1.0, delay_allowance=0.3)
    limiter = SharedRateLimiter(services.redis_client(), redis_prefix)
    grants: list[float] = []
    started = time.monotonic()
    while time.monotonic() - started < 3.0:  # take as fast as the bucket allows, for 3 windows
        wait = limiter.take(quota)
        if wait == 0:
            grants.append(time.monotonic())
        else:
            time.sleep(min(wait, 0.01))
    # Worst case for the provider: every call granted in [t, t + W + D] arrives inside one window
    # (the early ones D seconds late, the later ones at once).
    span = quota.window + quota.delay_allowance
    worst = max(sum(1 for g in grants if start <= g <= start + span) for start in grants)
    assert worst <= quota.limit, worst
    assert len(grants) > quota.limit  # it did hand out more than one window's worth over the 3 s


def test_threads_of_one_process_take_turns_at_the_bucket(fleet_env, redis_prefix):
    """Sixty threads want a quota that grants 20 a second: each is granted once, at the quota's
    pace, and only the thread whose turn it is asks Redis (no herd of polls per freed token)."""

    quota = Quota("test:threads", limit=20, window=1.0, delay_allowance=0.1, burst_seconds=0.1)
    limiter = SharedRateLimiter(services.redis_client(), redis_prefix)
    asked = []
    take = limiter.take
    limiter.take = lambda q, cost=1.0, priority=False: asked.append(1) or take(q, cost, priority)  # type: ignore[method-assign]
    granted: list[float] = []
    started = time.monotonic()

    def want() -> None:
        if limiter.acquire([(quota, 1.0)], max_sleep=30) == 0:
            granted.append(time.monotonic() - started)

    run_side_by_side([want] * 60, timeout=30)
    assert len(granted) == 60
    # 2 at once, then (20 - 2) per 1.1 s: the last near 3.5 s and never sooner, however fast the
    # machine (a floor on the pace; no ceiling on wall time, which a loaded machine may stretch)
    assert max(granted) > 3.0, max(granted)
    # one grant and at most a few refusals per thread's turn; unserialised, every waiting thread polls per token
    assert len(asked) < 3 * 60, len(asked)


def test_a_backlog_leaves_the_reserve_and_the_intake_lane_takes_it_at_once(fleet_env, redis_prefix):
    """A backlog drains the bucket down to its reserve and then waits; a call in the intake lane
    is granted at once from the reserve, and takes its turn apart from the backlog's threads."""
    # capacity 60 and a refill of one token every 6.7 s, so a slow machine's loop cannot find one
    # more token than the count below (a window of a minute would refill 10 a second)
    quota = Quota("test:lanes", limit=600, window=3600.0)
    limiter = SharedRateLimiter(services.redis_client(), redis_prefix)
    assert quota.reserve == 6.0
    backlog = 0
    while limiter.take(quota) == 0:
        backlog += 1
    assert backlog == 60 - 6  # the reserve stayed in the bucket
    assert limiter.take(quota) > 0  # the backlog waits ...
    assert limiter.acquire([(quota, 1.0)], max_sleep=0, priority=True) == 0  # ... the intake lane does not
    for _ in range(4):
        assert limiter.take(quota, priority=True) == 0


def test_job_slots_keep_a_reserve_for_the_intake_lane(fleet_env, redis_prefix):
    from app.fleet import lanes
    from app.fleet.store import JobSlots

    slots = JobSlots(services.redis_client(), 30, redis_prefix)
    assert slots.reserve == 3
    assert [slots.acquire(f"backlog:{n}", 60) for n in range(28)] == [True] * 27 + [False]
    with lanes.intake_lane():
        assert [slots.acquire(f"intake:{n}", 60) for n in range(4)] == [True, True, True, False]
    assert JobSlots(services.redis_client(), 4, redis_prefix + "small:").reserve == 0
