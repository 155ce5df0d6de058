"""The benchmarks' records and the one flat mapping their JSON line carries: the keys and values
bench/plan_ceiling.py has always printed for a configuration, however its figures are grouped."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import bench_module

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def plan():
    yield from bench_module("plan_ceiling")


# One configuration's entry in a real run's JSON line (bench/plan_ceiling.py --tickets 60, io).
IO_ENTRY = {
    "config": "io",
    "command": "two workers: prefork, a child per core, on sweep/intake/redact; --pool=threads --concurrency=200 "
    "on classify/zendesk",
    "tickets": 60,
    "seconds": 14.6,
    "written": 60,
    "twice": 0,
    "lost": 0,
    "fallbacks": 0,
    "llm_requests": 60,
    "llm_429": 0,
    "tokens_per_request": 1150.7,
    "llm_plan_ceiling_per_min": 1738.1,
    "llm_max_in_flight": 60,
    "tickets_per_min": 246.6,
    "plan_ceiling_ratio": 0.142,
    "peak_pss_mb": 449.9,
    "peak_pss_mb_by_worker": {"cpu": 291.8, "io": 166.5},
    "worker_processes": 4,
    "dispatch_seconds": 4.3,
    "cpu_seconds_per_ticket": {"cpu": 0.0142, "io": 0.0145},
}


def test_a_result_flattens_to_the_keys_and_values_of_its_json_entry(plan):
    stats = {"requests_total": 60, "responses_429": 0, "quota_tokens_total": 69_042, "max_in_flight": 60}
    llm = plan.LlmUse.from_stats(stats)
    delivery = plan.Delivery(60, written=60)
    result = plan.Result(
        config="io",
        command=plan.CONFIGS["io"],
        delivery=delivery,
        seconds=14.6,
        fallbacks=0,
        llm=llm,
        tickets_per_min=round(delivery.per_min(14.6), 1),
        plan_ceiling_ratio=0.142,
        peak_pss_mb=449.9,
        peak_pss_mb_by_worker={"cpu": 291.8, "io": 166.5},
        worker_processes=4,
        dispatch_seconds=4.3,
        cpu_seconds_per_ticket={"cpu": 0.0142, "io": 0.0145},
    )
    assert plan.flat(result) == IO_ENTRY
    assert round(result.tickets_per_min / llm.llm_plan_ceiling_per_min, 3) == result.plan_ceiling_ratio


def test_the_plan_ceiling_is_the_lower_of_the_plan_s_two_limits(plan):
    # Few tokens a request: the request limit binds; many: the token limit.
    light = plan.LlmUse.from_stats(
        {"requests_total": 10, "responses_429": 0, "quota_tokens_total": 1000, "max_in_flight": 1}
    )
    assert (light.tokens_per_request, light.llm_plan_ceiling_per_min) == (100.0, 5000)
    # The tokens a request are those charged to the requests admitted, not to the 429s.
    heavy = plan.LlmUse.from_stats(
        {"requests_total": 12, "responses_429": 2, "quota_tokens_total": 20_000, "max_in_flight": 3}
    )
    assert (heavy.tokens_per_request, heavy.llm_plan_ceiling_per_min, heavy.llm_429) == (2000.0, 1000.0, 2)


def test_a_delivery_s_pace_is_zero_without_time(plan):
    delivery = plan.Delivery(10, written=5)
    assert delivery.per_min(30) == 10.0 and delivery.per_min(0) == 0.0


def test_flat_refuses_two_figures_of_one_name(plan):
    @dataclass
    class Clash:
        tickets: int
        delivery: plan.Delivery

    with pytest.raises(ValueError, match="tickets"):
        plan.flat(Clash(1, plan.Delivery(1)))
