"""The HTML run report: self-contained, every chart present, the per-ticket table, text escaped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.domain.models import TicketResult
from app.domain.summary import RunSummary, build_summary
from app.ops.report import ReportError, find_summary, render_report

FIELDS = ["root_cause", "urgency", "sentiment"]


def result(ticket_id: int, status: str = "success", seconds: float = 2.0, **values: str) -> TicketResult:
    values = values or {"root_cause": "bug", "urgency": "high", "sentiment": "negative"}
    failed = status == "failed"
    return TicketResult(
        ticket_id=ticket_id,
        status=status,
        processing_time=seconds,
        values={} if failed else values,
        tokens=0 if failed else 300,
        prompt_tokens=0 if failed else 250,
        completion_tokens=0 if failed else 50,
        cost_usd=0 if failed else 0.0002,
        analysis=None if failed else {"summary": "App crashes <script>alert(1)</script>"},
        stage="update" if failed else None,
        error="ticket is closed" if failed else None,
    )


@pytest.fixture
def summary() -> RunSummary:
    results = [
        result(1),
        result(2, seconds=5.5, root_cause="refund", urgency="low", sentiment="neutral"),
        result(3, "failed", 1.0),
        result(4, "fallback", 3.0),
    ]
    return build_summary("20261121_101500_abc123", 1_700_000_000.0, False, results, FIELDS, finished_at=1_700_000_012.0)


def test_the_report_holds_every_chart_and_the_ticket_table(summary):
    page = render_report(summary)  # the fields come from the summary's distributions
    charts = re.findall(r'<div class="chart" data-chart="([a-z_]+)">\s*<svg', page)
    assert charts == ["root_cause", "urgency", "sentiment", "latency", "failures", "tokens"]
    rows = re.findall(r"<tr>\s*<td class=\"num\">(\d+)</td>", page)
    assert rows == ["1", "2", "3", "4"]
    assert "refund" in page and "update: ticket is closed" in page
    assert "Triage run 20261121_101500_abc123" in page


def test_the_report_is_self_contained_and_escapes_ticket_text(summary):
    page = render_report(summary, FIELDS)
    assert not re.search(r'(src|href)\s*=\s*["\']?(https?:)?//', page)  # nothing fetched from anywhere
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_a_run_is_found_in_redis_or_in_the_summary_files(tmp_path: Path, summary):
    class EmptyStore:
        def summary(self, run_id):
            return None

        def recent(self, limit):
            return []

    (tmp_path / "results_20261121_101512.json").write_text(summary.model_dump_json())
    assert find_summary(EmptyStore(), tmp_path, summary.id) == summary
    assert find_summary(EmptyStore(), tmp_path, None).id == summary.id
    with pytest.raises(ReportError, match="no run 'nope'"):
        find_summary(EmptyStore(), tmp_path, "nope")


def test_the_report_shows_the_gate_and_the_agent_override_rate(summary):
    assert 'id="gate"' not in render_report(summary) and "Agent override rate" not in render_report(summary)
    override = {
        "measured_at": "2026-12-01 18:00 UTC",
        "since_days": 180,
        "fleet_triaged": 372,
        "fields": {
            "root_cause": {"fleet_answers": 372, "changed_by_people": 62, "rate": 0.1667},
            "urgency": {"fleet_answers": 372, "changed_by_people": 73, "rate": 0.1962},
        },
    }
    page = render_report(
        summary.model_copy(
            update={
                "gated": 14,
                "llm_calls_saved": 14,
                "llm_cost_saved": 0.0021,
                "gate_audited": 4,
                "gate_agreement": 0.25,
                "agent_override": override,
            }
        )
    )
    assert re.search(r'id="gate".*<b>14 \(14 / 0\.0021\)</b>', page)
    assert "gate agreement with the LLM (4 audited)</span><b>25%</b>" in page
    rows = re.findall(r"<tr><td>(\w+)</td><td>(\d+)</td><td>(\d+)</td><td>([\d.]+)%</td></tr>", page)
    assert rows == [("root_cause", "372", "62", "16.7"), ("urgency", "372", "73", "19.6")]
    assert "last 180 days (measured 2026-12-01 18:00 UTC" in page
