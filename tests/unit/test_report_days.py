"""The report across runs, by UTC day: --since parsing, the aggregation's exact figures per day
and in total, and the page (every chart, escaped, self-contained)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.cli.main import build_parser
from app.domain.models import TicketResult
from app.domain.summary import RunSummary, build_summary, percentile, write_summary_file
from app.ops.daily import aggregate, collect, parse_since, render_days

FIELDS = ["root_cause", "urgency", "sentiment"]
# 2026-11-30 00:00 UTC, and the report's end, 2026-12-02 12:00 UTC.
DAY0 = datetime(2026, 11, 30, tzinfo=UTC).timestamp()
END = datetime(2026, 12, 2, 12, tzinfo=UTC)


def ticket(
    ticket_id: int, status: str, wait: float | None = None, cost: float = 0.0, gate: str | None = None
) -> TicketResult:
    """A record whose ticket was created `wait` seconds before it was written."""
    written = status in ("success", "fallback")
    analysis = None if status in ("failed", "skipped") else {"provider": "llm", **({"gate": gate} if gate else {})}
    return TicketResult(
        ticket_id=ticket_id,
        status=status,
        processing_time=1.0,
        claimed_at=1000.0,
        written_at=1000.0 + (wait or 0) if written else None,
        created_at=1000.0 if wait is not None else None,
        analysis=analysis,
        cost_usd=cost,
    )


def run(run_id: str, finished: float, results: list[TicketResult], source: str = "sweep", **extra) -> RunSummary:
    summary = build_summary(run_id, finished - 10, False, results, FIELDS, finished_at=finished, source=source)
    return summary.model_copy(update=extra)


OVERRIDE = {"measured_at": "2026-11-30T05:00:00+00:00", "since_days": 30, "fleet_triaged": 40}


@pytest.fixture
def runs() -> list[RunSummary]:
    return [
        # Nov 30: a sweep (3 written, 1 failed) and a webhook run (1 fallback, 1 skipped).
        run(
            "a",
            DAY0 + 3600,
            [
                ticket(1, "success", 10, 0.001, gate="skipped_llm"),
                ticket(2, "success", 20, 0.002),
                ticket(3, "fallback", 30),
                ticket(4, "failed"),
            ],
            agent_override={**OVERRIDE, "fields": {"urgency": {"rate": 0.25}, "sentiment": {"rate": None}}},
        ),
        run("b", DAY0 + 7200, [ticket(5, "fallback", 40), ticket(6, "skipped")], source="webhook"),
        # Dec 1: nothing. Dec 2: a backfill of 2 written, a webhook run of 1, a dry run (left out).
        run("c", DAY0 + 2 * 86400 + 60, [ticket(7, "success", 100, 0.004), ticket(8, "success", 300)], "backfill"),
        run(
            "d",
            DAY0 + 2 * 86400 + 120,
            [ticket(9, "success", 5, gate="skipped_llm")],
            source="webhook",
            agent_override={
                **OVERRIDE,
                "measured_at": "2026-12-02T00:00:00+00:00",
                "fields": {"urgency": {"rate": 0.5}},
            },
        ),
        run("e", DAY0 + 2 * 86400 + 180, [ticket(10, "success", 1)]).model_copy(update={"dry_run": True}),
        # Before the window, and after its end: neither counts.
        run("f", DAY0 - 60, [ticket(11, "success", 1)]),
        run("g", END.timestamp() + 60, [ticket(12, "success", 1)]),
    ]


@pytest.mark.parametrize(
    ("text", "window"),
    [("24h", timedelta(hours=24)), ("7d", timedelta(days=7)), ("30d", timedelta(days=30)), ("1h", timedelta(hours=1))],
)
def test_since_takes_hours_or_days(text, window):
    assert parse_since(text) == window


@pytest.mark.parametrize("text", ["7", "0d", "-7d", "7w", "7 days", "d", "1.5d", "", "99999d", "07d"])
def test_a_bad_since_is_refused_saying_what_it_takes(text):
    with pytest.raises(ValueError, match="24h, 7d or 30d|more than"):
        parse_since(text)


def test_the_cli_refuses_a_bad_since_as_a_usage_error(capsys):
    with pytest.raises(SystemExit) as stopped:
        build_parser().parse_args(["report", "--since", "7w"])
    assert stopped.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "argument --since: '7w' is not a window" in error


def test_figures_per_utc_day_and_in_total(runs):
    start = datetime(2026, 11, 30, tzinfo=UTC)
    report = aggregate(runs, [DAY0 + 100, DAY0 + 2 * 86400, DAY0 - 5], start, END)
    assert [day["day"] for day in report["days"]] == ["2026-11-30", "2026-12-01", "2026-12-02"]
    first, empty, last = report["days"]
    assert report["runs"] == 4

    assert first["runs"] == 2 and first["tickets"] == 6
    assert first["outcomes"] == {"success": 2, "fallback": 2, "failed": 1, "skipped": 1}
    assert first["sources"] == {"sweep": 4, "webhook": 2, "backfill": 0}
    assert first["outcomes_by_source"]["webhook"] == {"success": 0, "fallback": 1, "failed": 0, "skipped": 1}
    assert first["fallback_rate"] == 0.5  # 2 fallbacks of 4 tickets classified
    assert first["llm_cost_usd"] == 0.003
    assert first["created_to_written"] == {"tickets": 4, "p50": 25.0, "p95": 38.5}
    assert first["gate_coverage"] == 0.25  # 1 of the 4 tickets with an analysis
    assert first["override_rate"] == {"urgency": 0.25}  # a rate not measured is left out
    assert first["override_measured_at"] == "2026-11-30T05:00:00+00:00"
    assert first["dead_letters"] == 1

    assert empty["runs"] == 0 and empty["tickets"] == 0 and empty["outcomes"]["success"] == 0
    assert empty["fallback_rate"] is None and empty["gate_coverage"] is None
    assert empty["created_to_written"] == {"tickets": 0, "p50": None, "p95": None}
    assert empty["override_rate"] == {} and empty["dead_letters"] == 0

    assert last["runs"] == 2 and last["tickets"] == 3  # the dry run is left out
    assert last["sources"] == {"sweep": 0, "webhook": 1, "backfill": 2}
    assert last["fallback_rate"] == 0.0
    assert last["created_to_written"] == {"tickets": 3, "p50": 100.0, "p95": 280.0}
    assert last["gate_coverage"] == round(1 / 3, 4)
    assert last["override_rate"] == {"urgency": 0.5}
    assert last["dead_letters"] == 1

    totals = report["totals"]
    assert totals["tickets"] == 9 and totals["runs"] == 4
    assert totals["outcomes"] == {"success": 5, "fallback": 2, "failed": 1, "skipped": 1}
    assert totals["sources"] == {"sweep": 4, "webhook": 3, "backfill": 2}
    assert totals["fallback_rate"] == round(2 / 7, 4)
    assert totals["llm_cost_usd"] == 0.007
    waits = sorted([10.0, 20.0, 30.0, 40.0, 100.0, 300.0, 5.0])
    assert totals["created_to_written"] == {
        "tickets": 7,
        "p50": round(percentile(waits, 50), 3),
        "p95": round(percentile(waits, 95), 3),
    }
    assert totals["created_to_written"]["p50"] == 30.0
    assert totals["gate_coverage"] == round(2 / 7, 4)  # 2 of the 7 with an analysis
    assert totals["override_rate"] == {"urgency": 0.5}  # the newest measurement
    assert totals["dead_letters"] == 2
    json.dumps(report)  # JSON as it is


def test_a_run_read_twice_counts_once_and_a_window_without_runs_is_empty(runs):
    start = datetime(2026, 11, 30, tzinfo=UTC)
    twice = aggregate(runs + runs[:1], [], start, END)
    assert twice["runs"] == 4 and twice["totals"]["tickets"] == 9
    quiet = aggregate([], [], END - timedelta(hours=24), END)
    assert quiet["runs"] == 0 and [d["day"] for d in quiet["days"]] == ["2026-12-01", "2026-12-02"]
    assert quiet["totals"]["tickets"] == 0 and quiet["totals"]["fallback_rate"] is None


class FakeStore:
    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def run_ids_since(self, since: float) -> list[str]:
        return self.ids


class FakeRedis:
    """What `collect` asks of Redis: MGET of summaries and the dead letters' times; counts calls."""

    def __init__(self, summaries: dict[str, RunSummary], dead: list[tuple[bytes, float]]) -> None:
        self.summaries = summaries
        self.dead = dead
        self.calls = 0

    def mget(self, keys: list[str]) -> list[bytes | None]:
        self.calls += 1
        found = [self.summaries.get(key.removeprefix("p:run:").removesuffix(":summary")) for key in keys]
        return [s.model_dump_json().encode() if s else None for s in found]

    def zrangebyscore(self, key: str, low: float, high: str, withscores: bool) -> list[tuple[bytes, float]]:
        self.calls += 1
        assert key == "p:dead:index"
        return [(member, score) for member, score in self.dead if score >= low]


