"""The shared token bucket against real Redis: no sliding window of the provider's ever sees
more than its limit, even when calls reach it up to `delay_allowance` seconds late."""

from __future__ import annotations

import time

from app import services
from app.fleet.ratelimit import Quota, SharedRateLimiter


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
