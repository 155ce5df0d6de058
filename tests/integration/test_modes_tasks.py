"""Shadow and suggest modes through the tasks, called directly, against real Redis and the
in-process Zendesk simulator: what reaches Zendesk, what is recorded, and that nothing repeats."""

from __future__ import annotations

import pytest
import requests

from app import services
from app.fleet.sweep import sweep
from app.settings import get_settings
from tests.integration.test_tasks import create_ticket, private_notes, run_chain, sim_ticket
from workers.classify import classify_task
from workers.redact import redact_task
from workers.update import update_batch_task, update_task


def writes(sim) -> int:
    """Every write request the simulator saw (PUT, POST, PATCH, DELETE under /api/v2)."""
    return requests.get(f"{sim.base_url}/_sim/stats", timeout=5).json()["write_requests"]


@pytest.fixture
def mode(fleet_env, monkeypatch):
    def set_mode(value: str) -> None:
        monkeypatch.setenv("TRIAGE_MODE", value)
        get_settings.cache_clear()

    return set_mode


def claimed(ticket_id: int):
    outcome = sweep(
        services.zendesk(),
        services.claims(),
        10,
        ticket_ids=[ticket_id],
        triage_mode=get_settings().workers.triage_mode,
    )
    assert len(outcome.inputs) == 1
    return outcome.inputs[0]


def test_shadow_reads_classifies_and_records_but_writes_nothing_and_is_not_swept_again(fleet_env, mode):
    sim = fleet_env
    mode("shadow")
    ticket_id = create_ticket(sim, "Refund please", "I was charged twice, please refund me", priority="low")
    before = sim_ticket(sim, ticket_id)["ticket"]
    writes_before = writes(sim)

    _, result = run_chain(claimed(ticket_id).model_dump())

    assert result["status"] == "success" and result["mode"] == "shadow"
    assert result["tags_added"] == [] and result["priority_set"] is None and result["written_at"] is None
    assert writes(sim) == writes_before  # not one write request, not even the processed tag
    after = sim_ticket(sim, ticket_id)["ticket"]
    assert after["tags"] == before["tags"] and after["priority"] == "low"
    assert after["updated_at"] == before["updated_at"] and private_notes(sim, ticket_id) == []
    (prediction,) = services.predictions().since(0)
    assert prediction.ticket_id == ticket_id and prediction.mode == "shadow"
    assert prediction.values["root_cause"] == "refund" and prediction.written == {}
    assert set(prediction.field_modes.values()) == {"shadow"}
    # Remembered: the search still finds it (no processed tag), the sweep skips it.
    again = sweep(services.zendesk(), services.claims(), 10, ticket_ids=[ticket_id], triage_mode="shadow")
    assert again.inputs == [] and again.skipped_done_or_claimed == 1


def test_suggest_writes_the_note_alone(fleet_env, mode):
    sim = fleet_env
    mode("suggest")
    ticket_id = create_ticket(sim, "URGENT: production down", "Everything is broken, outage right now", priority="low")

    redacted, result = run_chain(claimed(ticket_id).model_dump())

    assert result["status"] == "success" and result["mode"] == "suggest"
    ticket = sim_ticket(sim, ticket_id)["ticket"]
    assert ticket["tags"] == [] and ticket["priority"] == "low"  # no tag, priority or field changed
    (note,) = private_notes(sim, ticket_id)
    assert "Suggested urgency: high" in note["body"] and "Suggested priority: high" in note["body"]
    assert "Mode: suggest" in note["body"]
    (prediction,) = services.predictions().since(0)
    assert prediction.mode == "suggest" and prediction.written == {}
    # Delivered again: the done marker says it was handled; still one note.
    again = update_task.apply(args=(classify_task.apply(args=(redacted,)).get(),)).get()
    assert again["status"] == "skipped" and len(private_notes(sim, ticket_id)) == 1


def test_a_suggest_note_that_landed_before_the_worker_died_is_not_written_again(fleet_env, mode):
    sim = fleet_env
    mode("suggest")
    ticket_id = create_ticket(sim, "Question", "How do I export my invoices?")
    work = claimed(ticket_id)
    classified = classify_task.apply(args=(redact_task.apply(args=(work.model_dump(),)).get(),)).get()
    first = update_task.apply(args=(classified,)).get()
    assert first["status"] == "success" and len(private_notes(sim, ticket_id)) == 1
    # As if the worker died after Zendesk took the note and before the outcome was recorded: the
    # claim and the attempt's marker are there, the done marker is not.
    claims = services.claims()
    claims.redis.delete(claims.done_key(ticket_id))
    claims.take(ticket_id)
    claims.begin_note(ticket_id, work.run_id)
    writes_before = writes(sim)
    again = update_task.apply(args=(classified,)).get()
    assert again["status"] == "success" and again["mode"] == "suggest"
    assert writes(sim) == writes_before and len(private_notes(sim, ticket_id)) == 1


def test_a_batch_in_suggest_mode_goes_one_note_at_a_time_and_never_through_update_many(fleet_env, mode):
    sim = fleet_env
    mode("suggest")
    outcome = sweep(services.zendesk(), services.claims(), 5, triage_mode="suggest")
    works = [classify_task.apply(args=(redact_task.apply(args=(t.model_dump(),)).get(),)).get() for t in outcome.inputs]
    records = update_batch_task.apply(args=([[], *works],), kwargs={"run_id": outcome.run_id, "batch_no": 0}).get()
    assert [r["mode"] for r in records] == ["suggest"] * 5 and {r["status"] for r in records} <= {"success", "fallback"}
    stats = requests.get(f"{sim.base_url}/_sim/stats", timeout=5).json()
    assert stats["requests_by_endpoint"]["update_many"] == 0
    assert stats["requests_by_endpoint"]["ticket_update"] == 5 and stats["tickets_ai_processed"] == 0
