"""The fleet's Prometheus metrics on fakeredis: what app.fleet.meters counts, and what the exporter
(app.ops.metrics) shows for it, parsed back from the text format as Prometheus reads it."""

from __future__ import annotations

import json

import fakeredis
import pybreaker
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.domain.models import TicketResult
from app.fleet.claims import Claims, DeadLetters
from app.fleet.intake import IntakeQueue
from app.fleet.meters import Meters, endpoint_label, fallback_kind
from app.fleet.store import RunStore
from app.ops.metrics import registry
from bench.common import RoundTrips

PREFIX = "p:"
CONTRACT = {
    # name as the text format writes its samples' family: type, labels (issue 27's table)
    "triage_tickets": ("counter", {"outcome", "source"}),
    "triage_fallbacks": ("counter", {"reason"}),
    "triage_created_to_written_seconds": ("histogram", {"source"}),
    "triage_claim_to_written_seconds": ("histogram", set()),
    "triage_llm_requests": ("counter", {"model", "status"}),
    "triage_llm_tokens": ("counter", {"model", "kind"}),
    "triage_llm_cost_usd": ("counter", {"model"}),
    "triage_zendesk_requests": ("counter", {"endpoint", "status"}),
    "triage_limiter_wait_seconds": ("counter", {"limiter"}),
    "triage_breaker_state": ("gauge", {"service"}),
    "triage_dead_letters": ("gauge", set()),
    "triage_intake_pending": ("gauge", set()),
    "triage_queue_length": ("gauge", {"queue"}),
    "triage_override_rate": ("gauge", {"field"}),
    "triage_gate_coverage": ("gauge", set()),
    # Beyond the table, for the alert rules (deploy/prometheus/alerts.yml).
    "triage_intake_oldest_pending_timestamp_seconds": ("gauge", set()),
    "triage_last_sweep_timestamp_seconds": ("gauge", set()),
}


@pytest.fixture
def redis() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis()


