"""The LLM plan's ceiling: the two-worker form (CPU on prefork, classification and Zendesk on a
thread pool) against the one-command prefork fleet, side by side in one run.

    .venv/bin/python bench/plan_ceiling.py [--tickets 10000] [--configs io prefork]

Both face the same simulators at real time (no time scale): the LLM answers in 3.5 s on average
(p95 about 5 s) under an OpenAI tier-2 gpt-4o-mini plan of 5,000 requests and 2M tokens a minute;
Zendesk has Enterprise limits (700 requests a minute, update_many jobs that wait and count).

For each configuration: `python -m app run --limit N`, then the time until every ticket carries
its tags and private note (written through update_many; the priority raises that trail them at
the fleet's share of Update Ticket are not part of this figure, `bench/throughput.py`'s fleet phase
measures them). Reported:
- tickets_per_min: N over the seconds from the run's start to the last ticket written;
- llm_plan_ceiling_per_min: the lower of the request limit and the token limit divided by the
  tokens each request was charged (as OpenAI's limiter counts them: prompt characters / 4 plus the
  completion budget), measured by the simulator;
- plan_ceiling_ratio: tickets_per_min over that ceiling. A run has 15 to 20 s of fixed cost (the
  CLI's start and the sweep, one LLM latency before the first answers and one after the last
  request, the last batches' update_many jobs): a sixth of a 3,000-ticket run at the plan's pace,
  a twentieth of the default 10,000;
- the LLM's 429 answers, fallbacks to the rules (worker logs), tickets written twice or never;
- peak worker memory, PSS summed over every worker process (each shared page once), and the
  I/O worker's CPU seconds per ticket.
Ends with one JSON line; `make bench` (bench/throughput.py) runs this as its `plan` phase.
About 22 minutes at 10,000 tickets, most of it the prefork fleet's.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import MB, Delivery, TreeSampler, cpu_seconds, flat, parse_args  # noqa: E402

from sim.launcher.stack import LocalStack, ManagedProcess  # noqa: E402

PLAN_RPM, PLAN_TPM = 5000, 2_000_000
LLM_PLAN = ["--latency-mean", "3.5", "--rpm", str(PLAN_RPM), "--tpm", str(PLAN_TPM), "--rate-window", "60"]
ZENDESK_ENTERPRISE = ["--rate-limit", "700", "--update-rate-limit", "100", "--rate-window", "60"]
CONFIGS = {
    "prefork": "one worker, celery -A app worker --autoscale=50,10 on every queue",
    "io": "two workers: prefork, a child per core, on sweep/intake/redact; --pool=threads --concurrency=200 "
    "on classify/zendesk",
}


# The headline's figures, by configuration: headline name -> the key in the configuration's flat(Result).
HEADLINE_FIGURES = {
    "io": {
        "plan_ceiling_ratio": "plan_ceiling_ratio",
        "llm_plan_ceiling_per_min": "llm_plan_ceiling_per_min",
        "io_pool_tickets_per_min": "tickets_per_min",
        "io_pool_llm_429": "llm_429",
        "io_pool_peak_pss_mb": "peak_pss_mb",
    },
    "prefork": {
        "prefork_plan_ceiling_ratio": "plan_ceiling_ratio",
        "prefork_tickets_per_min": "tickets_per_min",
        "prefork_peak_pss_mb": "peak_pss_mb",
    },
}


@dataclass(frozen=True)
class LlmUse:
    """What the LLM simulator counted, and the plan's ceiling at the tokens it charged a request."""

    llm_requests: int
    llm_429: int
    tokens_per_request: float
    llm_plan_ceiling_per_min: float
    llm_max_in_flight: int

    @classmethod
    def from_stats(cls, stats: dict[str, Any]) -> LlmUse:
        """From the simulator's /_sim/stats: the tokens charged to the requests it admitted (not
        its 429s), and the lower of the plan's two limits at that many tokens a request."""
        admitted = stats["requests_total"] - stats["responses_429"]
        tokens_per_request = round(stats["quota_tokens_total"] / max(1, admitted), 1)
        return cls(
            llm_requests=stats["requests_total"],
            llm_429=stats["responses_429"],
            tokens_per_request=tokens_per_request,
            llm_plan_ceiling_per_min=round(min(PLAN_RPM, PLAN_TPM / tokens_per_request), 1),
            llm_max_in_flight=stats["max_in_flight"],
        )


@dataclass
class Result:
    """One configuration's figures; `flat(result)` is its entry in the JSON line, key by key."""

    config: str
    command: str
    delivery: Delivery
    seconds: float
    fallbacks: int
    llm: LlmUse
    tickets_per_min: float
    plan_ceiling_ratio: float
    peak_pss_mb: float
    peak_pss_mb_by_worker: dict[str, float]
    worker_processes: int
    dispatch_seconds: float
    cpu_seconds_per_ticket: dict[str, float]


def start_workers(stack: LocalStack, config: str) -> dict[str, ManagedProcess]:
    if config == "prefork":
        workers = {"worker": stack.start_worker("worker", autoscale="50,10")}
    else:
        workers = {"cpu": stack.start_cpu_worker(), "io": stack.start_io_worker(threads=200)}
    stack.wait_for_workers(len(workers), timeout=240)
    return workers


