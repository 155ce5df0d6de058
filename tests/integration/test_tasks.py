"""Tasks called directly (eagerly) against real Redis and the in-process simulator."""

from __future__ import annotations

import json
import time

import pytest
import requests

from app import services
from app.domain.models import BatchProgress, TicketInput, TicketWork
from app.fleet.sweep import sweep
from workers.classify import classify_task
from workers.redact import redact_task
from workers.sweep import summarize_task
from workers.update import update_batch_task, update_task

PII = {
    "name": "Margaret Thompson",
    "email": "margaret.thompson@example.org",
    "phone": "+1 415 555 0132",
    "card": "4111 1111 1111 1111",
}


def create_ticket(sim, subject, description, **fields):
    import requests

    body = {"tickets": [{"subject": subject, "description": description, **fields}]}
    return requests.post(f"{sim.base_url}/_sim/tickets", json=body, timeout=5).json()["ids"][0]


def sim_ticket(sim, ticket_id):
    import requests

    return requests.get(f"{sim.base_url}/_sim/tickets/{ticket_id}", timeout=5).json()


def payload(sim, ticket_id, run_id="run-t", dry_run=False):
    ticket = services.zendesk().get_ticket(ticket_id)
    return TicketInput.from_ticket(ticket, run_id, dry_run).model_dump()


def run_chain(data):
    """(what redact handed on, what update returned)."""
    redacted = redact_task.apply(args=(data,)).get()
    classified = classify_task.apply(args=(redacted,)).get()
    assert "redacted_description" not in classified  # the result backend never keeps the text
    return redacted, update_task.apply(args=(classified,)).get()


def private_notes(sim, ticket_id) -> list[dict]:
    """The ticket's private comments in the simulator: the fleet's notes."""
    return [c for c in sim_ticket(sim, ticket_id)["comments"] if not c["public"]]


def assert_classify_and_update_again_skip(sim, ticket_id, redacted) -> None:
    """Classify and update delivered once more: the update is skipped and the ticket keeps one note."""
    again = update_task.apply(args=(classify_task.apply(args=(redacted,)).get(),)).get()
    assert again["status"] == "skipped"
    assert len(private_notes(sim, ticket_id)) == 1


def test_chain_redacts_classifies_and_writes_once(fleet_env):
    sim = fleet_env
    ticket_id = create_ticket(
        sim,
        "URGENT: app crashes at checkout",
        f"Hi, this is {PII['name']} ({PII['email']}, {PII['phone']}). The app crashes with an error "
        f"when I pay with card {PII['card']}. Fix ASAP!",
        tags=["vip"],
        priority="low",
    )
    services.claims().take(ticket_id)
    redacted, result = run_chain(payload(sim, ticket_id))

    text = json.dumps(redacted) + json.dumps(result)
    for value in PII.values():
        assert value not in text  # nothing personal in what the tasks hand on or store
    assert result["status"] == "success"
    assert result["tags_added"] == ["ai_processed", "ai_bug", "ai_high", "ai_neutral"]
    assert result["priority_set"] == "high"
    state = sim_ticket(sim, ticket_id)
    assert set(state["ticket"]["tags"]) >= {"vip", "ai_processed", "ai_bug", "ai_high"}
    notes = [c for c in state["comments"] if not c["public"]]
    assert len(notes) == 1 and notes[0]["body"].startswith("AI Analysis:")
    assert all(value not in notes[0]["body"] for value in PII.values())
    claims = services.claims()
    assert claims.is_done(ticket_id) and not claims.redis.exists(claims.claim_key(ticket_id))

    # A redelivered update (worker died after the PUT) must not write again.
    assert_classify_and_update_again_skip(sim, ticket_id, redacted)


def test_update_conflict_from_an_earlier_landed_write_is_not_repeated(fleet_env):
    """The done marker is gone (e.g. Redis lost it) but Zendesk has our write: 409, re-read, skip."""
    sim = fleet_env
    ticket_id = create_ticket(sim, "Refund please", "I was charged twice")
    data = payload(sim, ticket_id)
    redacted, first = run_chain(data)
    assert first["status"] == "success"
    services.redis_client().delete(services.claims().done_key(ticket_id))
    assert_classify_and_update_again_skip(sim, ticket_id, redacted)


