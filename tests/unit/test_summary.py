"""Run summary: the seed's shape, counts, and files that never overwrite each other."""

import json

from app.domain.models import TicketResult
from app.domain.summary import RunSummary, build_summary, format_summary, format_would_write, write_summary_file

FIELDS = ["root_cause", "urgency", "sentiment"]


def results():
    values = {"root_cause": "bug", "urgency": "high", "sentiment": "negative"}
    analysis = {"summary": "s", **values, "model": "m", "cached": False}
    return [
        TicketResult(
            ticket_id=2,
            status="success",
            processing_time=1.0,
            analysis=analysis,
            values=values,
            tags_added=["ai_processed"],
            priority_set="high",
            cost_usd=0.001,
            tokens=100,
            prompt_tokens=80,
            completion_tokens=20,
        ),
        TicketResult(ticket_id=1, status="failed", processing_time=3.0, stage="update", error="HTTP 422 RecordInvalid"),
        TicketResult(
            ticket_id=3,
            status="fallback",
            processing_time=2.0,
            values=values,
            analysis={**analysis, "fallback_reason": "LLM unavailable (InternalServerError 500)"},
        ),
    ]


def test_summary_shape_and_counts():
    summary = build_summary("r1", 100.0, False, results(), FIELDS, finished_at=110.0)
    stored = json.loads(summary.model_dump_json())  # the seed's flat shape, as files and Redis keep it
    for key in (
        "timestamp",
        "total",
        "processed",
        "failed",
        "avg_time_per_ticket",
        "total_time",
        "cost_estimate",
        "results",
        "by_root_cause",
        "time_to_written_p50",
        "tickets_per_minute",
    ):
        assert key in stored
    assert "distributions" not in stored and RunSummary.model_validate(stored) == summary
    assert set(stored["results"][1]) >= {"tokens", "prompt_tokens", "completion_tokens", "cost_usd", "llm_latency_ms"}
    assert (summary.total, summary.processed, summary.failed, summary.fallbacks) == (3, 2, 1, 1)
    assert summary.avg_time_per_ticket == 2.0 and summary.total_time == 10.0
    assert summary.time_to_written_p50 == 1.5 and summary.tickets_per_minute == 12.0  # 2 written in 10 s
    assert summary.failures_by_reason == {"update: HTTP 422 RecordInvalid": 1}
    assert stored["by_root_cause"] == {"bug": 2} == summary.distributions["root_cause"]
    assert [r.ticket_id for r in summary.results] == [1, 2, 3]
    assert summary.cost_estimate == 0.001 and summary.tokens_total == 100
    assert summary.prompt_tokens_total == 80 and summary.tokens_per_ticket == 33.3
    assert summary.fallbacks_by_reason == {"LLM unavailable (InternalServerError 500)": 1}
    text = format_summary(summary)
    assert "failed (1): update: HTTP 422" in text and "root cause: bug 2" in text
    assert "12.0 tickets/min" in text and "claim to written, per ticket: p50 1.5s" in text


def test_files_never_overwrite(tmp_path):
    summary = build_summary("r1", 100.0, False, results(), FIELDS, finished_at=110.0)
    first = write_summary_file(tmp_path, summary)
    second = write_summary_file(tmp_path, summary.model_copy(update={"id": "r2"}))
    assert first.name == "results_19700101_000150.json"
    assert second != first and second.name.startswith("results_19700101_000150")
    assert json.loads(first.read_text())["id"] == "r1" and json.loads(second.read_text())["id"] == "r2"


def test_the_gate_counts_tickets_calls_and_dollars_saved_and_its_agreement():
    values = {"root_cause": "bug", "urgency": "high", "sentiment": "negative"}

    def result(ticket_id, **analysis):
        return TicketResult(
            ticket_id=ticket_id,
            status="success",
            processing_time=1.0,
            values=values,
            analysis={"summary": "s", **values, "cached": False, **analysis},
            cost_usd=0.002 if analysis.get("provider") == "llm" else 0.0,
        )

    agree = {"root_cause": True, "urgency": True, "sentiment": True}
    runs = [
        result(1, provider="local", gate="skipped_llm"),
        result(2, provider="local", gate="skipped_llm"),
        result(3, provider="local", gate="skipped_llm"),
        result(4, provider="llm", gate="audited", gate_agreement=agree),
        result(5, provider="llm", gate="audited", gate_agreement={**agree, "urgency": False}),
        result(6, provider="llm"),
        result(7, provider="llm", cached=True),
    ]
    summary = build_summary("r", 0.0, False, runs, FIELDS, finished_at=10.0)
    assert (summary.gated, summary.llm_calls_saved, summary.gate_audited) == (3, 3, 2)
    # Three tickets at this run's mean cost of an LLM-answered ticket (cache hits cost nothing).
    assert summary.llm_cost_saved == 0.006
    assert summary.gate_agreement == 0.5
    assert summary.gate_agreement_by_field == {"root_cause": 1.0, "urgency": 0.5, "sentiment": 1.0}
    assert "gate: 3 tickets answered by the local model alone, 3 LLM calls ($0.0060) saved" in format_summary(summary)
    ungated = build_summary("r", 0.0, False, runs[5:], FIELDS, finished_at=10.0)
    assert (ungated.gated, ungated.gate_agreement) == (0, None) and "gate:" not in format_summary(ungated)


def test_a_dry_run_says_per_ticket_what_it_would_write_and_never_that_it_wrote():
    would = results()
    would[0] = would[0].model_copy(update={"private_note": "AI Analysis:\n\nSummary: s\nRoot Cause: bug"})
    summary = build_summary("dry", 100.0, True, would, FIELDS, finished_at=110.0)
    stored = json.loads(summary.model_dump_json())
    assert stored["dry_run"] is True and stored["results"][1]["private_note"].startswith("AI Analysis:")
    assert "private_note" not in stored["results"][0]  # a ticket with no note: the seed's keys alone
    assert RunSummary.model_validate(stored) == summary
    text = format_summary(summary)
    assert "(dry run: nothing was written to Zendesk)" in text and "analysed: 2" in text
    assert "written" not in text.replace("nothing was written", "")
    lines = format_would_write(summary).splitlines()
    assert lines[0] == "What the fleet would write (nothing was written):"
    assert "ticket 1: failed at update: HTTP 422 RecordInvalid" in lines
    assert "ticket 2: tags ai_processed; priority high" in lines
    assert "    Summary: s" in lines and "    Root Cause: bug" in lines
    assert "ticket 3: tags -; priority unchanged" in lines


def test_a_run_that_writes_keeps_its_wording_and_records_no_note():
    summary = build_summary("r1", 100.0, False, results(), FIELDS, finished_at=110.0)
    assert "dry run" not in format_summary(summary)
    assert all("private_note" not in r for r in json.loads(summary.model_dump_json())["results"])


def test_a_dry_run_in_shadow_mode_says_nothing_would_be_written_and_what_was_predicted():
    shadow = [
        r.model_copy(update={"mode": "shadow", "values": {"root_cause": "bug", "urgency": "high"}})
        for r in results()
        if r.status != "failed"
    ]
    lines = format_would_write(build_summary("dry", 100.0, True, shadow, FIELDS, finished_at=110.0)).splitlines()
    shown = [line for line in lines if "shadow mode" in line]
    assert shown and all("nothing would be written (predicted root_cause bug, urgency high)" in s for s in shown)
    assert not any(line.startswith("    AI Analysis") for line in lines)
