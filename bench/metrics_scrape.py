"""What one Prometheus scrape of `python -m app metrics` costs with a fleet's history in Redis.

Side by side, interleaved scrape by scrape on one real Redis (REDIS_URL when reachable, else an
embedded redis-server), each under a scratch REDIS_PREFIX deleted afterwards:

- the exporter's scrape with --tickets of history (10,000 by default), counted through the real
  code paths of app/fleet/meters.py: runs of --run-size tickets metered as their summaries are
  (`Meters.run_finished`, every outcome, way in and kind of fallback), an LLM request and a Zendesk
  request per ticket, limiter waits; a scrape is what `/metrics` answers: the collector's one
  pipeline, the parsing, and the text format (`generate_latest`);
- the same scrape with no history at all;
- the raw ceiling: the same Redis reads as one bare pipeline, replayed from the exporter's own
  commands, with nothing parsed or formatted.

It proves first that the scrape shows every ticket, then prints each side's p50/p95 and their ratios,
and ends with one JSON line of headline figures.

    .venv/bin/python bench/metrics_scrape.py [--tickets 10000] [--scrapes 300] [--redis-url URL]
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import RoundTrips, parse_args  # noqa: E402
from prometheus_client import generate_latest  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from app.domain.models import TicketResult  # noqa: E402
from app.fleet.meters import Meters  # noqa: E402
from app.ops.metrics import registry  # noqa: E402
from sim.launcher.stack import LocalStack  # noqa: E402

SOURCES = ("sweep", "webhook", "backfill")
# Outcomes in about a busy fleet's proportions; fallbacks spread over the kinds of reason.
OUTCOMES = ("success",) * 16 + ("fallback", "fallback", "failed", "skipped")
FALLBACK_REASONS = (
    "breaker_open: llm",
    "rate_limited: 429",
    "quota: insufficient_quota",
    "unavailable: 503",
    "invalid_answer: not JSON",
    "something else",
)
MODELS = ("gpt-4o-mini", "gpt-4.1-mini")
LLM_STATUSES = ("200",) * 18 + ("429", "timeout")
ENDPOINTS = (
    ("GET", "/api/v2/search.json", "200"),
    ("GET", "/api/v2/tickets/{id}.json", "200"),
    ("PUT", "/api/v2/tickets/update_many.json", "200"),
    ("GET", "/api/v2/job_statuses/{id}.json", "200"),
    ("PUT", "/api/v2/tickets/{id}.json", "429"),
)


def populate(client: Any, prefix: str, tickets: int, run_size: int, seed: int = 27) -> int:
    """Meter TICKETS tickets' worth of history under PREFIX as the fleet does; returns the runs."""
    rng = random.Random(seed)
    meters = Meters(client, prefix)
    now = time.time()
    runs = 0
    for start in range(0, tickets, run_size):
        source = SOURCES[runs % len(SOURCES)]
        results = []
        for ticket_id in range(start, min(start + run_size, tickets)):
            status = rng.choice(OUTCOMES)
            claimed = now - rng.uniform(60, 86_400)
            written = claimed + rng.expovariate(1 / 8) if status in ("success", "fallback") else None
            analysis: dict[str, Any] | None = None
            if status in ("success", "fallback"):
                analysis = {"gate": "skipped_llm" if rng.random() < 0.3 else "asked_llm"}
                if status == "fallback":
                    analysis["fallback_reason"] = rng.choice(FALLBACK_REASONS)
            results.append(
                TicketResult(
                    ticket_id=ticket_id,
                    status=status,
                    processing_time=(written or claimed) - claimed,
                    claimed_at=claimed,
                    written_at=written,
                    created_at=claimed - rng.expovariate(1 / 30),
                    analysis=analysis,
                )
            )
            model = rng.choice(MODELS)
            meters.llm_request(model, rng.choice(LLM_STATUSES), 900, 150, rng.choice((0, 512)), 0.0002)
            method, path, status_code = rng.choice(ENDPOINTS)
            meters.zendesk_request(method, path.replace("{id}", str(ticket_id)), status_code)
            if ticket_id % 50 == 0:
                meters.limiter_wait(rng.choice(("zendesk:account", "llm:tokens", "llm:requests")), rng.uniform(0, 2))
        if not meters.run_finished(f"bench-{runs}", source, results):
            raise SystemExit(f"run bench-{runs} was metered before: the scratch prefix is not empty")
        runs += 1
    return runs


