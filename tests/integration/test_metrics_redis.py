"""The exporter against real Redis, after runs driven through the tasks directly (no workers): its
totals are the run summaries' totals, a scrape costs one round trip however many tickets the fleet
has triaged, and `serve` answers Prometheus over HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app import services
from app.domain.summary import RunSummary
from app.fleet.meters import Meters
from app.fleet.ratelimit import Quota
from app.fleet.sweep import sweep
from app.ops.metrics import registry, serve
from bench.common import RoundTrips
from sim.llm import running_simulator
from workers.classify import classify_task
from workers.redact import redact_task
from workers.sweep import summarize_task
from workers.update import update_task

KEY = "sim-llm-key"


@pytest.fixture
def with_llm(fleet_env, monkeypatch) -> Iterator[object]:
    """The fleet pointed at the LLM simulator (the tests count its requests, tokens and dollars)."""
    with running_simulator(latency_mean=0, api_key=KEY) as llm:
        for name, value in {
            "LLM_BASE_URL": f"{llm.base_url}/v1",
            "OPENAI_API_KEY": KEY,
            "LLM_MODEL": "gpt-4o-mini",
            "LLM_PROVIDER": "openai",
            "LLM_SDK_MAX_RETRIES": "0",
        }.items():
            monkeypatch.setenv(name, value)
        services.reset()
        yield fleet_env


def scrape_text(client: object) -> str:
    return generate_latest(registry(client, services.get_settings().redis.prefix)).decode()


def totals(text: str) -> dict[str, float]:
    """Each sample name's sum over its labels (buckets left out)."""
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.endswith("_bucket"):
                found[sample.name] = found.get(sample.name, 0.0) + sample.value
    return found


