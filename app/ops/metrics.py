"""`python -m app metrics`: the fleet's Prometheus metrics, read from its shared state in Redis.

One exporter serves the whole fleet, whatever the number of hosts and processes: every process
adds to counters in Redis (app.fleet.meters), and each scrape reads them, with the breakers, the
dead letters, the webhook intake, the queues and the override rate, in one pipeline: one Redis
round trip whatever the number of tickets, runs or processes. Celery's task-level metrics stay
with Flower's own `/metrics`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from app.fleet import budget as llm_budget
from app.fleet import meters
from app.fleet.replies import scored, text
from app.names import Queue

log = logging.getLogger(__name__)

BREAKERS = ("zendesk", "llm")
# pybreaker's states (CircuitRedisStorage keeps the name) as triage_breaker_state's values.
BREAKER_VALUES = {"closed": 0, "half-open": 1, "open": 2}


@dataclass
class Snapshot:
    """What one scrape read: each family's hash (field: value), and the gauges' raw values."""

    hashes: dict[str, dict[str, str]]
    breakers: dict[str, str | None]
    dead_letters: int
    intake_pending: int
    queues: dict[str, int]
    override: dict[str, Any] | None
    last_sweep: float | None = None
    oldest_pending: float | None = None
    # Today's daily LLM budget (app.fleet.budget), on Redis's clock; None when no budget is known.
    budget: llm_budget.BudgetDay | None = None


def read_snapshot(client: Any, prefix: str = "", budget_usd: float | None = None) -> Snapshot:
    """Everything a scrape shows, in one pipeline (one round trip). `budget_usd`: the exporter's
    LLM_DAILY_BUDGET_USD (without it, the budget the workers last reserved against, if any)."""
    pipe = client.pipeline(transaction=False)
    for family in meters.FAMILIES:
        pipe.hgetall(meters.key(prefix, family))
    for service in BREAKERS:
        pipe.get(f"{prefix}breaker:{service}:pybreaker:state")
    pipe.zcard(f"{prefix}dead:index")
    pipe.zcard(f"{prefix}intake:pending")
    queues = [str(queue) for queue in Queue]
    for queue in queues:
        pipe.llen(f"{prefix}{queue}")
    pipe.get(f"{prefix}learn:override")
    pipe.get(f"{prefix}sweep:last")
    pipe.zrange(f"{prefix}intake:pending", 0, 0, withscores=True)
    llm_budget.queue_read(pipe, prefix)
    replies = iter(pipe.execute())
    hashes = {family: {text(k): text(v) for k, v in next(replies).items()} for family in meters.FAMILIES}
    breakers = {service: (text(raw) if (raw := next(replies)) is not None else None) for service in BREAKERS}
    dead, pending = int(next(replies)), int(next(replies))
    lengths = {queue: int(next(replies)) for queue in queues}
    raw_override = next(replies)
    try:
        override = json.loads(raw_override) if raw_override else None
    except ValueError:
        override = None
    if not isinstance(override, dict):
        override = None
    raw_sweep = next(replies)
    try:
        last_sweep = float(text(raw_sweep)) if raw_sweep else None
    except ValueError:
        last_sweep = None
    oldest = scored(next(replies))
    oldest_pending = oldest[0][1] if oldest else None
    day = llm_budget.parse_day(next(replies), budget_usd)
    budget = day if day.limit_usd is not None else None
    return Snapshot(hashes, breakers, dead, pending, lengths, override, last_sweep, oldest_pending, budget)


def _labels(name: str, count: int) -> list[str] | None:
    """A hash field's label values; None for a field that does not have `count` of them."""
    values = name.split(meters.SEPARATOR)
    return values if len(values) == count else None


def _counter(
    name: str, documentation: str, labels: list[str], fields: dict[str, str], as_int: bool = True
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels)
    for field, raw in sorted(fields.items()):
        values = _labels(field, len(labels)) if labels else ([] if meters.SEPARATOR not in field else None)
        if values is None:
            continue
        family.add_metric(values, int(raw) if as_int else float(raw))
    return family


def _histogram(
    name: str, documentation: str, labels: list[str], fields: dict[str, str], bounds: tuple[float, ...]
) -> HistogramMetricFamily:
    """Cumulative buckets from the per-bucket counts meters keeps (app.fleet.meters)."""
    family = HistogramMetricFamily(name, documentation, labels=labels)
    by_series: dict[tuple[str, ...], dict[str, str]] = {}
    for field, raw in fields.items():
        values = _labels(field, len(labels) + 1)
        if values is not None:
            by_series.setdefault(tuple(values[:-1]), {})[values[-1]] = raw
    for series, parts in sorted(by_series.items()):
        running = 0
        buckets = []
        for bound in (*[repr(b) for b in bounds], meters.INF):
            running += int(parts.get(bound, 0))
            buckets.append((bound, running))
        family.add_metric(list(series), buckets, float(parts.get("sum", 0.0)))
    return family