def scrape(client: object, prefix: str = PREFIX) -> dict[str, object]:
    """The exporter's text, parsed as Prometheus parses it: {family name: family}."""
    text = generate_latest(registry(client, prefix)).decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(families: dict[str, object], name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """{sorted labels: value} of the samples named `name` (e.g. triage_tickets_total)."""
    found = {}
    for family in families.values():
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def result(ticket_id: int, status: str, claimed: float = 1000.0, took: float = 3.0, **fields: object) -> TicketResult:
    written = claimed + took if status in ("success", "fallback") else None
    return TicketResult(
        ticket_id=ticket_id,
        status=status,
        processing_time=took,
        claimed_at=claimed,
        written_at=written,
        **fields,
    )


def test_every_family_of_the_contract_is_there_with_its_type_and_labels_even_before_any_run(redis):
    families = scrape(redis)
    for name, (kind, labels) in CONTRACT.items():
        assert name in families, name
        assert families[name].type == kind, name
        for sample in families[name].samples:
            assert set(sample.labels) - {"le"} == labels, (name, sample)
    # Gauges with no labels have a value from the start; the breakers read closed without a key.
    assert samples(families, "triage_dead_letters") == {(): 0.0}
    assert samples(families, "triage_breaker_state") == {(("service", "llm"),): 0.0, (("service", "zendesk"),): 0.0}
    assert samples(families, "triage_exporter_redis_up") == {(): 1.0}
    # Nothing swept, nothing waits: no timestamp at all (a 0 would read as "50 years ago").
    assert samples(families, "triage_last_sweep_timestamp_seconds") == {}
    assert samples(families, "triage_intake_oldest_pending_timestamp_seconds") == {}


def test_a_runs_tickets_are_counted_once_by_outcome_source_and_latency(redis):
    meters = Meters(redis, PREFIX)
    results = [
        result(1, "success", took=0.7, created_at=1000.0 - 50),
        result(2, "success", took=3.0, created_at=1000.0 - 4000),
        result(3, "fallback", took=12.0, analysis={"fallback_reason": "LLM unavailable (APIStatusError 503)"}),
        result(4, "fallback", analysis={"fallback_reason": "LLM circuit breaker open"}),
        result(5, "failed", stage="update", error="HTTP 422"),
        result(6, "skipped"),
    ]
    assert meters.run_finished("r1", "webhook", results)
    assert not meters.run_finished("r1", "webhook", results)  # a redelivered summarize counts nothing
    meters.run_finished("r2", "sweep", [result(7, "success", took=0.2)])

    families = scrape(redis)
    assert samples(families, "triage_tickets_total") == {
        (("outcome", "success"), ("source", "webhook")): 2,
        (("outcome", "fallback"), ("source", "webhook")): 2,
        (("outcome", "failed"), ("source", "webhook")): 1,
        (("outcome", "skipped"), ("source", "webhook")): 1,
        (("outcome", "success"), ("source", "sweep")): 1,
    }
    assert samples(families, "triage_fallbacks_total") == {
        (("reason", "unavailable"),): 1,
        (("reason", "breaker_open"),): 1,
    }
    # Claim to written: the 5 tickets written, in cumulative buckets.
    claim = samples(families, "triage_claim_to_written_seconds_bucket")
    assert claim[(("le", "0.5"),)] == 1  # 0.2
    assert claim[(("le", "1.0"),)] == 2  # + 0.7
    assert claim[(("le", "5.0"),)] == 4  # + 3.0, 3.0
    assert claim[(("le", "30.0"),)] == 5  # + 12.0
    assert claim[(("le", "+Inf"),)] == 5
    assert samples(families, "triage_claim_to_written_seconds_count") == {(): 5}
    assert samples(families, "triage_claim_to_written_seconds_sum") == {(): pytest.approx(0.2 + 0.7 + 3 + 12 + 3)}
    # Created to written: only where Zendesk's creation time was known, by way in.
    created = samples(families, "triage_created_to_written_seconds_bucket")
    assert created[(("le", "60.0"), ("source", "webhook"))] == 1  # 50.7 s
    assert created[(("le", "3600.0"), ("source", "webhook"))] == 1
    assert created[(("le", "14400.0"), ("source", "webhook"))] == 2  # 4003 s
    assert samples(families, "triage_created_to_written_seconds_count") == {(("source", "webhook"),): 2}
    assert samples(families, "triage_created_to_written_seconds_sum") == {
        (("source", "webhook"),): pytest.approx(50.7 + 4003.0)
    }


def test_a_run_costs_a_fixed_number_of_writes_whatever_its_size(redis):
    counted = RoundTrips(redis)
    Meters(counted, PREFIX).run_finished("big", "sweep", [result(i, "success", took=i % 40) for i in range(2000)])
    assert counted.round_trips == 2  # the once-per-run guard, then one pipeline
    assert counted.commands < 40  # one HINCRBY per field touched, not per ticket


def test_requests_tokens_cost_and_waits_add_up_across_meters(redis):
    # Two processes' meters on the same Redis add to the same counters.
    first, second = Meters(redis, PREFIX), Meters(redis, PREFIX)
    first.llm_request("gpt-4o-mini", "200", prompt=1000, completion=200, cached=400, cost=0.00027)
    second.llm_request("gpt-4o-mini", "200", prompt=500, completion=100, cost=0.000135)
    second.llm_request("gpt-4o-mini", "429")
    first.zendesk_request("PUT", "https://acme.zendesk.com/api/v2/tickets/123.json?x=1", "200")
    second.zendesk_request("PUT", "/api/v2/tickets/456.json", "429")
    second.zendesk_request("GET", "/api/v2/job_statuses/8b726e606741012ffc2d782bcb7848fe.json", "200")
    first.limiter_wait("llm:tokens", 1.5)
    second.limiter_wait("llm:tokens", 0.25)

    families = scrape(redis)
    assert samples(families, "triage_llm_requests_total") == {
        (("model", "gpt-4o-mini"), ("status", "200")): 2,
        (("model", "gpt-4o-mini"), ("status", "429")): 1,
    }
    assert samples(families, "triage_llm_tokens_total") == {
        (("kind", "input"), ("model", "gpt-4o-mini")): 600 + 500,
        (("kind", "cached"), ("model", "gpt-4o-mini")): 400,
        (("kind", "output"), ("model", "gpt-4o-mini")): 300,
    }
    assert samples(families, "triage_llm_cost_usd_total") == {(("model", "gpt-4o-mini"),): pytest.approx(0.000405)}
    assert samples(families, "triage_zendesk_requests_total") == {
        (("endpoint", "PUT /api/v2/tickets/{id}.json"), ("status", "200")): 1,
        (("endpoint", "PUT /api/v2/tickets/{id}.json"), ("status", "429")): 1,
        (("endpoint", "GET /api/v2/job_statuses/{id}.json"), ("status", "200")): 1,
    }
    assert samples(families, "triage_limiter_wait_seconds_total") == {(("limiter", "llm:tokens"),): 1.75}


def test_gauges_read_the_breakers_dead_letters_intake_queues_and_override_rate(redis):
    breaker = pybreaker.CircuitBreaker(
        state_storage=pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, redis, namespace=f"{PREFIX}breaker:llm")
    )
    breaker.open()
    pybreaker.CircuitRedisStorage(pybreaker.STATE_HALF_OPEN, redis, namespace=f"{PREFIX}breaker:zendesk")
    dead = DeadLetters(Claims(redis, claim_ttl=60, done_ttl=60, prefix=PREFIX))
    dead.add(11, "update", "HTTP 422", "r1")
    dead.add(12, "classify", "boom", "r1")
    intake = IntakeQueue(redis, PREFIX)
    for ticket_id in (21, 22, 23):
        intake.add(ticket_id)
    redis.rpush(f"{PREFIX}classify", "m1", "m2")
    RunStore(redis, PREFIX).save_agent_override(
        {"fields": {"category": {"rate": 0.125}, "urgency": {"rate": 0.5}, "sentiment": {"rate": None}}}
    )
    meters = Meters(redis, PREFIX)
    meters.run_finished("r", "sweep", [result(1, "success", analysis={"gate": "skipped_llm"}), result(2, "success")])
    meters.run_finished("r2", "sweep", [result(3, "success", analysis={}), result(4, "fallback", analysis={"x": 1})])

    families = scrape(redis)
    assert samples(families, "triage_breaker_state") == {(("service", "llm"),): 2, (("service", "zendesk"),): 1}
    assert samples(families, "triage_dead_letters") == {(): 2}
    assert samples(families, "triage_intake_pending") == {(): 3}
    queues = samples(families, "triage_queue_length")
    assert queues[(("queue", "classify"),)] == 2 and queues[(("queue", "zendesk"),)] == 0
    assert set(queues) == {(("queue", q),) for q in ("intake", "intake_io", "sweep", "redact", "classify", "zendesk")}
    assert samples(families, "triage_override_rate") == {(("field", "category"),): 0.125, (("field", "urgency"),): 0.5}
    # Of the two tickets with an analysis (an empty one is none), the gate answered one alone.
    assert samples(families, "triage_gate_coverage") == {(): 0.5}