def measure(config: str, tickets: int, redis_url: str | None, workdir: Path, timeout: float) -> Result:
    stack = LocalStack(
        workdir=workdir / config,
        tickets=tickets,
        sim_options=ZENDESK_ENTERPRISE,
        redis_prefix=f"plan-{secrets.token_hex(4)}:",
    )
    with stack:
        stack.start_redis(redis_url)
        stack.start_simulator()
        stack.start_llm_simulator(LLM_PLAN)
        workers = start_workers(stack, config)
        cpu_before = {name: cpu_seconds(w.pid) for name, w in workers.items()}
        with TreeSampler([w.pid for w in workers.values()]) as sampler:
            started = time.monotonic()
            run = stack.run_app("run", "--limit", str(tickets), timeout=300)
            dispatch_seconds = round(time.monotonic() - started, 1)
            if run.returncode != 0:
                raise SystemExit(f"{config}: run failed\n{run.stdout[-2000:]}\n{run.stderr[-2000:]}")
            written, last_change = 0, started
            while time.monotonic() - started < timeout:
                now_written = stack.stats()["tickets_ai_processed"]
                if now_written != written:
                    written, last_change = now_written, time.monotonic()
                if written >= tickets:
                    break
                time.sleep(0.25)
        stats, llm = stack.stats(), LlmUse.from_stats(stack.llm_sim("/_sim/stats"))
        cpu_seconds_per_ticket = {
            name: round((cpu_seconds(w.pid) - cpu_before[name]) / max(1, written), 4) for name, w in workers.items()
        }
        fallbacks = sum(w.log_path.read_text(errors="replace").count("LLM fallback to") for w in workers.values())
    written = stats["tickets_ai_processed"]
    delivery = Delivery(tickets, written, twice=stats["tickets_with_multiple_notes"], lost=tickets - written)
    seconds = round(last_change - started, 1)
    tickets_per_min = round(delivery.per_min(seconds), 1)
    return Result(
        config=config,
        command=CONFIGS[config],
        delivery=delivery,
        seconds=seconds,
        fallbacks=fallbacks,
        llm=llm,
        tickets_per_min=tickets_per_min,
        plan_ceiling_ratio=round(tickets_per_min / llm.llm_plan_ceiling_per_min, 3),
        peak_pss_mb=round(sampler.peak_pss / MB, 1),
        peak_pss_mb_by_worker={name: round(sampler.peak_pss_by_pid[w.pid] / MB, 1) for name, w in workers.items()},
        worker_processes=sampler.peak_processes,
        dispatch_seconds=dispatch_seconds,
        cpu_seconds_per_ticket=cpu_seconds_per_ticket,
    )


def print_table(results: list[Result]) -> None:
    rows = [
        ("tickets written / of", lambda r: f"{r.delivery.written} / {r.delivery.tickets}"),
        ("seconds to the last write", lambda r: f"{r.seconds}"),
        ("tickets per minute", lambda r: f"{r.tickets_per_min}"),
        ("LLM plan ceiling per minute", lambda r: f"{r.llm.llm_plan_ceiling_per_min}"),
        ("plan_ceiling_ratio", lambda r: f"{r.plan_ceiling_ratio}"),
        ("LLM requests / 429s", lambda r: f"{r.llm.llm_requests} / {r.llm.llm_429}"),
        ("tokens charged per request", lambda r: f"{r.llm.tokens_per_request}"),
        ("LLM calls in flight, max", lambda r: f"{r.llm.llm_max_in_flight}"),
        ("fallbacks / twice / lost", lambda r: f"{r.fallbacks} / {r.delivery.twice} / {r.delivery.lost}"),
        ("`run` start to dispatched, s", lambda r: f"{r.dispatch_seconds}"),
        ("peak worker PSS MB (processes)", lambda r: f"{r.peak_pss_mb} ({r.worker_processes})"),
        ("  by worker", lambda r: ", ".join(f"{k} {v}" for k, v in r.peak_pss_mb_by_worker.items())),
        ("CPU s per ticket", lambda r: ", ".join(f"{k} {v}" for k, v in r.cpu_seconds_per_ticket.items())),
    ]
    print(f"\n  {'':32}" + "".join(f"{r.config:>28}" for r in results))
    for label, value in rows:
        print(f"  {label:32}" + "".join(f"{value(r):>28}" for r in results))


def run_plan(
    tickets: int, configs: list[str], redis_url: str | None, workdir: Path, timeout: float = 1800
) -> dict[str, Any]:
    """Every configuration in turn; the figures for bench/throughput.py's headline."""
    results = []
    for config in configs:
        print(f"plan ceiling: {config} ({CONFIGS[config]}), {tickets} tickets ...", flush=True)
        results.append(measure(config, tickets, redis_url, workdir, timeout))
    print_table(results)
    by_config = {r.config: flat(r) for r in results}
    headline: dict[str, Any] = {"plan_tickets": tickets, "plan": by_config}
    for config, figures in HEADLINE_FIGURES.items():
        if config in by_config:
            headline.update({name: by_config[config][figure] for name, figure in figures.items()})
    return headline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--configs", nargs="+", default=["io", "prefork"], choices=list(CONFIGS))
    args, workdir = parse_args(parser, argv, "bench-plan-")
    print(f"logs: {workdir}")
    print(json.dumps(run_plan(args.tickets, args.configs, args.redis_url, workdir)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