def _moment(name: str, documentation: str, when: float | None) -> GaugeMetricFamily:
    """A Unix-time gauge with no sample when the moment has not happened: an absent series, not a
    0 that an alert would read as "long ago"."""
    gauge = GaugeMetricFamily(name, documentation)
    if when is not None:
        gauge.add_metric([], when)
    return gauge


def families(snapshot: Snapshot) -> Iterator[Metric]:
    """The metric families of one snapshot; names, types and labels are a contract (issue 27)."""
    h = snapshot.hashes
    yield _counter(
        "triage_tickets",
        "Tickets by outcome (success, fallback, failed, skipped) and way in (sweep, webhook, backfill), "
        "counted when their run's summary is made; dry runs are not counted.",
        ["outcome", "source"],
        h[meters.TICKETS],
    )
    yield _counter(
        "triage_tickets_by_mode",
        "Tickets handled (success or fallback) by mode: live (tags and note written), suggest (the "
        "note alone), shadow (nothing written; the prediction recorded).",
        ["mode"],
        h[meters.MODES],
    )
    yield _counter(
        "triage_fallbacks",
        "Tickets the rules (or the local model) answered in the LLM's place, by the kind of reason.",
        ["reason"],
        h[meters.FALLBACKS],
    )
    yield _histogram(
        "triage_created_to_written_seconds",
        "Seconds from a ticket's creation in Zendesk until Zendesk held the fleet's tags and note.",
        ["source"],
        h[meters.CREATED_TO_WRITTEN],
        meters.CREATED_TO_WRITTEN_BUCKETS,
    )
    yield _histogram(
        "triage_claim_to_written_seconds",
        "Seconds from the fleet's claim of a ticket until Zendesk held its tags and note.",
        [],
        h[meters.CLAIM_TO_WRITTEN],
        meters.CLAIM_TO_WRITTEN_BUCKETS,
    )
    yield _counter(
        "triage_llm_requests",
        "LLM requests by model and status (the HTTP status; timeout or error without an answer).",
        ["model", "status"],
        h[meters.LLM_REQUESTS],
    )
    yield _counter(
        "triage_llm_tokens",
        "LLM tokens by model and kind: input (not cached), output, cached input.",
        ["model", "kind"],
        h[meters.LLM_TOKENS],
    )
    yield _counter(
        "triage_llm_cost_usd", "Estimated LLM spend in US dollars, by model.", ["model"], h[meters.LLM_COST], False
    )
    yield _counter(
        "triage_zendesk_requests",
        "Zendesk API requests by endpoint (ids as {id}) and status (the HTTP status; timeout or "
        "connection_error without an answer).",
        ["endpoint", "status"],
        h[meters.ZENDESK_REQUESTS],
    )
    yield _counter(
        "triage_limiter_wait_seconds",
        "Seconds callers waited in place for a shared quota bucket's tokens, by bucket.",
        ["limiter"],
        h[meters.LIMITER_WAIT],
        False,
    )
    breaker = GaugeMetricFamily(
        "triage_breaker_state", "Shared circuit breaker state: 0 closed, 1 half-open, 2 open.", labels=["service"]
    )
    for service, state in snapshot.breakers.items():
        breaker.add_metric([service], BREAKER_VALUES.get(state or "closed", 2))
    yield breaker
    yield GaugeMetricFamily(
        "triage_dead_letters", "Tickets that failed for good (dead letters).", snapshot.dead_letters
    )
    yield GaugeMetricFamily(
        "triage_intake_pending", "Tickets webhooks announced that no run has claimed yet.", snapshot.intake_pending
    )
    yield _moment(
        "triage_intake_oldest_pending_timestamp_seconds",
        "When the webhook ticket waiting longest for a run was announced (Unix time); no sample when none waits.",
        snapshot.oldest_pending,
    )
    yield _moment(
        "triage_last_sweep_timestamp_seconds",
        "When beat's last sweep ran (Unix time), as `health` reads it; no sample before the first sweep.",
        snapshot.last_sweep,
    )
    queues = GaugeMetricFamily("triage_queue_length", "Messages waiting in each Celery queue.", labels=["queue"])
    for queue, length in snapshot.queues.items():
        queues.add_metric([queue], length)
    yield queues
    override = GaugeMetricFamily(
        "triage_override_rate",
        "Share of the fleet's answers people changed, per field, as `train --from-zendesk` last measured it.",
        labels=["field"],
    )
    for name, entry in sorted(((snapshot.override or {}).get("fields") or {}).items()):
        rate = entry.get("rate") if isinstance(entry, dict) else None
        if isinstance(rate, int | float) and math.isfinite(rate):
            override.add_metric([name], float(rate))
    yield override
    gate = h[meters.GATE]
    answered = int(gate.get("answered", 0))
    yield GaugeMetricFamily(
        "triage_gate_coverage",
        "Share of the tickets classified that the local model's gate answered without the LLM (all runs counted).",
        int(gate.get("gated", 0)) / answered if answered else 0.0,
    )
    yield from budget_families(snapshot.budget)


