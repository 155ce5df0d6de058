"""Tags, priority and note rules, and the exactly-once write against a fake Zendesk client."""

import pytest

from app.clients.zendesk import ZendeskConflict, ZendeskRejected
from app.domain.models import Analysis, Ticket
from app.domain.taxonomy import TAXONOMY_DIR, load_taxonomy
from app.domain.triage import format_note, plan_update, priority_to_set, triage_tags
from app.fleet.writeback import write_triage

TAXONOMY = load_taxonomy()
ANALYSIS = Analysis(
    summary="Login fails with <PERSON>'s account",
    values={"root_cause": "bug", "urgency": "high", "sentiment": "negative"},
    confidence={"root_cause": 0.9, "urgency": 0.8, "sentiment": 0.7},
    language="en",
    provider="llm",
    model="gpt-4o-mini",
    prompt_version="triage-v1/x",
    prompt_tokens=300,
    completion_tokens=40,
)


def test_tags_follow_the_seed():
    assert triage_tags(ANALYSIS, TAXONOMY) == ["ai_processed", "ai_bug", "ai_high", "ai_negative"]
    fallback = ANALYSIS.model_copy(update={"fallback_reason": "LLM unavailable"})
    assert triage_tags(fallback, TAXONOMY)[-1] == "ai_fallback"


def test_tags_and_priority_of_another_taxonomy():
    catalog = load_taxonomy(TAXONOMY_DIR / "it_service_catalog.yaml")
    analysis = ANALYSIS.model_copy(
        update={"values": {"category": "security", "request_type": "incident", "sla": "hours_4"}}
    )
    assert triage_tags(analysis, catalog) == ["ai_processed", "itsc_security", "itsc_incident", "itsc_sla_4h"]
    assert plan_update(analysis, catalog, "high", None, "r").priority == "urgent"


@pytest.mark.parametrize(
    ("urgency", "current", "expected"),
    [
        ("high", None, "high"),
        ("medium", None, "normal"),
        ("low", None, "low"),
        ("high", "normal", "high"),
        ("low", "normal", None),  # never lower what a person set
        ("medium", "urgent", None),
        ("high", "high", None),  # nothing to change
    ],
)
def test_priority_never_lowered(urgency, current, expected):
    assert priority_to_set(TAXONOMY.priority_for({"urgency": urgency}), current) == expected


def test_note_and_payload():
    note = format_note(ANALYSIS, TAXONOMY, "run-1")
    assert note.startswith("AI Analysis:\n\nSummary: Login fails")
    assert "Root Cause: bug (90%)" in note and "Run: run-1" in note and "Tokens Used: 300 prompt + 40" in note
    payload = plan_update(ANALYSIS, TAXONOMY, "low", "2025-01-01T00:00:00Z", "run-1").payload()["ticket"]
    assert payload["additional_tags"] == triage_tags(ANALYSIS, TAXONOMY)
    assert "tags" not in payload  # "tags" would replace every existing tag
    assert payload["comment"] == {"body": note, "public": False}
    assert payload["priority"] == "high"
    assert payload["safe_update"] is True and payload["updated_stamp"] == "2025-01-01T00:00:00Z"


class FakeZendesk:
    """Replays a scripted sequence: each update either succeeds or raises the given error."""

    def __init__(self, fresh: Ticket, update_errors=()):
        self.fresh = fresh
        self.update_errors = list(update_errors)
        self.updates = []
        self.reads = 0

    def get_ticket(self, ticket_id):
        self.reads += 1
        return self.fresh

    def update_ticket(self, ticket_id, update):
        self.updates.append(update)
        if self.update_errors:
            raise self.update_errors.pop(0)
        return self.fresh


def test_write_once_when_nothing_changed():
    known = Ticket(id=1, priority=None, updated_at="t1", status="open")
    client = FakeZendesk(known)
    outcome = write_triage(client, 1, ANALYSIS, TAXONOMY, "r", known)
    assert not outcome.already_done and outcome.priority_set == "high"
    assert len(client.updates) == 1 and client.reads == 0


def test_conflict_with_our_own_earlier_write_is_not_written_again():
    known = Ticket(id=1, updated_at="t1", status="open")
    fresh = Ticket(id=1, updated_at="t2", status="open", tags=["vip", "ai_processed"])
    client = FakeZendesk(fresh, [ZendeskConflict("409", 409)])
    outcome = write_triage(client, 1, ANALYSIS, TAXONOMY, "r", known)
    assert outcome.already_done
    assert len(client.updates) == 1  # the conflicting attempt only


def test_conflict_with_an_agent_recomputes_priority_on_fresh_data():
    known = Ticket(id=1, priority=None, updated_at="t1", status="open")
    fresh = Ticket(id=1, priority="urgent", updated_at="t2", status="open", tags=["vip"])
    client = FakeZendesk(fresh, [ZendeskConflict("409", 409)])
    outcome = write_triage(client, 1, ANALYSIS, TAXONOMY, "r", known)
    assert not outcome.already_done and outcome.priority_set is None
    assert client.updates[-1].updated_stamp == "t2" and client.updates[-1].priority is None


def test_closed_meanwhile_is_rejected_and_endless_conflicts_give_up():
    closed = Ticket(id=1, updated_at="t2", status="closed")
    with pytest.raises(ZendeskRejected, match="closed"):
        write_triage(FakeZendesk(closed), 1, ANALYSIS, TAXONOMY, "r", closed)
    busy = Ticket(id=1, updated_at="t3", status="open")
    client = FakeZendesk(busy, [ZendeskConflict("409", 409)] * 5)
    with pytest.raises(ZendeskConflict):
        write_triage(client, 1, ANALYSIS, TAXONOMY, "r", busy)
    assert len(client.updates) == 3