def test_stages_keep_the_claim_alive(fleet_env):
    sim = fleet_env
    ticket_id = create_ticket(sim, "Slow one", "still waiting")
    claims = services.claims()
    claims.take(ticket_id)
    claims.redis.expire(claims.claim_key(ticket_id), 5)  # about to run out while the ticket waits
    work = redact_task.apply(args=(payload(sim, ticket_id),)).get()
    classify_task.apply(args=(work,)).get()
    assert claims.redis.ttl(claims.claim_key(ticket_id)) > 60
    claims.finish(ticket_id, written=False)
    claims.keep_alive(ticket_id)
    assert not claims.redis.exists(claims.claim_key(ticket_id))  # never re-creates a released claim


def test_4xx_becomes_a_failed_record_and_releases_the_claim(fleet_env):
    import requests

    sim = fleet_env
    ticket_id = create_ticket(sim, "Broken export", "The export fails")
    requests.post(f"{sim.base_url}/_sim/config", json={"fail_updates": {str(ticket_id): 422}}, timeout=5)
    services.claims().take(ticket_id)
    _, result = run_chain(payload(sim, ticket_id))
    assert result["status"] == "failed" and result["stage"] == "update" and "422" in result["error"]
    claims = services.claims()
    assert not claims.is_done(ticket_id) and not claims.redis.exists(claims.claim_key(ticket_id))
    (dead,) = services.dead_letters().entries()
    assert (dead["ticket_id"], dead["stage"], dead["run_id"]) == (ticket_id, "update", "run-t") and "422" in dead[
        "reason"
    ]
    assert ticket_id in claims.unavailable([ticket_id])  # sweeps skip it until it is requeued
    services.dead_letters().remove([ticket_id])
    assert ticket_id not in claims.unavailable([ticket_id])


def test_deleted_ticket_is_a_failed_record(fleet_env):
    sim = fleet_env
    ticket_id = create_ticket(sim, "Where is my invoice", "please send it")
    data = payload(sim, ticket_id)
    services.zendesk().call("DELETE", f"/api/v2/tickets/{ticket_id}.json")
    _, result = run_chain(data)
    assert result["status"] == "failed" and "not found" in result["error"]


def test_dry_run_writes_nothing(fleet_env):
    sim = fleet_env
    ticket_id = create_ticket(
        sim,
        "Feature request from margaret@example.org: dark mode",  # the rules' summary is the subject
        "It would be great to have dark mode. Margaret Thompson, margaret@example.org",
    )
    _, result = run_chain(payload(sim, ticket_id, dry_run=True))
    assert result["status"] == "success" and "ai_feature" in result["tags_added"]
    # What it would have written is recorded, the note included, made from the redacted analysis.
    note = result["private_note"]
    assert note.startswith("AI Analysis:") and "Run: run-t" in note
    assert "margaret@example.org" not in note and "Thompson" not in note, note
    state = sim_ticket(sim, ticket_id)
    assert "ai_processed" not in state["ticket"]["tags"] and not [c for c in state["comments"] if not c["public"]]
    assert not services.claims().is_done(ticket_id)


def test_sweep_claims_once_and_skips_done_or_claimed(fleet_env):
    first = sweep(services.zendesk(), services.claims(), limit=1000)
    assert len(first.inputs) == 30
    second = sweep(services.zendesk(), services.claims(), limit=1000)
    assert second.inputs == [] and second.skipped_done_or_claimed == 30
    limited = sweep(services.zendesk(), services.claims(), limit=5, dry_run=True)
    assert len(limited.inputs) == 5  # a dry run ignores claims, but respects the limit
    one = sweep(services.zendesk(), services.claims(), limit=1000, ticket_ids=[first.inputs[0].ticket_id])
    assert one.inputs == []  # claimed already


def test_summarize_writes_file_and_redis_once(fleet_env):
    from app.domain.models import TicketResult

    records = [TicketResult(ticket_id=i, status="success", processing_time=0.5).model_dump() for i in (1, 2)]
    out = summarize_task.apply(args=(records,), kwargs={"run_id": "r-sum", "started_at": time.time() - 3}).get()
    assert out["total"] == 2
    summary = services.run_store().summary("r-sum")
    assert summary.processed == 2
    summarize_task.apply(args=(records,), kwargs={"run_id": "r-sum", "started_at": time.time()}).get()
    from app.settings import get_settings

    assert len(list(get_settings().operators.log_dir.glob("results_*.json"))) == 1