def test_the_last_sweep_and_the_oldest_waiting_ticket_are_timestamps_health_reads_too(redis, monkeypatch):
    import time

    store, intake = RunStore(redis, PREFIX), IntakeQueue(redis, PREFIX)
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.5)
    store.mark_sweep()
    intake.add(31)
    monkeypatch.setattr(time, "time", lambda: 1_700_000_090.0)
    intake.add(32)
    store.mark_sweep()
    families = scrape(redis)
    assert samples(families, "triage_last_sweep_timestamp_seconds") == {(): 1_700_000_090.0} == {(): store.last_sweep()}
    # The ticket waiting longest, not the newest.
    assert (
        samples(families, "triage_intake_oldest_pending_timestamp_seconds")
        == {(): 1_700_000_000.5}
        == {(): intake.oldest_since()}
    )
    intake.take(1)  # the oldest is claimed: the next one is the oldest waiting
    assert samples(scrape(redis), "triage_intake_oldest_pending_timestamp_seconds") == {(): 1_700_000_090.0}
    assert samples(scrape(redis, "other:"), "triage_last_sweep_timestamp_seconds") == {}
    # The interval the age is measured against is the exporter's SWEEP_INTERVAL, when it is given one.
    assert "triage_sweep_interval_seconds" not in scrape(redis)
    text = generate_latest(registry(redis, PREFIX, sweep_interval=300.0)).decode()
    (interval,) = [f for f in text_string_to_metric_families(text) if f.name == "triage_sweep_interval_seconds"]
    assert [s.value for s in interval.samples] == [300.0]