def budget_families(day: llm_budget.BudgetDay | None) -> Iterator[Metric]:
    """Today's (UTC) daily LLM budget: always the four families, samples only when a budget is known."""
    gauges = (
        ("triage_llm_budget_usd", "The daily LLM budget (LLM_DAILY_BUDGET_USD), US dollars per UTC day.", "limit"),
        (
            "triage_llm_budget_spent_usd",
            "LLM spend settled today (UTC) against the budget, US dollars: answered requests at their usage, and "
            "the worst case of requests whose cost cannot be known (a timeout after sending).",
            "spent",
        ),
        (
            "triage_llm_budget_reserved_usd",
            "Worst cases reserved today (UTC) by LLM requests in flight, US dollars.",
            "reserved",
        ),
        (
            "triage_llm_budget_reached",
            "1 once today's (UTC) LLM budget refused a request (the fallback classifies until 00:00 UTC), else 0.",
            "reached",
        ),
    )
    for name, documentation, figure in gauges:
        gauge = GaugeMetricFamily(name, documentation)
        if day is not None and day.limit_usd is not None:
            value = {
                "limit": day.limit_usd,
                "spent": day.settled_usd,
                "reserved": day.reserved_usd,
                "reached": 1.0 if day.reached else 0.0,
            }[figure]
            gauge.add_metric([], value)
        yield gauge


class FleetCollector(Collector):
    """Reads the fleet's state from Redis on each scrape (read_snapshot: one round trip)."""

    def __init__(
        self, client: Any, prefix: str = "", sweep_interval: float | None = None, budget_usd: float | None = None
    ) -> None:
        self.redis = client
        self.prefix = prefix
        self.sweep_interval = sweep_interval
        self.budget_usd = budget_usd

    def describe(self) -> list[Metric]:
        return []  # registering reads nothing from Redis

    def collect(self) -> Iterator[Metric]:
        import redis

        up = GaugeMetricFamily("triage_exporter_redis_up", "1 when this scrape could read the fleet's Redis, else 0.")
        try:
            snapshot = read_snapshot(self.redis, self.prefix, self.budget_usd)
        except redis.exceptions.RedisError as e:
            # One line, not a traceback per scrape: Prometheus sees the exporter up and Redis not.
            log.warning("metrics: cannot read Redis (REDIS_URL): %s", e)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families(snapshot)
        if self.sweep_interval is not None:
            yield GaugeMetricFamily(
                "triage_sweep_interval_seconds",
                "Seconds between beat's sweeps (SWEEP_INTERVAL as the exporter reads it): what the no-sweep alert "
                "measures the last sweep's age against, as `health` does.",
                self.sweep_interval,
            )


def registry(
    client: Any, prefix: str = "", sweep_interval: float | None = None, budget_usd: float | None = None
) -> CollectorRegistry:
    """A registry of the fleet's metrics alone (nothing of the exporter's own process)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(FleetCollector(client, prefix, sweep_interval, budget_usd))
    return reg


def serve(
    client: Any,
    prefix: str,
    host: str,
    port: int,
    ready: Any = None,
    sweep_interval: float | None = None,
    budget_usd: float | None = None,
) -> None:
    """Serve `/metrics` (and `/`) until interrupted. Binding errors (OSError) reach the caller."""
    from wsgiref.simple_server import WSGIRequestHandler, make_server

    from prometheus_client.exposition import ThreadingWSGIServer, make_wsgi_app

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            log.debug(format, *args)

    app = make_wsgi_app(registry(client, prefix, sweep_interval, budget_usd))
    with make_server(host, port, app, server_class=ThreadingWSGIServer, handler_class=QuietHandler) as server:
        if ready is not None:
            ready(server)
        server.serve_forever()
