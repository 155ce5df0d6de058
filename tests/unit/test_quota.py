"""The token bucket's arithmetic and the duration format of OpenAI's reset headers."""

import pytest

from app.fleet.ratelimit import Quota, parse_duration


@pytest.mark.parametrize("limit", [0.5, 1, 1.5, 2, 50, 700, 200_000])
def test_no_window_plus_delay_ever_holds_more_than_the_limit_and_the_bucket_always_refills(limit):
    quota = Quota("q", limit, window=60, delay_allowance=1)
    refilled = quota.refill_per_second * (quota.window + quota.delay_allowance)
    if limit > quota.capacity:  # the burst plus what refills in W + D is exactly the limit
        assert quota.capacity + refilled == pytest.approx(limit)
    else:  # below one call beyond the burst: the limit's own pace, never a bucket that stays empty
        assert refilled == pytest.approx(limit) and quota.refill_per_second > 0


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("6m0s", 360),
        ("120ms", 0.12),
        ("1s", 1),
        ("1h2m3.5s", 3723.5),
        ("0s", 0),
        ("", None),
        ("soon", None),
        (None, None),
        ("5x", None),
    ],
)
def test_openai_reset_durations(text, seconds):
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)


def test_a_capped_burst_is_two_seconds_of_pace_but_never_less_than_the_largest_call():
    tier2 = Quota("llm:tokens", 2_000_000, window=60, burst_seconds=2, min_capacity=12_400)
    assert tier2.capacity == pytest.approx(2_000_000 * 2 / 60)
    # the bucket refills at 95% of the plan, where a 10% burst would leave it at 88.5% for good
    assert tier2.refill_per_second * 60 == pytest.approx((2_000_000 - tier2.capacity) * 60 / 61)
    assert tier2.refill_per_second * 60 > 0.95 * 2_000_000
    assert Quota("t", 2_000_000).refill_per_second * 60 < 0.89 * 2_000_000
    small = Quota("llm:tokens", 200_000, window=60, burst_seconds=2, min_capacity=12_400)
    assert small.capacity == 12_400  # two seconds would be 6,667: less than one big request
    tiny = Quota("llm:tokens", 13_000, window=6, burst_seconds=2, min_capacity=12_400)
    assert tiny.capacity == pytest.approx(1_300)  # never above the uncapped 10% burst