def test_a_scrape_is_one_round_trip_whatever_the_history(redis):
    meters = Meters(redis, PREFIX)
    counted = RoundTrips(redis)
    scrape(counted)
    empty = (counted.round_trips, counted.commands)
    for run in range(50):
        meters.run_finished(f"r{run}", "sweep", [result(run * 100 + i, "success", took=i) for i in range(100)])
        meters.llm_request(f"model-{run % 3}", "200", prompt=10, completion=5, cost=0.01)
    counted.round_trips = counted.commands = 0
    scrape(counted)
    assert (counted.round_trips, counted.commands) == empty
    assert counted.round_trips == 1


def test_labels_carry_no_ticket_ids_and_reasons_are_kinds_not_texts(redis):
    assert endpoint_label("GET", "/api/v2/tickets/show_many.json?ids=1,2") == "GET /api/v2/tickets/show_many.json"
    assert endpoint_label("GET", "/api/v2/tickets/98765/audits.json") == "GET /api/v2/tickets/{id}/audits.json"
    assert endpoint_label("DELETE", "/api/v2/webhooks/01GFXGQ6V0/signing_secret") == (
        "DELETE /api/v2/webhooks/{id}/signing_secret"
    )
    assert fallback_kind("LLM configuration fault (HTTP 401 invalid_api_key: Incorrect key sk-...)") == "config_fault"
    assert fallback_kind("no valid LLM answer in 3 attempts (ValidationError)") == "invalid_answer"
    assert fallback_kind("LLM quota used up (shared limiter)") == "quota"
    assert fallback_kind(None) == "unknown"
    Meters(redis, PREFIX).run_finished("r", "sweep", [result(987654, "failed", stage="update", error="HTTP 422")])
    Meters(redis, PREFIX).zendesk_request("PUT", "/api/v2/tickets/987654.json", "422")
    assert "987654" not in generate_latest(registry(redis, PREFIX)).decode()


def test_an_unreachable_redis_is_one_gauge_not_an_error_page():
    class Down:
        def pipeline(self, **kwargs: object) -> object:
            import redis

            raise redis.exceptions.ConnectionError("Connection refused")

    families = scrape(Down())
    assert samples(families, "triage_exporter_redis_up") == {(): 0.0}
    assert "triage_tickets" not in families


def test_a_hash_written_by_hand_with_odd_fields_is_skipped_not_fatal(redis):
    redis.hset(f"{PREFIX}metrics:tickets", mapping={"success|sweep": 3, "garbage": 1, "a|b|c": 2})
    redis.set(f"{PREFIX}learn:override", json.dumps(["not", "an", "object"]).replace("[", "{").replace("]", "}")[:3])
    assert samples(scrape(redis), "triage_tickets_total") == {(("outcome", "success"), ("source", "sweep")): 3}
