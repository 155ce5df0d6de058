"""The run summary: the seed's results JSON plus counts an operator needs at a glance."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from app.models import TicketResult


def build_summary(run_id: str, started_at: float, dry_run: bool, results: list[TicketResult], finished_at: float | None = None) -> dict[str, Any]:
    """Totals, failures by reason, per-category counts and time for one run."""
    finished_at = finished_at or time.time()
    done = [r for r in results if r.status in ("success", "fallback")]
    failed = [r for r in results if r.status == "failed"]
    analysed = [r.analysis for r in results if r.analysis]
    times = [r.processing_time for r in results]
    cost = sum(r.cost_usd for r in results)
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
        "avg_time_per_ticket": round(sum(times) / len(times), 3) if times else 0.0,
        "total_time": round(finished_at - started_at, 3),
        "cost_estimate": round(cost, 6),
        "tokens_total": sum(r.tokens for r in results),
        "failures_by_reason": dict(Counter(_reason(r) for r in failed)),
        "by_root_cause": dict(Counter(a["root_cause"] for a in analysed)),
        "by_urgency": dict(Counter(a["urgency"] for a in analysed)),
        "by_sentiment": dict(Counter(a["sentiment"] for a in analysed)),
        "results": [r.model_dump() for r in sorted(results, key=lambda r: r.ticket_id)],
    }


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
        f"  time: {summary['total_time']:.1f}s total, {summary['avg_time_per_ticket']:.2f}s per ticket"
        f"  cost: ${summary['cost_estimate']:.4f}",
    ]
    for title, key in (("root cause", "by_root_cause"), ("urgency", "by_urgency"), ("sentiment", "by_sentiment")):
        counts = summary.get(key) or {}
        if counts:
            lines.append(f"  {title}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for reason, count in (summary.get("failures_by_reason") or {}).items():
        lines.append(f"  failed ({count}): {reason}")
    return "\n".join(lines)
