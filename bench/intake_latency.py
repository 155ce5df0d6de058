"""Time from a ticket's creation to the fleet's tagged write: webhook intake against the sweep, and
webhook intake beside a backlog.

    .venv/bin/python bench/intake_latency.py [--rate 60] [--duration 120] [--backlog 600]

Four configurations, one after another in one run, each on a fresh Zendesk simulator (OAuth only,
default search index lag, 30 s) that creates tickets at a steady rate: webhook intake with the
rules, webhook intake with the LLM simulator (mean latency 3.5 s), sweep-only intake (beat at the
default SWEEP_INTERVAL, 60 s), and webhook intake with the LLM while a backlog of `--backlog`
tickets runs (dispatched by `python -m app run` just before the new tickets start; the LLM
simulator's default quota, 200,000 tokens a minute, holds the backlog at about 170 tickets a minute,
so it outlasts the new tickets). Each runs the workers of a host (README: Two pools); the webhook
ones also `python -m app webhook`, on an account made ready by `python -m app zendesk setup`, whose
trigger sends a signed webhook per new ticket. Latency is measured by the simulator: from the
ticket's creation to the API's first write to it (the fleet's tags and private note). Ends with one
JSON line of p50/p95/max per configuration and backlog_p95_over_quiet_p95: how much a backlog slows
a new ticket.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import parse_args  # noqa: E402

from sim.launcher.stack import LocalStack, wait_until  # noqa: E402

DEFAULT_SWEEP_INTERVAL = 60.0  # app.settings: SWEEP_INTERVAL without webhooks


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def measure(
    name: str,
    rate: float,
    duration: float,
    webhooks: bool,
    llm: bool,
    redis_url: str | None,
    workdir: Path,
    backlog: int = 0,
) -> dict[str, float | int | str]:
    stack = LocalStack(
        workdir=workdir / name,
        tickets=backlog,
        redis_prefix=f"bench-{secrets.token_hex(4)}:",
        sweep_interval=DEFAULT_SWEEP_INTERVAL,
    )
    with stack:
        stack.start_redis(redis_url)
        if webhooks:
            stack.enable_webhooks()
        stack.start_simulator()
        if llm:
            stack.start_llm_simulator(["--latency-mean", "3.5"])
        else:
            stack.extra_env["LLM_PROVIDER"] = "rules"
        if webhooks:
            stack.start_webhook()
        workers = stack.start_host_workers()
        if not backlog:
            stack.start_beat()  # with a backlog, the run below is the only sweep
        stack.wait_for_workers(workers, timeout=180)
        if backlog:
            stack.run_app("run", "--limit", str(backlog), timeout=300, check=True)
        stack.sim("/_sim/config", "POST", json={"arrival_rate": rate})
        time.sleep(duration)
        stack.sim("/_sim/config", "POST", json={"arrival_rate": 0})
        backlog_left = backlog - sum(
            1
            for ticket_id in range(1, backlog + 1)
            if stack.sim(f"/_sim/tickets/{ticket_id}")["timing"]["first_api_write"]
        )
        created = stack.stats()["tickets_created"]
        wait_until(
            lambda: stack.stats()["tickets_ai_processed"] >= created, 1200, f"{name}: every ticket tagged", interval=1.0
        )
        latencies = []
        for ticket_id in range(backlog + 1, created + 1):
            timing = stack.sim(f"/_sim/tickets/{ticket_id}")["timing"]
            latencies.append(timing["first_api_write"] - timing["created"])
        stats = stack.stats()
        llm_latencies = [ms / 1000 for ms in stack.llm_sim("/_sim/stats")["sampled_latencies_ms"]] if llm else []
    created -= backlog
    figures: dict[str, float | int | str] = {
        "tickets": created,
        "p50_s": round(statistics.median(latencies), 2),
        "p95_s": round(percentile(latencies, 0.95), 2),
        "max_s": round(max(latencies), 2),
        "notes_max": stats["max_ai_notes_per_ticket"],
        "responses_429": stats["responses_429"],
    }
    if webhooks:  # how fast the receiver answered Zendesk (which waits 12 s)
        sent = stats["webhooks"]
        answers = sum(count for key, count in sent.items() if key.startswith("answered_"))
        figures.update(
            webhooks_delivered=sent.get("delivered", 0),
            receiver_answer_mean_ms=round(sent.get("answer_ms_total", 0) / max(1, answers), 1),
            receiver_answer_max_ms=sent.get("max_answer_ms", 0),
        )
    if backlog:  # the backlog was still running when the last new ticket came: it did not wait it out
        figures.update(backlog=backlog, backlog_left_when_new_tickets_stopped=backlog_left)
    if llm_latencies:  # the LLM's own time per answer, for the target "its p95 plus 3 s"
        figures.update(
            llm_own_p50_s=round(statistics.median(llm_latencies), 2),
            llm_own_p95_s=round(percentile(llm_latencies, 0.95), 2),
        )
    print(
        f"  {name:<16} {figures['tickets']:>4} tickets  p50 {figures['p50_s']:>6.2f} s  "
        f"p95 {figures['p95_s']:>6.2f} s  max {figures['max_s']:>6.2f} s  "
        f"(max notes per ticket {figures['notes_max']}, Zendesk 429s {figures['responses_429']})"
        + (
            f"; receiver answered in {figures['receiver_answer_mean_ms']} ms mean, "
            f"{figures['receiver_answer_max_ms']} ms max"
            if webhooks
            else ""
        )
        + (
            f"; the LLM's own p50 {figures['llm_own_p50_s']} s, p95 {figures['llm_own_p95_s']} s"
            if llm_latencies
            else ""
        )
        + (f"; backlog of {backlog}: {backlog_left} still waiting when the new tickets stopped" if backlog else ""),
        flush=True,
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=60.0, help="tickets created per minute")
    parser.add_argument("--duration", type=float, default=120.0, help="seconds tickets are created for")
    parser.add_argument("--backlog", type=int, default=600, help="tickets of the backlog the last configuration runs")
    args, workdir = parse_args(parser, argv, "bench-intake-")
    print(f"tickets created at {args.rate:g}/min for {args.duration:g} s; creation to tagged write; logs: {workdir}")
    results = {
        "webhook_rules": measure("webhook + rules", args.rate, args.duration, True, False, args.redis_url, workdir),
        "webhook_llm": measure("webhook + LLM", args.rate, args.duration, True, True, args.redis_url, workdir),
        "sweep_only": measure("sweep only", args.rate, args.duration, False, False, args.redis_url, workdir),
        "webhook_llm_backlog": measure(
            "webhook + LLM beside a backlog",
            args.rate,
            args.duration,
            True,
            True,
            args.redis_url,
            workdir,
            backlog=args.backlog,
        ),
    }
    sweep_p95 = float(results["sweep_only"]["p95_s"])
    speedup = round(sweep_p95 / float(results["webhook_rules"]["p95_s"]), 1)
    llm_margin = round(float(results["webhook_llm"]["p95_s"]) - float(results["webhook_llm"]["llm_own_p95_s"]), 2)
    backlog_ratio = round(float(results["webhook_llm_backlog"]["p95_s"]) / float(results["webhook_llm"]["p95_s"]), 2)
    print(
        f"p95 sweep-only / webhook with the rules: {speedup}x; webhook with the LLM: p95 is the LLM's own p95 "
        f"plus {llm_margin} s; beside a backlog, a new ticket's p95 is {backlog_ratio}x the quiet one's"
    )
    print(
        json.dumps(
            {
                **{f"{name}_{key}": value for name, figures in results.items() for key, value in figures.items()},
                "sweep_interval_s": DEFAULT_SWEEP_INTERVAL,
                "rate_per_min": args.rate,
                "p95_speedup_vs_sweep": speedup,
                "webhook_llm_p95_over_llm_p95_s": llm_margin,
                "backlog_p95_over_quiet_p95": backlog_ratio,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
