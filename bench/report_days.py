"""What `python -m app report --since` costs with a busy account's history, against a reader that
asks Redis for each run's summary alone and parses every summary file in LOG_DIR.

    .venv/bin/python bench/report_days.py [--days 30] [--runs-per-day 300] [--tickets-per-run 3]

A busy account's webhooks make hundreds of small runs a day. The history is made first: a summary
file per run in a scratch LOG_DIR (`--days` days of `--runs-per-day` runs of `--tickets-per-run`
tickets, plus as many days again before the window), and Redis holding the newest runs as the fleet
keeps them (app.fleet.store: the newest 500 listed). Then, side by side for `--since 7d` and the
whole window: the fleet's reader (app.ops.daily.collect: one MGET per 200 summaries, files chosen
by their names) and the naive one, each followed by the same aggregation, with their Redis round
trips. Ends with one JSON line: seconds for each, the ratios, and the round trips.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import RoundTrips, parse_args  # noqa: E402

from app.domain.models import TicketResult  # noqa: E402
from app.domain.summary import RunSummary, build_summary, write_summary_file  # noqa: E402
from app.fleet.store import RunStore  # noqa: E402
from app.ops.daily import aggregate, collect  # noqa: E402
from sim.launcher.stack import LocalStack  # noqa: E402

FIELDS = ["root_cause", "urgency", "sentiment"]


def history(log_dir: Path, store: RunStore, days: int, per_day: int, tickets: int, now: float) -> int:
    """Summary files for 2 * `days` days (half before the window), the newest runs in Redis too."""
    made = 0
    total = 2 * days * per_day
    for n in range(total):
        finished = now - (total - n) * (86400 / per_day)
        results = [
            TicketResult(
                ticket_id=n * tickets + t,
                status="fallback" if t == 1 else "success",
                processing_time=1.0,
                claimed_at=finished - 20,
                created_at=finished - 30 - t,
                written_at=finished - 1,
                analysis={"provider": "llm"},
                cost_usd=0.0003,
            )
            for t in range(tickets)
        ]
        summary = build_summary(f"run{n:06d}", finished - 25, False, results, FIELDS, finished, "webhook")
        summary.file = str(write_summary_file(log_dir, summary))
        if n >= total - 600:
            store.start(summary.id, tickets, False, finished - 25)
            store.save_summary(summary)
        made += 1
    return made


def naive(store: RunStore, log_dir: Path, start: datetime) -> list[RunSummary]:
    """One GET per listed run, and every file parsed."""
    found: dict[str, RunSummary] = {}
    for run_id in store.run_ids_since(start.timestamp() - 86400):
        summary = store.summary(run_id)
        if summary is not None:
            found[summary.id] = summary
    for path in sorted(log_dir.glob("results_*.json")):
        summary = RunSummary.model_validate_json(path.read_text(encoding="utf-8"))
        found.setdefault(summary.id, summary)
    return list(found.values())


def timed(reader: Any, client: Any, prefix: str, log_dir: Path, window: timedelta, fleet: bool) -> dict[str, Any]:
    trips = RoundTrips(client)
    store = RunStore(trips, prefix)  # type: ignore[arg-type]
    end = datetime.now(UTC)
    start = end - window
    began = time.perf_counter()
    if fleet:
        summaries, dead = reader(store, trips, prefix, log_dir, start)
    else:
        summaries, dead = reader(store, log_dir, start), []
    report = aggregate(summaries, dead, start, end)
    return {"seconds": round(time.perf_counter() - began, 3), "runs": report["runs"], "round_trips": trips.round_trips}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--runs-per-day", type=int, default=300)
    parser.add_argument("--tickets-per-run", type=int, default=3)
    args, workdir = parse_args(parser, argv, "bench-report-days-")
    stack = LocalStack(workdir=workdir / "redis", redis_prefix=f"bench-{secrets.token_hex(4)}:")
    with stack:
        stack.start_redis(args.redis_url)
        client = stack.redis()
        log_dir = workdir / "results"
        began = time.perf_counter()
        made = history(
            log_dir,
            RunStore(client, stack.redis_prefix),
            args.days,
            args.runs_per_day,
            args.tickets_per_run,
            time.time(),
        )
        print(f"history: {made} runs in {time.perf_counter() - began:.1f}s ({log_dir})")
        figures: dict[str, Any] = {"runs_per_day": args.runs_per_day, "history_runs": made}
        for label, window in (("7d", timedelta(days=7)), (f"{args.days}d", timedelta(days=args.days))):
            fleet = timed(collect, client, stack.redis_prefix, log_dir, window, fleet=True)
            plain = timed(naive, client, stack.redis_prefix, log_dir, window, fleet=False)
            assert fleet["runs"] == plain["runs"], (fleet, plain)
            ratio = plain["seconds"] / fleet["seconds"] if fleet["seconds"] else float("inf")
            print(
                f"--since {label}: {fleet['runs']} runs; fleet {fleet['seconds']}s "
                f"({fleet['round_trips']} round trips), naive {plain['seconds']}s "
                f"({plain['round_trips']} round trips): {ratio:.1f}x"
            )
            key = "week" if label == "7d" else "window"
            figures.update(
                {
                    f"{key}_runs": fleet["runs"],
                    f"{key}_seconds": fleet["seconds"],
                    f"{key}_naive_seconds": plain["seconds"],
                    f"{key}_naive_over_fleet": round(ratio, 2),
                    f"{key}_round_trips": fleet["round_trips"],
                    f"{key}_naive_round_trips": plain["round_trips"],
                }
            )
    shutil.rmtree(log_dir)  # tens of thousands of small files: nothing to read afterwards
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
