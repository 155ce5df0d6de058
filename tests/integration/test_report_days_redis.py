"""`report --since` against real Redis and real summaries: the summarize task run directly (as the
chord runs it) over several days, with the finish times faked, a real ticket triaged today through
the tasks, a dead letter, a run Redis no longer holds (read from its file), and the JSON checked."""

from __future__ import annotations

import json
import time
import types
from datetime import UTC, datetime, timedelta

import pytest
import requests

from app import services
from app.cli.main import main
from app.domain.models import TicketInput, TicketResult
from app.fleet.store import RunStore
from app.ops.daily import collect
from app.settings import get_settings
from bench.common import RoundTrips
from workers.classify import classify_task
from workers.redact import redact_task
from workers.sweep import summarize_task
from workers.update import update_task


def records(*rows: tuple[int, str, float]) -> list[dict]:
    """(ticket id, outcome, seconds from creation to written) as the chord hands them on."""
    out = []
    for ticket_id, status, wait in rows:
        written = status in ("success", "fallback")
        out.append(
            TicketResult(
                ticket_id=ticket_id,
                status=status,
                processing_time=1.0,
                claimed_at=5000.0,
                created_at=5000.0 - wait if written else None,
                written_at=5000.0 if written else None,
                analysis={"provider": "llm", "fallback_reason": "LLM unavailable"} if written else None,
                cost_usd=0.01 if status == "success" else 0.0,
                stage=None if written else "update",
                error=None if written else "ticket is closed",
            ).model_dump()
        )
    return out


def summarize(monkeypatch: pytest.MonkeyPatch, run_id: str, finished: datetime, rows: list[dict], source: str) -> None:
    """The summarize task as the chord calls it, for a run started 5 s before `finished`."""
    at = finished.timestamp()
    with monkeypatch.context() as patch:  # the summary's clock only: it names the file and the day
        patch.setattr("app.domain.summary.time", types.SimpleNamespace(time=lambda: at))
        services.run_store().start(run_id, len(rows), False, at - 5)
        summarize_task.apply(args=(rows,), kwargs={"run_id": run_id, "started_at": at - 5, "source": source}).get()


def report_json(capsys: pytest.CaptureFixture[str], since: str) -> dict:
    capsys.readouterr()
    assert main(["report", "--since", since, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def create_ticket(sim: object) -> int:
    body = {"tickets": [{"subject": "Refund please", "description": "I was charged twice for my order"}]}
    return requests.post(f"{sim.base_url}/_sim/tickets", json=body, timeout=5).json()["ids"][0]  # type: ignore[attr-defined]


def test_the_report_by_day_from_real_summaries(fleet_env, redis_prefix, monkeypatch, capsys, tmp_path):
    sim = fleet_env
    today = datetime.now(UTC).replace(hour=0, minute=0, second=1, microsecond=0)
    days = [(today - timedelta(days=n)).date().isoformat() for n in (3, 2, 1, 0)]
    store = services.run_store()
    store.save_agent_override(
        {
            "measured_at": "2026-11-01T00:00:00+00:00",
            "since_days": 30,
            "fleet_triaged": 9,
            "fields": {"urgency": {"rate": 0.1}},
        }
    )
    summarize(monkeypatch, "old", today - timedelta(days=3), records((1, "success", 60), (2, "failed", 0)), "sweep")
    summarize(
        monkeypatch, "hooks", today - timedelta(days=3) + timedelta(minutes=1), records((3, "fallback", 4)), "webhook"
    )
    summarize(
        monkeypatch, "fill", today - timedelta(days=1), records((4, "success", 7200), (5, "success", 3600)), "backfill"
    )
    summarize(monkeypatch, "ancient", today - timedelta(days=9), records((6, "success", 1)), "sweep")
    # Redis keeps the newest runs only: this one's summary is read from its file in LOG_DIR.
    services.redis_client().delete(f"{redis_prefix}run:old:summary")

    # Today: a real ticket announced by a webhook, redacted, classified and written by the tasks.
    ticket_id = create_ticket(sim)
    services.claims().take(ticket_id)
    data = TicketInput.from_ticket(services.zendesk().get_ticket(ticket_id), "today", False).model_dump()
    written = update_task.apply(args=(classify_task.apply(args=(redact_task.apply(args=(data,)).get(),)).get(),)).get()
    assert written["status"] in ("success", "fallback") and written["created_at"] is not None
    store.start("today", 1, False, time.time() - 5)
    summarize_task.apply(
        args=([written],), kwargs={"run_id": "today", "started_at": time.time() - 5, "source": "webhook"}
    ).get()
    services.dead_letters().add(99, "update", "ticket is closed", "today")

    # Reading the window costs a fixed number of round trips, whatever the number of tickets.
    trips = RoundTrips(services.redis_client())
    start = datetime.now(UTC) - timedelta(days=4)
    found, dead = collect(RunStore(trips, redis_prefix), trips, redis_prefix, get_settings().operators.log_dir, start)
    assert trips.round_trips == 3  # the runs listed, their summaries in one MGET, the dead letters
    assert sorted(s.id for s in found) == ["fill", "hooks", "old", "today"] and len(dead) == 1

    report = report_json(capsys, "4d")
    assert report["since"] == "4d" and report["runs"] == 4  # "ancient" finished 9 days ago
    by_day = {day["day"]: day for day in report["days"]}
    assert list(by_day)[-4:] == days  # 5 UTC days: the window starts 4 days ago to the second
    first = by_day[days[0]]
    assert first["runs"] == 2 and first["tickets"] == 3
    assert first["outcomes"] == {"success": 1, "fallback": 1, "failed": 1, "skipped": 0}
    assert first["sources"] == {"sweep": 2, "webhook": 1, "backfill": 0}
    assert first["outcomes_by_source"]["sweep"] == {"success": 1, "fallback": 0, "failed": 1, "skipped": 0}
    assert first["fallback_rate"] == 0.5 and first["llm_cost_usd"] == 0.01
    assert first["created_to_written"] == {"tickets": 2, "p50": 32.0, "p95": 57.2}
    assert first["gate_coverage"] == 0.0 and first["override_rate"] == {"urgency": 0.1}
    assert by_day[days[1]]["runs"] == 0 and by_day[days[1]]["tickets"] == 0
    fill = by_day[days[2]]
    assert fill["sources"]["backfill"] == 2 and fill["created_to_written"]["p50"] == 5400.0
    now = by_day[days[3]]
    assert now["runs"] == 1 and now["sources"]["webhook"] == 1 and now["dead_letters"] == 1
    assert now["created_to_written"]["tickets"] == 1 and now["created_to_written"]["p50"] >= 0
    totals = report["totals"]
    assert totals["tickets"] == 6 and totals["dead_letters"] == 1
    assert totals["sources"] == {"sweep": 2, "webhook": 2, "backfill": 2}

    page = tmp_path / "days.html"
    capsys.readouterr()
    assert main(["report", "--since", "4d", "--output", str(page)]) == 0
    assert capsys.readouterr().out.strip() == str(page)
    html = page.read_text(encoding="utf-8")
    assert html.count('class="chart"') == 7 and days[0] in html and 'id="no-runs"' not in html


def test_a_window_without_runs_is_an_empty_report_and_exit_0(fleet_env, capsys):
    capsys.readouterr()
    assert main(["report", "--since", "24h", "--json"]) == 0
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert report["runs"] == 0 and report["totals"]["tickets"] == 0 and len(report["days"]) == 2
    assert err.startswith("no runs finished in the last 24h")