def test_collect_reads_redis_in_a_few_calls_and_older_runs_from_the_files(tmp_path: Path, runs):
    many = {f"r{i}": run(f"r{i}", DAY0 + i, [ticket(i, "success", 1)]) for i in range(450)}
    redis = FakeRedis(many, [(b"7", DAY0 + 5), (b"8", DAY0 - 86400)])
    write_summary_file(tmp_path, runs[0])  # Nov 30: read from its file
    write_summary_file(tmp_path, runs[5])  # before the window: never parsed
    (tmp_path / "results_20261201_000000.json").write_text("not json")  # a broken file is passed over
    write_summary_file(tmp_path, many["r1"])  # in Redis too: counted once
    summaries, dead = collect(FakeStore(list(many)), redis, "p:", tmp_path, datetime(2026, 11, 30, tzinfo=UTC))
    assert redis.calls == 3 + 1  # 450 summaries in MGETs of 200, and the dead letters
    assert sorted(s.id for s in summaries) == sorted([*many, "a"])
    assert dead == [DAY0 + 5]


def test_the_page_draws_every_chart_escapes_and_fetches_nothing(runs):
    start = datetime(2026, 11, 30, tzinfo=UTC)
    odd = run("x", DAY0 + 50, [ticket(20, "success", 1)], source="<img src=x onerror=alert(1)>")
    page = render_days({"since": "7d", **aggregate([*runs, odd], [], start, END)}, "<b>7d</b>")
    charts = re.findall(r'<div class="chart" data-chart="([a-z_]+)">\s*<svg', page)
    assert charts == [
        "outcomes",
        "sources",
        "fallback_rate",
        "cost",
        "created_to_written",
        "gate_override",
        "dead_letters",
    ]
    assert "<img src=x" not in page and "<b>7d</b>" not in page and "&lt;b&gt;7d&lt;/b&gt;" in page
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', page)
    assert len(re.findall(r"<tr>\s*<td>2026-", page)) == 3
    assert 'id="no-runs"' not in page
    assert 'id="no-runs"' in render_days(aggregate([], [], start, END), "7d")


def test_each_day_counts_handled_tickets_by_mode_and_a_run_summary_too():
    shadowed = [ticket(n, "success").model_copy(update={"mode": "shadow", "written_at": None}) for n in (1, 2)]
    suggested = [ticket(3, "fallback").model_copy(update={"mode": "suggest"}), ticket(4, "failed")]
    summary = run("m", DAY0 + 60, [*shadowed, *suggested, ticket(5, "success")])
    assert summary.modes == {"shadow": 2, "suggest": 1, "live": 1}  # the failed ticket was not handled
    report = aggregate([summary], [], datetime.fromtimestamp(DAY0, UTC), END)
    assert report["days"][0]["modes"] == {"live": 1, "suggest": 1, "shadow": 2}
    assert report["totals"]["modes"] == {"live": 1, "suggest": 1, "shadow": 2}
    assert report["totals"]["created_to_written"]["tickets"] == 0  # a shadowed ticket was never written
    page = render_days(report, "7d")
    assert "live / suggest / shadow" in page and "1 / 1 / 2" in page