def by_label(text: str, name: str, label: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[sample.labels[label]] = found.get(sample.labels[label], 0.0) + sample.value
    return found


def run(limit: int, fail: int | None = None) -> RunSummary:
    """One run as the workers would do it: a sweep, each ticket's chain, the summary."""
    outcome = sweep(services.zendesk(), services.claims(), limit)
    if fail is not None:
        sim = services.get_settings().zendesk.base_url
        target = outcome.inputs[0].ticket_id
        requests.post(f"{sim}/_sim/config", json={"fail_updates": {str(target): fail}}, timeout=5)
    records = []
    for ticket in outcome.inputs:
        redacted = redact_task.apply(args=(ticket.model_dump(),)).get()
        records.append(update_task.apply(args=(classify_task.apply(args=(redacted,)).get(),)).get())
    summarize_task.apply(
        args=(records,), kwargs={"run_id": outcome.run_id, "started_at": outcome.started_at, "source": outcome.source}
    ).get()
    summary = services.run_store().summary(outcome.run_id)
    assert summary is not None
    return summary


def test_exported_totals_are_the_run_summaries_totals(with_llm):
    summaries = [run(12, fail=422), run(8)]
    # A redelivered summarize finds the summary stored: nothing is counted twice.
    summarize_task.apply(args=([],), kwargs={"run_id": summaries[1].id, "started_at": time.time()}).get()

    text = scrape_text(services.redis_client())
    sums = totals(text)
    outcomes = by_label(text, "triage_tickets_total", "outcome")
    assert sum(s.total for s in summaries) == 20 == sums["triage_tickets_total"]
    assert outcomes.get("success", 0) + outcomes.get("fallback", 0) == sum(s.processed for s in summaries)
    assert outcomes.get("failed", 0) == sum(s.failed for s in summaries) == 1
    assert outcomes.get("fallback", 0) == sum(s.fallbacks for s in summaries)
    assert sums.get("triage_fallbacks_total", 0) == sum(s.fallbacks for s in summaries)
    assert by_label(text, "triage_tickets_total", "source") == {"sweep": 20}
    # Latency: every written ticket observed once; the sum is the summaries' per-ticket seconds.
    written = [r for s in summaries for r in s.results if r.status in ("success", "fallback")]
    assert sums["triage_claim_to_written_seconds_count"] == len(written)
    assert sums["triage_claim_to_written_seconds_sum"] == pytest.approx(sum(r.processing_time for r in written), 1e-3)
    # The simulator says when each ticket was created: created to written is known for each.
    assert sums["triage_created_to_written_seconds_count"] == len(written)
    assert all(r.created_at is not None and r.created_at <= r.written_at for r in written)
    # LLM: the summaries' tokens and dollars are what the requests reported.
    assert sums["triage_llm_tokens_total"] == sum(s.tokens_total for s in summaries) > 0
    assert sums["triage_llm_cost_usd_total"] == pytest.approx(sum(s.cost_estimate for s in summaries), rel=1e-4)
    assert by_label(text, "triage_llm_requests_total", "status") == {"200": sums["triage_llm_requests_total"]}
    # Zendesk: every request the client sent, the simulator's count of them, by endpoint and status.
    stats = requests.get(f"{services.get_settings().zendesk.base_url}/_sim/stats", timeout=5).json()
    assert sums["triage_zendesk_requests_total"] == stats["requests_total"]
    statuses = by_label(text, "triage_zendesk_requests_total", "status")
    assert statuses["422"] == 1 and "429" not in statuses
    assert sums["triage_dead_letters"] == 1
    assert "ticket_id" not in text


def test_a_scrape_costs_one_round_trip_however_many_tickets_were_triaged(fleet_env):
    client = services.redis_client()
    meters = Meters(client, services.get_settings().redis.prefix)
    counted = RoundTrips(client)
    scrape_text(counted)
    small = (counted.round_trips, counted.commands)
    from app.domain.models import TicketResult

    for number in range(20):  # 10,000 tickets' worth of history
        results = [
            TicketResult(ticket_id=i, status="success", processing_time=i % 90, claimed_at=0.0, written_at=i % 90)
            for i in range(500)
        ]
        meters.run_finished(f"history-{number}", "webhook" if number % 2 else "sweep", results)
    counted.round_trips = counted.commands = 0
    started = time.perf_counter()
    text = scrape_text(counted)
    took = time.perf_counter() - started
    assert totals(text)["triage_tickets_total"] == 10_000
    assert (counted.round_trips, counted.commands) == small == (1, small[1])
    assert took < 1.0, took


def test_the_limiter_counts_the_seconds_callers_slept_for_its_tokens(fleet_env):
    limiter = services.limiter()
    quota = Quota("metrics:test", limit=600, window=1.0)
    assert limiter.acquire([(quota, quota.capacity)], max_sleep=2.0) == 0
    started = time.monotonic()
    assert limiter.acquire([(quota, quota.capacity)], max_sleep=2.0) == 0  # sleeps for a refill
    slept = time.monotonic() - started
    waited = by_label(scrape_text(services.redis_client()), "triage_limiter_wait_seconds_total", "limiter")
    assert 0 < waited["metrics:test"] <= slept + 0.01


def test_serve_answers_prometheus_over_http(fleet_env):
    client = services.redis_client()
    prefix = services.get_settings().redis.prefix
    Meters(client, prefix).zendesk_request("GET", "/api/v2/search.json", "200")
    servers: list[object] = []
    ready = threading.Event()

    def on_ready(server: object) -> None:
        servers.append(server)
        ready.set()

    thread = threading.Thread(target=serve, args=(client, prefix, "127.0.0.1", 0, on_ready), daemon=True)
    thread.start()
    assert ready.wait(10)
    server = servers[0]
    try:
        answer = requests.get(f"http://127.0.0.1:{server.server_port}/metrics", timeout=5)
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/plain")
        assert 'triage_zendesk_requests_total{endpoint="GET /api/v2/search.json",status="200"} 1.0' in answer.text
    finally:
        server.shutdown()
        thread.join(5)