def test_agent_edit_between_sweep_and_update_is_kept(fleet_env):
    """The ticket changed after we read it: safe_update answers 409, we re-read, and the agent's
    tags and higher priority survive while ours are added."""
    import requests

    sim = fleet_env
    ticket_id = create_ticket(sim, "Dashboard error", "The dashboard shows an error, can't work", priority="low")
    data = payload(sim, ticket_id)  # read now: priority low, stamp t0
    requests.post(
        f"{sim.base_url}/_sim/tickets/{ticket_id}/agent_edit",
        json={"additional_tags": ["escalated"], "priority": "urgent"},
        timeout=5,
    ).raise_for_status()
    _, result = run_chain(data)
    assert result["status"] == "success" and result["priority_set"] is None
    state = sim_ticket(sim, ticket_id)
    assert state["ticket"]["priority"] == "urgent"
    assert {"escalated", "ai_processed", "ai_bug"} <= set(state["ticket"]["tags"])
    assert requests.get(f"{sim.base_url}/_sim/stats", timeout=5).json()["responses_by_status"].get("409") == 1


def test_closed_meanwhile_is_recorded_not_written(fleet_env):
    import requests

    sim = fleet_env
    ticket_id = create_ticket(sim, "Cancel my plan", "please cancel")
    data = payload(sim, ticket_id)
    requests.post(
        f"{sim.base_url}/_sim/tickets/{ticket_id}/agent_edit", json={"status": "closed"}, timeout=5
    ).raise_for_status()
    _, result = run_chain(data)
    assert result["status"] == "failed" and "closed" in result["error"]
    assert "ai_processed" not in sim_ticket(sim, ticket_id)["ticket"]["tags"]


BAD_INPUTS = {
    "empty": ("", ""),
    "huge": ("Log attached", "ERROR stack overflow in module X\n" * 32_000),  # ~1 MB
    "html": (
        "<b>Broken</b>",
        "<html><body><p>Hi <i>Anna Berg</i>,</p><script>alert(1)</script>"
        "<table><tr><td>crash</td></tr></table></body></html>",
    ),
    "binary": ("\x00\x01\x02", "".join(chr(c) for c in range(0, 32)) + "\ufffd\udcff"[:1] + "\x7f" * 50),
    "emoji_rtl": ("🔥🔥 URGENT 🔥🔥", "שלום, האפליקציה קורסת 😡 مرحبا التطبيق لا يعمل 🙏"),
    "german": ("Rückerstattung", "Ich wurde doppelt belastet, bitte erstatten Sie mir das Geld. Danke!"),
}


@pytest.mark.parametrize("kind", list(BAD_INPUTS))
def test_bad_input_gets_an_outcome_never_an_exception(fleet_env, kind):
    sim = fleet_env
    subject, description = BAD_INPUTS[kind]
    ticket_id = create_ticket(sim, subject, description)
    work, result = run_chain(payload(sim, ticket_id))
    assert result["status"] == "success", result
    assert len(work["redacted_description"]) <= 20_000 + 200
    note = private_notes(sim, ticket_id)
    assert len(note) == 1 and "Summary:" in note[0]["body"]
    if kind == "html":
        assert "Anna Berg" not in json.dumps(work)


def test_update_batch_writes_once_and_a_redelivery_never_sends_a_second_job(fleet_env, monkeypatch):
    """A batch is written by one update_many job. Delivered again (done markers present) it skips;
    delivered again after Redis lost the done markers it polls the job it already sent instead
    of sending another, so no ticket gets a second note."""
    import requests

    sim = fleet_env
    monkeypatch.setenv("BULK_POLL_INTERVAL", "0.05")
    from app.settings import get_settings

    get_settings.cache_clear()
    outcome = sweep(services.zendesk(), services.claims(), 30)
    works = [classify_task.apply(args=(redact_task.apply(args=(t.model_dump(),)).get(),)).get() for t in outcome.inputs]

    def batch():
        # As the batch chord delivers them: redact_batch's empty result first, and a ticket twice
        # (a redelivered redact_batch classified it again).
        delivered = [[], *works, works[3]]
        return update_batch_task.apply(args=(delivered,), kwargs={"run_id": outcome.run_id, "batch_no": 0}).get()

    def stats():
        return requests.get(f"{sim.base_url}/_sim/stats", timeout=5).json()

    first = batch()
    assert [r["status"] for r in first] == ["success"] * 30
    assert [r["ticket_id"] for r in first] == [t.ticket_id for t in outcome.inputs]
    assert stats()["requests_by_endpoint"]["update_many"] == 1
    assert stats()["tickets_ai_processed"] == 30 and stats()["max_ai_notes_per_ticket"] == 1

    assert {r["status"] for r in batch()} == {"skipped"}  # redelivered: the done markers say so
    claims = services.claims()
    claims.redis.delete(*[claims.done_key(t.ticket_id) for t in outcome.inputs])
    again = batch()
    assert all(r["status"] in ("success", "skipped") for r in again)
    after = stats()
    assert after["requests_by_endpoint"]["update_many"] == 1  # the job was polled, not sent again
    assert after["max_ai_notes_per_ticket"] == 1 and after["notes_total"] == 30


