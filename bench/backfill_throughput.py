"""Backfill throughput with the rules: `python -m app backfill` through the fleet, beside the same
rows redacted and classified in one plain process (the ceiling of a single core, no Celery).

    .venv/bin/python bench/backfill_throughput.py [--rows 10000]

The rows are generated tickets (sim.ticketgen, seeded personal data). The fleet side is the
README's worker command (`celery -A app worker --autoscale=50,10`) and the CLI as a user runs it,
its start-up included; the single-process side loads the same redactor first and is timed from
its first row. Ends with one JSON line: rows, fleet_seconds, fleet_rows_per_s,
single_process_rows_per_s, ratio.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import parse_args  # noqa: E402

from sim.launcher.stack import LocalStack  # noqa: E402
from sim.ticketgen import generate_ticket  # noqa: E402

SINGLE_PROCESS = """
import json, sys, time
from app.domain.rules import RulesClassifier
from app.domain.taxonomy import load_taxonomy
from app.intake.backfill import Rejected, chunks, read_rows, triage_rows, RULES_CHUNK
from app.redaction.redactor import Redactor
redactor, classifier = Redactor(), RulesClassifier(load_taxonomy(None))
rows = [row for row in read_rows(__import__("pathlib").Path(sys.argv[1])) if not isinstance(row, Rejected)]
started = time.monotonic()
done = sum(len(triage_rows(part, redactor, classifier, False)) for part in chunks(rows, RULES_CHUNK))
print(json.dumps({"rows": done, "seconds": time.monotonic() - started}))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args, workdir = parse_args(parser, argv, "bench-backfill-")
    rng = random.Random(11)
    source = workdir / "history.jsonl"
    with source.open("w") as handle:
        for _ in range(args.rows):
            ticket = generate_ticket(rng)
            handle.write(json.dumps({"subject": ticket.subject, "description": ticket.description}) + "\n")

    stack = LocalStack(workdir=workdir, tickets=0, redis_prefix=f"bench-{secrets.token_hex(4)}:")
    with stack:
        stack.start_redis(args.redis_url)
        stack.start_simulator()  # only so the settings are complete: backfill never calls Zendesk
        stack.extra_env["LLM_PROVIDER"] = "rules"
        stack.start_worker("worker", autoscale="50,10")
        stack.wait_for_workers(1, timeout=180)
        started = time.monotonic()
        done = stack.run_app("backfill", str(source), "--output", str(workdir / "out.jsonl"), timeout=3600)
        fleet_seconds = time.monotonic() - started
        if done.returncode != 0:
            raise SystemExit(f"backfill failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    single = json.loads(
        subprocess.run(
            [sys.executable, "-c", SINGLE_PROCESS, str(source)], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.splitlines()[-1]
    )
    written = sum(1 for _ in (workdir / "out.jsonl").open())
    fleet_rate = written / fleet_seconds
    single_rate = single["rows"] / single["seconds"]
    print(done.stdout.strip())
    print(
        f"fleet (python -m app backfill, worker --autoscale=50,10): {written} rows in {fleet_seconds:.1f} s, "
        f"{fleet_rate:.1f} rows/s, start-up included"
    )
    print(
        f"one plain process, same redactor and rules: {single['rows']} rows in {single['seconds']:.1f} s, "
        f"{single_rate:.1f} rows/s"
    )
    print(f"fleet / one process: {fleet_rate / single_rate:.2f}x")
    print(
        json.dumps(
            {
                "rows": written,
                "fleet_seconds": round(fleet_seconds, 1),
                "fleet_rows_per_s": round(fleet_rate, 1),
                "single_process_rows_per_s": round(single_rate, 1),
                "ratio": round(fleet_rate / single_rate, 2),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