def scrape(client: Any, prefix: str) -> bytes:
    """What one GET /metrics of the exporter computes."""
    return generate_latest(registry(client, prefix))


def tickets_shown(text: bytes) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text.decode())
        if family.name == "triage_tickets"
        for sample in family.samples
        if sample.name == "triage_tickets_total"
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000, help="tickets of history (default 10,000)")
    parser.add_argument("--run-size", type=int, default=500, help="tickets per metered run (default 500)")
    parser.add_argument("--scrapes", type=int, default=300, help="scrapes of each side (default 300)")
    args, workdir = parse_args(parser, argv, "bench-metrics-")
    if args.tickets < 1 or args.run_size < 1 or args.scrapes < 1:
        parser.error("--tickets, --run-size and --scrapes must be at least 1")

    base = f"bench-metrics-{secrets.token_hex(4)}:"
    history, empty = f"{base}history:", f"{base}empty:"
    with LocalStack(workdir=workdir, tickets=0, redis_prefix=base) as stack:
        stack.start_redis(args.redis_url)
        client = stack.redis()
        started = time.perf_counter()
        runs = populate(client, history, args.tickets, args.run_size)
        print(
            f"redis {stack.redis_url}{' (embedded)' if stack.owns_redis else ''}: {args.tickets} tickets of history "
            f"in {runs} runs metered in {time.perf_counter() - started:.1f} s"
        )

        # Before any speed counts: the scrape shows every ticket, and what one costs in Redis.
        counting = RoundTrips(client)
        text = scrape(counting, history)
        shown = tickets_shown(text)
        if shown != args.tickets:
            raise SystemExit(f"the scrape shows {shown:.0f} tickets, not {args.tickets}")
        if tickets_shown(scrape(client, empty)) != 0:
            raise SystemExit("the empty prefix shows tickets")
        round_trips, commands = counting.round_trips, counting.last_pipeline
        series = sum(1 for line in text.decode().splitlines() if line and not line.startswith("#"))

        def raw() -> None:
            pipe = client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            pipe.execute()

        sides: dict[str, Callable[[], object]] = {
            "10k": lambda: scrape(client, history),
            "empty": lambda: scrape(client, empty),
            "raw": raw,
        }
        timings: dict[str, list[float]] = {name: [] for name in sides}
        for run in sides.values():  # warm-up: connections and imports, not counted
            run()
        for _ in range(args.scrapes):  # interleaved: the three sides see the same machine
            for name, run in sides.items():
                started = time.perf_counter()
                run()
                timings[name].append((time.perf_counter() - started) * 1000)

    p50 = {name: statistics.median(values) for name, values in timings.items()}
    p95 = {name: percentile(values, 0.95) for name, values in timings.items()}
    labels = {
        "10k": f"scrape, {args.tickets} tickets of history",
        "empty": "scrape, no history",
        "raw": "raw ceiling: the same reads, one bare pipeline",
    }
    print(
        f"{args.scrapes} scrapes each, interleaved; "
        f"one scrape = {round_trips} Redis round trip(s), {len(commands)} commands"
    )
    for name, label in labels.items():
        print(f"  {label:<48} p50 {p50[name]:7.3f} ms   p95 {p95[name]:7.3f} ms")
    print(f"  exposition: {len(text)} bytes, {series} samples")
    print(f"scrape with history / raw pipeline: {p50['10k'] / p50['raw']:.2f}x")
    print(f"scrape with history / scrape with none: {p50['10k'] / p50['empty']:.2f}x")
    print(
        json.dumps(
            {
                "tickets": args.tickets,
                "runs": runs,
                "scrapes": args.scrapes,
                "scrape_ms_p50_10k": round(p50["10k"], 3),
                "scrape_ms_p95_10k": round(p95["10k"], 3),
                "scrape_ms_p50_empty": round(p50["empty"], 3),
                "raw_pipeline_ms_p50": round(p50["raw"], 3),
                "ratio_to_raw_pipeline": round(p50["10k"] / p50["raw"], 2),
                "ratio_to_empty": round(p50["10k"] / p50["empty"], 2),
                "redis_round_trips": round_trips,
                "redis_commands": len(commands),
                "exposition_bytes": len(text),
                "series": series,
                "tickets_shown": int(shown),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
