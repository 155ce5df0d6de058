"""The run summary: the seed's results JSON plus counts an operator needs at a glance."""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from app.models import TicketResult


def build_summary(run_id: str, started_at: float, dry_run: bool, results: list[TicketResult],
                  fields: list[str], finished_at: float | None = None) -> dict[str, Any]:
    """Totals, failures by reason, counts per taxonomy field, tokens, cost and time for one run."""
    finished_at = finished_at or time.time()
    done = [r for r in results if r.status in ("success", "fallback")]
    failed = [r for r in results if r.status == "failed"]
    times = [r.processing_time for r in results]
    to_written = sorted(r.processing_time for r in done)
    total_time = finished_at - started_at
    cost = sum(r.cost_usd for r in results)
    tokens = sum(r.tokens for r in results)
    with_analysis = [r for r in results if r.values]
    return {
        "id": run_id,
        "timestamp": datetime.fromtimestamp(finished_at, timezone.utc).isoformat(timespec="seconds"),
        "started_at": datetime.fromtimestamp(started_at, timezone.utc).isoformat(timespec="seconds"),
        "dry_run": dry_run,
        "total": len(results),
        "processed": len(done),
        "failed": len(failed),
        "fallbacks": sum(1 for r in results if r.status == "fallback"),
        "skipped": sum(1 for r in results if r.status == "skipped"),
        # The seed's figure: the mean of each ticket's claim-to-outcome seconds (a latency).
        "avg_time_per_ticket": round(sum(times) / len(times), 3) if times else 0.0,
        # Claim to written, per ticket written: from the sweep's claim until Zendesk held the
        # tags and note. A latency, not a cost per ticket: tickets are worked on side by side.
        "time_to_written_p50": round(percentile(to_written, 50), 3),
        "time_to_written_p95": round(percentile(to_written, 95), 3),
        "total_time": round(total_time, 3),
        # Throughput: tickets written over the run's wall time, sweep to summary.
        "tickets_per_minute": round(len(done) / total_time * 60, 1) if total_time > 0 else 0.0,
        "cost_estimate": round(cost, 6),
        "cost_per_ticket": round(cost / len(results), 8) if results else 0.0,
        "tokens_total": tokens,
        "prompt_tokens_total": sum(r.prompt_tokens for r in results),
        "completion_tokens_total": sum(r.completion_tokens for r in results),
        "tokens_per_ticket": round(tokens / len(results), 1) if results else 0.0,
        "llm_cache_hits": sum(1 for r in results if r.analysis and r.analysis.get("cached")),
        "fallbacks_by_reason": dict(Counter(r.analysis.get("fallback_reason") for r in results
                                            if r.status == "fallback" and r.analysis)),
        "failures_by_reason": dict(Counter(_reason(r) for r in failed)),
        **{f"by_{field}": dict(Counter(r.values[field] for r in with_analysis if field in r.values))
           for field in fields},
        "results": [r.model_dump() for r in sorted(results, key=lambda r: r.ticket_id)],
    }


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile of sorted values (0 for none)."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _reason(result: TicketResult) -> str:
    return f"{result.stage or 'unknown'}: {result.error or 'unknown error'}"


def write_summary_file(log_dir: Path, summary: dict[str, Any]) -> Path:
    """`LOG_DIR/results_<YYYYmmdd_HHMMSS>.json`; a second run in the same second gets a suffix."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(summary["timestamp"]).strftime("%Y%m%d_%H%M%S")
    path = log_dir / f"results_{stamp}.json"
    suffix = 1
    while True:
        try:
            with path.open("x", encoding="utf-8") as handle:  # "x": never overwrite another run
                json.dump(summary, handle, indent=2)
            return path
        except FileExistsError:
            suffix += 1
            path = log_dir / f"results_{stamp}_{suffix}.json"


def format_summary(summary: dict[str, Any]) -> str:
    """A few lines for a terminal."""
    lines = [
        f"Run {summary['id']}{' (dry run)' if summary.get('dry_run') else ''}",
        f"  tickets: {summary['total']}  processed: {summary['processed']}  failed: {summary['failed']}"
        f"  fallbacks: {summary.get('fallbacks', 0)}  skipped: {summary.get('skipped', 0)}",
        f"  throughput: {summary.get('tickets_per_minute', 0):.1f} tickets/min (tickets written / the run's "
        f"{summary['total_time']:.1f}s from sweep to summary)",
        f"  claim to written, per ticket: p50 {summary.get('time_to_written_p50', 0):.1f}s, "
        f"p95 {summary.get('time_to_written_p95', 0):.1f}s (from the sweep's claim until Zendesk held the "
        "tags and note; tickets are worked on side by side)",
        f"  LLM: {summary.get('tokens_total', 0)} tokens ({summary.get('tokens_per_ticket', 0)} per ticket), "
        f"cost ${summary['cost_estimate']:.4f} (${summary.get('cost_per_ticket', 0):.6f} per ticket), "
        f"{summary.get('llm_cache_hits', 0)} cache hits",
    ]
    for key, counts in summary.items():
        if key.startswith("by_") and counts:
            title = key.removeprefix("by_").replace("_", " ")
            lines.append(f"  {title}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for reason, count in (summary.get("fallbacks_by_reason") or {}).items():
        lines.append(f"  fallback ({count}): {reason}")
    for reason, count in (summary.get("failures_by_reason") or {}).items():
        lines.append(f"  failed ({count}): {reason}")
    return "\n".join(lines)
