"""What end-to-end tests do with a stack: the operator's `run --wait`, and the crashed-host
scenario that the Redis and RabbitMQ suites share."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from app.fleet.claims import Claims, DeadLetters
from sim.launcher.stack import LocalStack, wait_until

# Generous Zendesk limits, for tests about correctness (the quota tests live with the limiter).
FAST_ZENDESK = ["--rate-limit", "100000", "--update-rate-limit", "100000"]


def run_and_summarise(stack: LocalStack, wait: float = 240) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
    """`python -m app run --wait`, which must succeed, and the one run summary it produced."""
    result = stack.run_app("run", "--wait", "--timeout", str(int(wait)), timeout=wait + 60)
    assert result.returncode == 0, result.stdout + result.stderr
    (summary,) = stack.summaries(5)
    return summary, result


@dataclass
class CrashOutcome:
    """What a run saw after one of its two workers was killed whole (kill -9 of its process group)."""

    out: str
    err: str
    returncode: int
    written_at_kill: int
    seconds_after_kill: float
    dead_letters: set[int]
    stats: dict[str, Any]


def kill_a_worker_mid_run(
    stack: LocalStack,
    worker_options: dict[str, str],
    written_before_kill: int,
    before_kill: Callable[[], None] = lambda: None,
) -> CrashOutcome:
    """Two workers, `doomed` and `survivor`; an operator's `run --wait`; once `written_before_kill`
    tickets are written, the whole doomed worker dies as a crashed host would (pool children
    included). Returns what the run and the simulator saw when the run ended."""
    doomed = stack.start_worker("doomed", **worker_options)
    stack.start_worker("survivor", **worker_options)
    stack.wait_for_workers(2)
    runner = stack.start_app("run", "--wait", "--timeout", "400")
    wait_until(
        lambda: stack.stats()["tickets_ai_processed"] >= written_before_kill,
        120,
        f"{written_before_kill} tickets written",
    )
    before_kill()
    written_at_kill = stack.stats()["tickets_ai_processed"]
    os.killpg(doomed.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    out, err = runner.communicate(timeout=460)
    claims = Claims(stack.redis(), 60, 60, stack.redis_prefix)
    return CrashOutcome(
        out,
        err,
        runner.returncode,
        written_at_kill,
        time.monotonic() - killed_at,
        {entry["ticket_id"] for entry in DeadLetters(claims).entries()},
        stack.stats(),
    )


def assert_nothing_lost_or_written_twice(outcome: CrashOutcome, stack: LocalStack, tickets: int) -> None:
    """Every ticket updated once or dead-lettered, one note each, and the chord's summary complete."""
    assert "tickets dispatched" in outcome.out, outcome.out + outcome.err
    assert outcome.returncode == (1 if outcome.dead_letters else 0), outcome.out + outcome.err
    assert outcome.written_at_kill < tickets  # killed mid-run
    stats = outcome.stats
    assert stats["max_ai_notes_per_ticket"] == 1 and stats["tickets_with_multiple_notes"] == 0, stats
    assert stats["tickets_ai_processed"] + len(outcome.dead_letters) == tickets, (stats, outcome.dead_letters)
    assert stats["tickets_ai_processed"] == stats["notes_total"]
    (summary,) = stack.summaries(5)  # the chord summary arrived
    assert summary["total"] == tickets and len({r["ticket_id"] for r in summary["results"]}) == tickets
