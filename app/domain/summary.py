"""The run summary: the seed's results JSON plus counts an operator needs at a glance.

`RunSummary` is the one type every reader uses (the CLI, the HTML report, alerts, the demo); it
is stored as JSON in Redis and in `LOG_DIR/results_<YYYYmmdd_HHMMSS>.json`, in the seed's flat
shape (a `by_<field>` key per taxonomy field).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from app.domain.models import WRITTEN, TicketResult

DISTRIBUTION_PREFIX = "by_"


class RunSummary(BaseModel):
    """One run: totals, speed, cost, counts per taxonomy value, and every ticket's record."""

    id: str
    timestamp: str  # when it finished, ISO 8601 UTC
    started_at: str
    dry_run: bool = False
    # What found the run's tickets: "sweep" (beat or the CLI), "webhook" or "backfill" (its write).
    source: str = "sweep"
    total: int
    processed: int  # written: success or fallback
    failed: int
    fallbacks: int = 0
    skipped: int = 0
    # Tickets handled (success or fallback) by what reached Zendesk: live (tags and note), suggest
    # (the note alone), shadow (nothing; the prediction recorded). TRIAGE_MODE and the taxonomy's
    # field modes decide it.
    modes: dict[str, int] = Field(default_factory=dict)
    # The seed's figure: the mean of each ticket's claim-to-outcome seconds (a latency).
    avg_time_per_ticket: float = 0.0
    # Claim to written, per ticket written: from the sweep's claim until Zendesk held the tags and
    # note. A latency, not a cost per ticket: tickets are worked on side by side.
    time_to_written_p50: float = 0.0
    time_to_written_p95: float = 0.0
    total_time: float  # seconds from the sweep to the summary
    tickets_per_minute: float = 0.0  # tickets written over total_time
    cost_estimate: float = 0.0
    cost_per_ticket: float = 0.0
    tokens_total: int = 0
    prompt_tokens_total: int = 0
    completion_tokens_total: int = 0
    tokens_per_ticket: float = 0.0
    llm_cache_hits: int = 0
    # The local model's gate (LOCAL_GATE_CONFIDENCE): tickets it answered without the LLM, the
    # requests and dollars that spared (at this run's mean cost of an LLM-answered ticket), and on
    # the audited sample the LLM still answered, how often every field / each field agreed.
    gated: int = 0
    llm_calls_saved: int = 0
    llm_cost_saved: float = 0.0
    gate_audited: int = 0
    gate_agreement: float | None = None
    gate_agreement_by_field: dict[str, float] = Field(default_factory=dict)
    # How often people changed what the fleet wrote, per field, as `python -m app train
    # --from-zendesk` last measured it on solved tickets ({measured_at, since_days, fleet_triaged,
    # fields: {FIELD: {fleet_answers, changed_by_people, rate}}}); None until measured.
    agent_override: dict[str, Any] | None = None
    fallbacks_by_reason: dict[str, int] = Field(default_factory=dict)
    failures_by_reason: dict[str, int] = Field(default_factory=dict)
    # Per taxonomy field, how many tickets got each value; stored as `by_<field>` keys.
    distributions: dict[str, dict[str, int]] = Field(default_factory=dict)
    results: list[TicketResult] = Field(default_factory=list)
    file: str | None = None  # the results file, once written

    @model_validator(mode="before")
    @classmethod
    def _gather_distributions(cls, data: Any) -> Any:
        if isinstance(data, dict) and "distributions" not in data:
            data = {
                **data,
                "distributions": {
                    key.removeprefix(DISTRIBUTION_PREFIX): value
                    for key, value in data.items()
                    if key.startswith(DISTRIBUTION_PREFIX)
                },
            }
        return data

    @model_serializer(mode="wrap")
    def _seed_shape(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        distributions = data.pop("distributions", {})
        results = data.pop("results", [])
        if data.get("file") is None:
            data.pop("file", None)
        return {
            **data,
            **{f"{DISTRIBUTION_PREFIX}{name}": counts for name, counts in distributions.items()},
            "results": results,
        }


def build_summary(
    run_id: str,
    started_at: float,
    dry_run: bool,
    results: list[TicketResult],
    fields: list[str],
    finished_at: float | None = None,
    source: str = "sweep",
) -> RunSummary:
    """Totals, failures by reason, counts per taxonomy field, tokens, cost and time for one run."""
    finished_at = finished_at or time.time()
    done = [r for r in results if r.status in WRITTEN]
    failed = [r for r in results if r.status == "failed"]
    times = [r.processing_time for r in results]
    to_written = sorted(r.processing_time for r in done)
    total_time = finished_at - started_at
    cost = sum(r.usage.cost_usd for r in results)
    tokens = sum(r.usage.tokens for r in results)
    with_analysis = [r for r in results if r.values]
    count = len(results)
    gate = _gate_figures(results, fields)
    return RunSummary(
        id=run_id,
        timestamp=_iso(finished_at),
        started_at=_iso(started_at),
        dry_run=dry_run,
        source=source,
        total=count,
        processed=len(done),
        failed=len(failed),
        fallbacks=sum(1 for r in results if r.status == "fallback"),
        skipped=sum(1 for r in results if r.status == "skipped"),
        modes=dict(Counter(r.mode for r in done)),
        avg_time_per_ticket=round(sum(times) / count, 3) if count else 0.0,
        time_to_written_p50=round(percentile(to_written, 50), 3),
        time_to_written_p95=round(percentile(to_written, 95), 3),
        total_time=round(total_time, 3),
        tickets_per_minute=round(len(done) / total_time * 60, 1) if total_time > 0 else 0.0,
        cost_estimate=round(cost, 6),
        cost_per_ticket=round(cost / count, 8) if count else 0.0,
        tokens_total=tokens,
        prompt_tokens_total=sum(r.usage.prompt_tokens for r in results),
        completion_tokens_total=sum(r.usage.completion_tokens for r in results),
        tokens_per_ticket=round(tokens / count, 1) if count else 0.0,
        llm_cache_hits=sum(1 for r in results if r.analysis and r.analysis.get("cached")),
        **gate,
        fallbacks_by_reason=dict(
            Counter(
                r.analysis.get("fallback_reason") or "unknown" for r in results if r.status == "fallback" and r.analysis
            )
        ),
        failures_by_reason=dict(Counter(_reason(r) for r in failed)),
        distributions={
            field: dict(Counter(r.values[field] for r in with_analysis if field in r.values)) for field in fields
        },
        results=sorted(results, key=lambda r: r.ticket_id),
    )


def _gate_figures(results: list[TicketResult], fields: list[str]) -> dict[str, Any]:
    analyses = [(r, r.analysis) for r in results if r.analysis]
    gated = sum(1 for _, a in analyses if a.get("gate") == "skipped_llm")
    llm_costs = [r.usage.cost_usd for r, a in analyses if a.get("provider") == "llm" and not a.get("cached")]
    audits = [a["gate_agreement"] for _, a in analyses if a.get("gate") == "audited" and a.get("gate_agreement")]
    return {
        "gated": gated,
        # One request per gated ticket at least (an invalid answer is asked again).
        "llm_calls_saved": gated,
        "llm_cost_saved": round(gated * statistics.fmean(llm_costs), 6) if llm_costs and gated else 0.0,
        "gate_audited": len(audits),
        "gate_agreement": round(sum(all(a.values()) for a in audits) / len(audits), 3) if audits else None,
        "gate_agreement_by_field": {
            name: round(sum(bool(a.get(name)) for a in audits) / len(audits), 3) for name in fields
        }
        if audits
        else {},
    }


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def percentile(values: list[float], q: int) -> float:
    """The q-th percentile of sorted values (0 for none)."""
    if not values:
        return 0.0
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _reason(result: TicketResult) -> str:
    return f"{result.stage or 'unknown'}: {result.error or 'unknown error'}"


def write_summary_file(log_dir: Path, summary: RunSummary) -> Path:
    """`LOG_DIR/results_<YYYYmmdd_HHMMSS>.json`; a second run in the same second gets a suffix."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.fromisoformat(summary.timestamp).strftime("%Y%m%d_%H%M%S")
    path = log_dir / f"results_{stamp}.json"
    suffix = 1
    while True:
        try:
            with path.open("x", encoding="utf-8") as handle:  # "x": never overwrite another run
                handle.write(summary.model_dump_json(indent=2))
            return path
        except FileExistsError:
            suffix += 1
            path = log_dir / f"results_{stamp}_{suffix}.json"


def format_summary(summary: RunSummary) -> str:
    """A few lines for a terminal."""
    if summary.dry_run:  # the same figures, but nothing was written: they count tickets analysed
        head = [
            f"Run {summary.id} (dry run: nothing was written to Zendesk)",
            f"  tickets: {summary.total}  analysed: {summary.processed}  failed: {summary.failed}"
            f"  fallbacks: {summary.fallbacks}  skipped: {summary.skipped}",
            f"  throughput: {summary.tickets_per_minute:.1f} tickets/min (tickets analysed / the run's "
            f"{summary.total_time:.1f}s from sweep to summary)",
            f"  sweep to analysed, per ticket: p50 {summary.time_to_written_p50:.1f}s, "
            f"p95 {summary.time_to_written_p95:.1f}s",
        ]
    else:
        head = [
            f"Run {summary.id}",
            f"  tickets: {summary.total}  processed: {summary.processed}  failed: {summary.failed}"
            f"  fallbacks: {summary.fallbacks}  skipped: {summary.skipped}",
            f"  throughput: {summary.tickets_per_minute:.1f} tickets/min (tickets written / the run's "
            f"{summary.total_time:.1f}s from sweep to summary)",
            f"  claim to written, per ticket: p50 {summary.time_to_written_p50:.1f}s, "
            f"p95 {summary.time_to_written_p95:.1f}s (from the sweep's claim until Zendesk held the "
            "tags and note; tickets are worked on side by side)",
        ]
    lines = [
        *head,
        f"  LLM: {summary.tokens_total} tokens ({summary.tokens_per_ticket} per ticket), "
        f"cost ${summary.cost_estimate:.4f} (${summary.cost_per_ticket:.6f} per ticket), "
        f"{summary.llm_cache_hits} cache hits",
    ]
    if summary.gated or summary.gate_audited:
        agreement = (
            f"; on the {summary.gate_audited} audited it agreed with the LLM on every field for "
            f"{summary.gate_agreement:.0%}"
            if summary.gate_agreement is not None
            else ""
        )
        lines.append(
            f"  gate: {summary.gated} tickets answered by the local model alone, "
            f"{summary.llm_calls_saved} LLM calls (${summary.llm_cost_saved:.4f}) saved{agreement}"
        )
    if summary.agent_override:
        rates = ", ".join(
            f"{name} {entry['rate']:.1%}"
            for name, entry in summary.agent_override["fields"].items()
            if entry.get("rate") is not None
        )
        lines.append(
            f"  agent override rate (solved tickets of {summary.agent_override['since_days']} days, measured "
            f"{summary.agent_override['measured_at']}): {rates}"
        )
    for field, counts in summary.distributions.items():
        if counts:
            lines.append(f"  {field.replace('_', ' ')}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    for reason, count in summary.fallbacks_by_reason.items():
        lines.append(f"  fallback ({count}): {reason}")
    for reason, count in summary.failures_by_reason.items():
        lines.append(f"  failed ({count}): {reason}")
    return "\n".join(lines)


def format_would_write(summary: RunSummary) -> str:
    """A dry run, ticket by ticket: the tags, priority and private note the fleet would have
    written (the note is made from the redacted analysis, as every note), or why it could not."""
    lines = ["What the fleet would write (nothing was written):"]
    for result in summary.results:
        if result.status == "failed":
            lines.append(f"ticket {result.ticket_id}: failed at {result.stage or 'unknown'}: {result.error}")
            continue
        if result.status == "skipped":
            lines.append(f"ticket {result.ticket_id}: skipped ({result.error or 'already triaged'})")
            continue
        if result.mode == "shadow":
            predicted = ", ".join(f"{name} {value}" for name, value in result.values.items())
            lines.append(f"ticket {result.ticket_id}: shadow mode: nothing would be written (predicted {predicted})")
            continue
        priority = result.priority_set or "unchanged"
        lines.append(f"ticket {result.ticket_id}: tags {' '.join(result.tags_added) or '-'}; priority {priority}")
        lines += [f"    {line}" if line else "" for line in (result.private_note or "(no note recorded)").splitlines()]
    return "\n".join(lines)
