"""`make demo`: the whole fleet against the bundled Zendesk simulator, start to finish.

Starts Redis (REDIS_URL when reachable, else an embedded redis-server), the Zendesk simulator
seeded with 200 tickets as a new account is today (OAuth only: it refuses API tokens), the OpenAI
simulator, and makes the account ready with `python -m app zendesk setup` (the webhook, its signing
secret into an env file, the announce and priority triggers). Then the webhook receiver
(`python -m app webhook`), the workers of a host (CPU: prefork, a child per core, on
redact/sweep/intake; I/O: 200 threads on intake_io/classify/zendesk; intake: 32 threads on
intake_io), beat and Flower. Beat's sweeps
take the seeded backlog; while they run, new tickets are created one a second and the simulator's
trigger announces each with a signed webhook, so both ways in show. Waits until every ticket
carries `ai_processed`; prints the run summaries and how each way in did; stops everything it
started (also on Ctrl+C).
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.domain.summary import RunSummary, format_summary, percentile
from app.fleet.store import RunStore
from sim.launcher.stack import ROOT, LocalStack, wait_until


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def aggregate(summaries: list[RunSummary]) -> dict[str, Any]:
    """Totals over several runs (beat may split the backlog over a few sweeps)."""
    return {
        key: sum(getattr(summary, key) for summary in summaries)
        for key in ("total", "processed", "failed", "fallbacks", "skipped", "cost_estimate")
    }


def run_demo(args: argparse.Namespace, console: Console) -> int:
    workdir = Path(args.workdir).resolve()
    # The simulators keep Zendesk's and OpenAI's documented limits, counted per minute / time_scale:
    # at the real pace the fleet's share of Update Ticket (50 priority raises a minute) alone would
    # make 200 tickets a four-minute wait.
    window = f"{60 / args.time_scale:g}"
    stack = LocalStack(
        workdir=workdir,
        tickets=args.tickets,
        seed=args.seed,
        sweep_interval=args.sweep_interval,
        sim_options=["--rate-window", window],
    )
    stack.enable_webhooks()
    with stack:
        redis_url = stack.start_redis()
        if not stack.owns_redis:
            # A shared server: keep this demo's keys apart from any fleet using it, and remove them after.
            stack.redis_prefix = f"demo-{int(time.time())}:"
        console.print(f"redis      {redis_url}{' (embedded redis-server)' if stack.owns_redis else ''}")
        console.print(
            f"zendesk    {stack.start_simulator()} (simulator, {args.tickets} tickets; OAuth only; "
            f"limits per {window} s, time scale {args.time_scale:g})"
        )
        for line in stack.setup_output.splitlines():
            if line.startswith(("done:", "wrote", "everything")):
                console.print(f"setup      {line}")
        if args.llm == "simulator":
            url = stack.start_llm_simulator(["--latency-mean", str(args.llm_latency), "--rate-window", window])
            console.print(f"llm        {url}/v1 (OpenAI simulator, mean latency {args.llm_latency}s)")
        else:
            console.print("llm        none: the offline rules classify")
        stack.start_webhook()
        console.print(
            f"webhook    {stack.webhook_url}/zendesk/webhook (signed deliveries from the simulator's trigger)"
        )
        workers = stack.start_host_workers()
        console.print(
            "workers    cpu@ (prefork, a child per core: redact, sweep, intake), "
            "io@ (200 threads: intake_io, classify, zendesk), intake@ (32 threads: intake_io)"
        )
        stack.wait_for_workers(
            workers, timeout=180
        )  # tickets created before a worker is up would only measure its start
        stack.start_beat()
        stack.start_flower()
        console.print(f"flower     http://127.0.0.1:{stack.flower_port}")
        console.print(f"logs       {workdir}")
        started = time.time()
        new_ids: list[int] = []
        with Progress(
            TextColumn("[bold]triaged"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
        ) as progress:
            bar = progress.add_task("tickets", total=args.tickets + args.new_tickets)
            while True:
                if len(new_ids) < args.new_tickets:  # a new ticket a second, announced by webhook
                    new_ids += stack.sim("/_sim/tickets", "POST", json={"count": 1})["ids"]
                stats = stack.stats()
                progress.update(bar, completed=stats["tickets_ai_processed"], total=stats["tickets_total"])
                if stats["tickets_ai_processed"] >= stats["tickets_total"] and len(new_ids) >= args.new_tickets:
                    break
                dead = [p.name for p in stack.processes if not p.alive()]
                if dead:
                    console.print(f"[red]stopped unexpectedly: {', '.join(dead)} (see {workdir})")
                    return 1
                if time.time() - started > args.timeout:
                    console.print(f"[red]timed out after {args.timeout:.0f}s")
                    return 1
                time.sleep(1)
        store = RunStore(stack.redis(), stack.redis_prefix)
        summaries = wait_for_summaries(store, started)
        stats = stack.stats()  # again: priority raises trail the tags the loop above waited for
        # The sweeps' runs in full; the webhook runs (one per few tickets) add up in "ways in" below.
        for summary in reversed([s for s in summaries if s.source == "sweep"]):
            console.print(format_summary(summary))
            console.print(f"  summary file: {summary.file}")
        if len(summaries) > 1:
            console.print(f"All runs: {aggregate(summaries)}")
        console.print(ways_in(stack, summaries, new_ids))
        console.print(
            f"simulator: {stats['tickets_ai_processed']}/{stats['tickets_total']} tickets tagged, "
            f"max notes per ticket {stats['max_ai_notes_per_ticket']}, "
            f"{stats['tickets_priority_raised_by_trigger']} priorities raised by Zendesk's triggers, "
            f"{stats['requests_by_endpoint'].get('ticket_update', 0)} single-ticket PUTs, "
            f"{stats['requests_total']} API requests, {stats['responses_429']} answered 429; "
            f"{stats['oauth']['tokens_issued']} OAuth tokens issued, "
            f"{stats['requests_by_auth'].get('api_token', 0)} requests with an API token"
        )
        console.print(f"demo finished in {time.time() - started:.0f}s; stopping everything")
        failed = sum(s.failed for s in summaries)
        return 0 if stats["max_ai_notes_per_ticket"] <= 1 and not failed else 1


def ways_in(stack: LocalStack, summaries: list[RunSummary], new_ids: list[int]) -> str:
    """How many tickets each way in triaged, and how soon the webhook-announced ones were tagged."""
    by_source = {source: sum(s.processed for s in summaries if s.source == source) for source in ("sweep", "webhook")}
    latencies = announced_latencies(stack, new_ids)
    delivered = stack.stats()["webhooks"].get("delivered", 0)
    webhook_runs = sum(1 for s in summaries if s.source == "webhook")
    line = (
        f"ways in: {by_source['sweep']} tickets by sweeps, {by_source['webhook']} by webhooks "
        f"({delivered} signed deliveries, {webhook_runs} runs)"
    )
    if latencies:
        line += (
            f"; new tickets, creation to tags and note: p50 {statistics.median(latencies):.1f}s, "
            f"p95 {percentile(latencies, 95):.1f}s, max {max(latencies):.1f}s"
        )
    return line


def announced_latencies(stack: LocalStack, ticket_ids: list[int]) -> list[float]:
    """Seconds from each ticket's creation to the first write of its tags and note, by the simulator's clock."""
    latencies = []
    for ticket_id in ticket_ids:
        timing = stack.sim(f"/_sim/tickets/{ticket_id}")["timing"]
        if timing["first_api_write"]:
            latencies.append(timing["first_api_write"] - timing["created"])
    return latencies


def wait_for_summaries(store: RunStore, since: float, timeout: float = 300) -> list[RunSummary]:
    """Summaries of the runs started since `since`, once every one of them has finished (a run's
    priority raises trail its tags and notes: they go at the fleet's share of Update Ticket)."""

    def runs() -> list[str]:
        return store.run_ids_since(since - 1)

    try:
        wait_until(lambda: all(store.summary(r) is not None for r in runs()), timeout, "run summaries", 0.5)
    except TimeoutError:
        pass
    return [s for s in (store.summary(r) for r in reversed(runs())) if s is not None]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sim.launcher.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--new-tickets",
        type=int,
        default=20,
        help="tickets created one a second while the demo runs, each announced by a webhook",
    )
    parser.add_argument("--sweep-interval", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=600.0, help="give up after this many seconds")
    parser.add_argument("--workdir", default=str(ROOT / "logs" / "demo"))
    parser.add_argument(
        "--llm",
        choices=("simulator", "rules"),
        default="simulator",
        help="classify through the bundled OpenAI simulator (default) or the offline rules",
    )
    parser.add_argument("--llm-latency", type=float, default=3.5, help="simulator's mean latency, seconds")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=6.0,
        help="the simulators count their per-minute limits over 60/SCALE seconds (1: real time)",
    )
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    console = Console()
    try:
        return run_demo(args, console)
    except KeyboardInterrupt:
        console.print("interrupted; everything the demo started has been stopped")
        return 130


if __name__ == "__main__":
    sys.exit(main())
