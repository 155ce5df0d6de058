"""The report across runs, by UTC day (`python -m app report --since 7d [--json] [--output PATH]`).

`aggregate` is pure: run summaries and dead-letter times in, one JSON-ready object out (per day the
figures, and the totals). `collect` reads what it needs cheaply: the newest runs' summaries from
Redis in a few MGETs (never a request per ticket), older ones from the summary files in LOG_DIR
(chosen by the time in their names before any is parsed), and the dead letters' times in one
ZRANGEBYSCORE. `render_days` draws the page with the per-run report's charts (pygal, no script, no
network request); it shows counts, rates and dates only, never a ticket's text or a person.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pygal
from markupsafe import Markup

from app.domain.models import WRITTEN
from app.domain.summary import RunSummary, percentile
from app.ops.report import inline_svg, new_chart, page

OUTCOMES = ("success", "fallback", "failed", "skipped")
SOURCES = ("sweep", "webhook", "backfill")
MODES = ("live", "suggest", "shadow")  # what of a handled ticket reached Zendesk (TRIAGE_MODE)
SINCE = re.compile(r"^([1-9][0-9]{0,4})([hd])$")
MAX_SINCE = timedelta(days=3660)
MGET_CHUNK = 200
FILE_STAMP = re.compile(r"^results_(\d{8}_\d{6})")


def parse_since(value: str) -> timedelta:
    """`24h`, `7d`, `30d`: a whole number of hours or days, above 0 (ValueError says what is wrong)."""
    match = SINCE.match(value.strip())
    if not match:
        raise ValueError(f"{value!r} is not a window: a whole number of hours or days, like 24h, 7d or 30d")
    number, unit = int(match.group(1)), match.group(2)
    window = timedelta(hours=number) if unit == "h" else timedelta(days=number)
    if window > MAX_SINCE:
        raise ValueError(f"{value!r} is more than {MAX_SINCE.days} days")
    return window


def _day(iso: str) -> str:
    moment = datetime.fromisoformat(iso)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).date().isoformat()


def _empty() -> dict[str, Any]:
    return {
        "runs": 0,
        "tickets": 0,
        "outcomes": dict.fromkeys(OUTCOMES, 0),
        "sources": dict.fromkeys(SOURCES, 0),
        "outcomes_by_source": {source: dict.fromkeys(OUTCOMES, 0) for source in SOURCES},
        "modes": dict.fromkeys(MODES, 0),
        "llm_cost_usd": 0.0,
        "answered": 0,
        "gated": 0,
        "dead_letters": 0,
        "_waits": [],
        "_override": None,
    }


def _add(figures: dict[str, Any], summary: RunSummary) -> None:
    source = summary.source
    figures["runs"] += 1
    figures["llm_cost_usd"] += summary.cost_estimate
    if source not in figures["sources"]:  # a way in this version does not know: kept, not dropped
        figures["sources"][source] = 0
        figures["outcomes_by_source"][source] = dict.fromkeys(OUTCOMES, 0)
    for result in summary.results:
        figures["tickets"] += 1
        figures["outcomes"][result.status] = figures["outcomes"].get(result.status, 0) + 1
        figures["sources"][source] += 1
        by_source = figures["outcomes_by_source"][source]
        by_source[result.status] = by_source.get(result.status, 0) + 1
        if result.status in WRITTEN:
            figures["modes"][result.mode] = figures["modes"].get(result.mode, 0) + 1
        if result.analysis:
            figures["answered"] += 1
            figures["gated"] += result.analysis.get("gate") == "skipped_llm"
        if result.status in WRITTEN and result.written_at is not None and result.created_at is not None:
            figures["_waits"].append(max(0.0, result.written_at - result.created_at))
    measured = summary.agent_override
    if measured and (figures["_override"] is None or summary.timestamp >= figures["_override"][0]):
        figures["_override"] = (summary.timestamp, measured)


def _finish(figures: dict[str, Any]) -> dict[str, Any]:
    waits = sorted(figures.pop("_waits"))
    newest = figures.pop("_override")
    outcomes = figures["outcomes"]
    classified = outcomes["success"] + outcomes["fallback"]
    override = newest[1] if newest else None
    rates = {
        name: entry["rate"]
        for name, entry in sorted(((override or {}).get("fields") or {}).items())
        if isinstance(entry, dict) and isinstance(entry.get("rate"), int | float)
    }
    return {
        **figures,
        "fallback_rate": round(outcomes["fallback"] / classified, 4) if classified else None,
        "llm_cost_usd": round(figures["llm_cost_usd"], 6),
        "created_to_written": {
            "tickets": len(waits),
            "p50": round(percentile(waits, 50), 3) if waits else None,
            "p95": round(percentile(waits, 95), 3) if waits else None,
        },
        "gate_coverage": round(figures["gated"] / figures["answered"], 4) if figures["answered"] else None,
        "override_rate": rates,
        "override_measured_at": (override or {}).get("measured_at") if rates else None,
    }


def aggregate(
    summaries: Iterable[RunSummary], dead_letter_times: Iterable[float], start: datetime, end: datetime
) -> dict[str, Any]:
    """Per UTC day from `start`'s day to `end`'s, every day listed (a day without runs has zeros),
    and the totals. A run counts on the day it finished, if it finished in [start, end]; dry runs
    wrote nothing and are left out (as the metrics leave them out). Dead letters count on the day
    they were added (those still held: a requeued ticket leaves the dead letters)."""
    first, last = start.astimezone(UTC).date(), end.astimezone(UTC).date()
    days = {(first + timedelta(days=n)).isoformat(): _empty() for n in range((last - first).days + 1)}
    totals = _empty()
    runs = 0
    seen: set[str] = set()
    for summary in summaries:
        if summary.id in seen or summary.dry_run:
            continue
        finished = datetime.fromisoformat(summary.timestamp)
        finished = finished if finished.tzinfo else finished.replace(tzinfo=UTC)
        if not start <= finished <= end:
            continue
        seen.add(summary.id)
        runs += 1
        _add(days[_day(summary.timestamp)], summary)
        _add(totals, summary)
    for moment in dead_letter_times:
        when = datetime.fromtimestamp(moment, UTC)
        if start <= when <= end:
            days[when.date().isoformat()]["dead_letters"] += 1
            totals["dead_letters"] += 1
    return {
        "from": start.astimezone(UTC).isoformat(timespec="seconds"),
        "to": end.astimezone(UTC).isoformat(timespec="seconds"),
        "runs": runs,
        "days": [{"day": day, **_finish(figures)} for day, figures in days.items()],
        "totals": _finish(totals),
    }


def collect(
    run_store: Any, client: Any, prefix: str, log_dir: Path, start: datetime
) -> tuple[list[RunSummary], list[float]]:
    """The summaries of runs that finished since `start` (Redis first, LOG_DIR's files for what
    Redis no longer keeps), and the times the dead letters still held were added."""
    since = start.timestamp()
    # A run is listed by its start; one that started a day before the window may finish in it.
    ids = run_store.run_ids_since(since - 86400)
    found: dict[str, RunSummary] = {}
    for chunk in range(0, len(ids), MGET_CHUNK):
        batch = ids[chunk : chunk + MGET_CHUNK]
        for raw in client.mget([f"{prefix}run:{run_id}:summary" for run_id in batch]):
            if raw:
                summary = RunSummary.model_validate_json(raw)
                found[summary.id] = summary
    earliest = (start - timedelta(seconds=1)).strftime("%Y%m%d_%H%M%S")
    for path in sorted(Path(log_dir).glob("results_*.json")):
        stamp = FILE_STAMP.match(path.name)
        if not stamp or stamp.group(1) < earliest:
            continue
        try:
            summary = RunSummary.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        found.setdefault(summary.id, summary)
    dead = [float(score) for _, score in client.zrangebyscore(f"{prefix}dead:index", since, "+inf", withscores=True)]
    return list(found.values()), dead


def _days_chart(
    title: str, days: list[dict[str, Any]], series: dict[str, list[float | None]], **options: Any
) -> Markup:
    kind = options.pop("kind", pygal.Bar)
    chart = new_chart(kind, title, show_legend=len(series) > 1, **options)
    chart.x_labels = [day["day"][5:] for day in days]  # MM-DD: the title says the window
    for name, values in series.items():
        chart.add(name, values)
    return inline_svg(chart)


def _percent(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 2)


def charts(report: dict[str, Any]) -> list[tuple[str, Markup]]:
    days = report["days"]
    names = sorted({name for day in days for name in day["override_rate"]})
    return [
        (
            "outcomes",
            _days_chart(
                "Tickets by outcome",
                days,
                {o: [day["outcomes"].get(o, 0) for day in days] for o in OUTCOMES},
                kind=pygal.StackedBar,
                print_values=False,
            ),
        ),
        (
            "sources",
            _days_chart(
                "Tickets by way in",
                days,
                {s: [day["sources"].get(s, 0) for day in days] for s in report["totals"]["sources"]},
                kind=pygal.StackedBar,
                print_values=False,
            ),
        ),
        (
            "fallback_rate",
            _days_chart(
                "Fallback rate (% of tickets classified)",
                days,
                {"fallback %": [_percent(day["fallback_rate"]) for day in days]},
            ),
        ),
        ("cost", _days_chart("LLM cost (USD)", days, {"USD": [day["llm_cost_usd"] for day in days]})),
        (
            "created_to_written",
            _days_chart(
                "Created to written (s)",
                days,
                {
                    "p50": [day["created_to_written"]["p50"] for day in days],
                    "p95": [day["created_to_written"]["p95"] for day in days],
                },
                print_values=False,
            ),
        ),
        (
            "gate_override",
            _days_chart(
                "Gate coverage and override rate (%)",
                days,
                {
                    "gate coverage": [_percent(day["gate_coverage"]) for day in days],
                    **{f"override {n}": [_percent(day["override_rate"].get(n)) for day in days] for n in names},
                },
                print_values=False,
            ),
        ),
        (
            "dead_letters",
            _days_chart("Dead letters added", days, {"dead letters": [day["dead_letters"] for day in days]}),
        ),
    ]


def render_days(report: dict[str, Any], since: str) -> str:
    return page("days.html").render(report=report, since=since, totals=report["totals"], charts=charts(report))