def test_a_batch_stopped_by_the_update_ticket_share_resumes_its_priority_raises(fleet_env, monkeypatch):
    """Tags and notes land in one job; the priority raises meet the fleet's share of Update Ticket
    (one token here) and stop; called again with the progress it carried, the batch raises the rest
    without sending another job, and every record says which priority it set."""
    from app.fleet.stages import update_batch
    from app.fleet.writeback import BatchInterrupted

    monkeypatch.setenv("BULK_POLL_INTERVAL", "0.05")
    monkeypatch.setenv("ZENDESK_UPDATE_RATE_LIMIT", "2")  # the fleet's half: one PUT, then a long wait
    services.reset()
    outcome = sweep(services.zendesk(), services.claims(), 10)
    works = [
        TicketWork.model_validate(classify_task.apply(args=(redact_task.apply(args=(t.model_dump(),)).get(),)).get())
        for t in outcome.inputs
    ]
    with pytest.raises(BatchInterrupted) as stopped:
        update_batch(services.fleet(), works, outcome.run_id, 0)
    progress = stopped.value.progress
    assert progress.tags_done and len(progress.written) == 10 and len(progress.priorities) < 10
    assert (
        requests.get(f"{fleet_env.base_url}/_sim/stats", timeout=5).json()["requests_by_endpoint"]["ticket_update"] == 1
    )

    monkeypatch.setenv("ZENDESK_UPDATE_RATE_LIMIT", "100000")  # later: the share has room again
    services.reset()
    services.redis_client().delete(f"{services.get_settings().redis.prefix}ratelimit:zendesk:update_ticket")
    records = update_batch(
        services.fleet(), works, outcome.run_id, 0, BatchProgress.model_validate(progress.model_dump(mode="json"))
    )
    raised = {r["ticket_id"]: r["priority_set"] for r in records}
    wanted = {w.ticket_id: services.taxonomy().priority_for(w.analysis.values) for w in works}
    assert all(r["status"] == "success" for r in records)
    stats = requests.get(f"{fleet_env.base_url}/_sim/stats", timeout=5).json()
    assert stats["requests_by_endpoint"]["update_many"] == 1 and stats["max_ai_notes_per_ticket"] == 1
    for ticket_id, priority in raised.items():  # each raise that was due happened, on every ticket
        ticket = sim_ticket(fleet_env, ticket_id)["ticket"]
        assert priority is None or ticket["priority"] == priority == wanted[ticket_id]
    assert sum(1 for p in raised.values() if p) == stats["requests_by_endpoint"]["ticket_update"] > 1


def test_redis_out_of_reach_is_waited_out_never_a_failed_ticket(fleet_env, monkeypatch):
    """A worker host cut off from Redis (tests/hosts) must not record its tickets as failed: the
    stage retries, and the ticket is written once when Redis answers again."""
    import redis

    sim = fleet_env
    ticket_id = create_ticket(sim, "Refund please", "I was charged twice")
    claims = services.claims()
    real_keep_alive = claims.keep_alive
    outages = {"classify": 1, "update": 1}
    stage = {"now": "classify"}

    def keep_alive_with_an_outage(ticket: int) -> None:
        if outages[stage["now"]]:
            outages[stage["now"]] -= 1
            raise redis.ConnectionError("Timeout connecting to server")
        real_keep_alive(ticket)

    monkeypatch.setattr(claims, "keep_alive", keep_alive_with_an_outage)
    redacted = redact_task.apply(args=(payload(sim, ticket_id),)).get()
    classified = classify_task.apply(args=(redacted,)).get()  # eager: the retry runs at once
    assert classified["error"] is None and classified["analysis"] is not None
    stage["now"] = "update"
    result = update_task.apply(args=(classified,)).get()
    assert result["status"] == "success", result
    assert outages == {"classify": 0, "update": 0}  # both stages met the outage and retried
    assert services.dead_letters().entries() == []
    assert len(private_notes(sim, ticket_id)) == 1
