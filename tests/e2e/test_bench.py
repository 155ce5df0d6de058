"""The throughput benchmark itself, small and fast: it must run end to end and report honestly."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from sim.launcher.stack import ROOT

pytestmark = pytest.mark.e2e


def run_bench(script: str, *args: str, timeout: float) -> dict:
    """Runs bench/SCRIPT, which must succeed, and returns its headline (the last line, JSON)."""
    result = subprocess.run(
        [sys.executable, f"bench/{script}", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_throughput_bench_runs_both_designs_and_reports_every_headline_figure(redis_url: str):
    headline = run_bench(
        "throughput.py",
        "--tickets",
        "80",
        "--baseline-tickets",
        "50",
        "--time-scale",
        "20",
        "--cpu-tickets",
        "30",
        "--phases",
        "baseline",
        "fleet",
        "cpu",
        "--no-profile",
        "--redis-url",
        redis_url,
        timeout=600,
    )
    for key in (
        "fleet_tickets_per_min",
        "fleet_triaged_per_min",
        "fleet_priority_raises_per_min",
        "baseline_tickets_per_min",
        "ratio",
        "zendesk_requests_per_ticket",
        "failures_429",
        "duplicates",
        "lost",
        "fleet_llm_responses_429",
        "fleet_fallbacks",
        "cpu_bound_ratio",
        "complete_ratio",
        "single_ticket_puts",
        "priorities_raised_by_trigger",
        "agent_priorities_lowered",
        "agent_hand_priorities_overridden",
    ):
        assert key in headline, key
    # The fleet lost nothing, wrote nothing twice, fell back for nothing; tags and notes went in
    # bulk and Zendesk's triggers raised the priorities in the same updates, without a PUT and never
    # over an agent's, where the seed's design paid a GET and a PUT per ticket.
    assert (headline["duplicates"], headline["lost"], headline["failures_429"], headline["fleet_failed"]) == (
        0,
        0,
        0,
        0,
    )
    assert headline["single_ticket_puts"] == 0 and headline["priorities_raised_by_trigger"] > 0
    assert headline["agent_priorities_lowered"] == headline["agent_hand_priorities_overridden"] == 0
    assert 0 < headline["complete_ratio"] <= 1.0
    assert headline["fleet_fallbacks"] == 0
    assert headline["zendesk_requests_per_ticket"] < 1.2
    assert headline["baseline_requests_per_ticket"] >= 2
    assert 0 < headline["cpu_bound_ratio"] and headline["baseline_tickets_per_min"] > 0


def test_plan_ceiling_bench_runs_both_configurations_and_reports_the_ratio(redis_url: str):
    """bench/plan_ceiling.py, small: both worker forms, the real-time LLM plan, every figure the
    issue asks for in the last line (make bench runs it with 3,000 tickets)."""
    headline = run_bench("plan_ceiling.py", "--tickets", "60", "--redis-url", redis_url, timeout=900)
    for config in ("io", "prefork"):
        figures = headline["plan"][config]
        assert (figures["written"], figures["twice"], figures["lost"], figures["fallbacks"]) == (60, 0, 0, 0)
        assert figures["llm_429"] <= 0.01 * figures["llm_requests"]
        assert figures["tickets_per_min"] > 0 and figures["peak_pss_mb"] > 0
        assert 1000 < figures["tokens_per_request"] < 2000
        assert figures["llm_plan_ceiling_per_min"] == min(5000, round(2_000_000 / figures["tokens_per_request"], 1))
    for key in (
        "plan_ceiling_ratio",
        "llm_plan_ceiling_per_min",
        "io_pool_tickets_per_min",
        "prefork_tickets_per_min",
        "io_pool_peak_pss_mb",
        "prefork_peak_pss_mb",
        "io_pool_llm_429",
    ):
        assert key in headline, key


def test_report_days_bench_reads_both_ways_and_reports_the_round_trips(redis_url: str):
    """bench/report_days.py, small: both readers find the same runs; the fleet's reader keeps to a
    few round trips while the run-by-run one makes one per run."""
    headline = run_bench(
        "report_days.py", "--days", "4", "--runs-per-day", "150", "--redis-url", redis_url, timeout=600
    )
    assert headline["history_runs"] == 2 * 4 * 150
    assert 4 * 150 - 2 <= headline["window_runs"] <= 4 * 150
    assert 7 * 150 - 2 <= headline["week_runs"] <= 7 * 150  # the 8 days of history hold a week
    for key in ("week", "window"):
        assert headline[f"{key}_round_trips"] <= 5
        assert headline[f"{key}_naive_round_trips"] > 100
        assert headline[f"{key}_seconds"] > 0 and headline[f"{key}_naive_over_fleet"] > 0


def test_metrics_scrape_bench_scrapes_every_ticket_in_one_round_trip_and_reports_the_ratios(redis_url: str):
    headline = run_bench(
        "metrics_scrape.py",
        "--tickets",
        "300",
        "--run-size",
        "100",
        "--scrapes",
        "5",
        "--redis-url",
        redis_url,
        timeout=300,
    )
    for key in (
        "scrape_ms_p50_10k",
        "scrape_ms_p95_10k",
        "scrape_ms_p50_empty",
        "raw_pipeline_ms_p50",
        "ratio_to_raw_pipeline",
        "ratio_to_empty",
        "redis_round_trips",
        "redis_commands",
        "series",
    ):
        assert key in headline, key
    # The history was metered through the fleet's code and the scrape shows all of it, in one round trip.
    assert (headline["tickets"], headline["runs"], headline["tickets_shown"]) == (300, 3, 300)
    assert headline["redis_round_trips"] == 1 and headline["redis_commands"] > 10
    assert headline["series"] > 20 and headline["exposition_bytes"] > 0
    assert headline["scrape_ms_p50_10k"] > 0 and headline["scrape_ms_p50_empty"] > 0
    assert headline["raw_pipeline_ms_p50"] > 0
    ratio = headline["scrape_ms_p50_10k"] / headline["raw_pipeline_ms_p50"]
    assert headline["ratio_to_raw_pipeline"] == pytest.approx(ratio, rel=0.02)
    # The scratch prefix is gone from the shared Redis.
    import redis

    assert not list(redis.Redis.from_url(redis_url).scan_iter(match="bench-metrics-*"))


def test_german_redaction_bench_scores_every_set_in_both_parts_through_the_command():
    """bench/pii_eval_de.py, small: German support texts, tickets without personal data and GermEval
    sentences, tuning and held-out parts apart, each through `python -m app redact --spans`."""
    headline = run_bench("pii_eval_de.py", "--limit", "6", timeout=600)
    for part in ("tuning", "held_out"):
        support, news = headline["support"][part], headline["germeval"][part]
        assert support["records"] == news["records"] == 6
        assert 0 <= support["precision"] <= 1 and 0 <= support["recall"] <= 1 and 0 <= support["f2"] <= 1
        assert set(support["per_type_recall"]) <= {"PERSON", "PHONE_NUMBER", "IBAN_CODE", "EMAIL_ADDRESS"}
        assert 0 <= news["person_recall"] <= 1 and 0 <= news["location_recall"] <= 1
        assert 0 <= news["precision_per_loc"] <= news["precision"] <= 1
        # The German rules, not the English ones: names found, ordinary nouns left (the English
        # pipeline redacted 39% of these tickets' characters).
        assert support["recall"] >= 0.8 and 0 <= headline["no_pii_redacted_percent"][part] <= 3
        assert headline["emails_or_ibans_left"][part] == support["left"] == 0
    # Six texts are too little work to time against the command's start-up (a few seconds, loading
    # every language): the times are there, and not negative; `--limit 0` gives the real figures.
    assert all(ms >= 0 for ms in headline["ms_per"].values())
    assert set(headline["ms_per"]) == {
        "german_tickets",
        "german_answers",
        "germeval",
        "english_tickets",
        "french_tickets",
    }
    assert 0 <= headline["english_tickets_redacted_percent"] <= 100
