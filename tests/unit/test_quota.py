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


@pytest.mark.parametrize("text,seconds", [("6m0s", 360), ("120ms", 0.12), ("1s", 1), ("1h2m3.5s", 3723.5),
                                          ("0s", 0), ("", None), ("soon", None), (None, None), ("5x", None)])
def test_openai_reset_durations(text, seconds):
    assert parse_duration(text) == (pytest.approx(seconds) if seconds is not None else None)
