"""Shadow, suggest and per-field modes: what reaches Zendesk for each, as pure functions and
against a fake Zendesk client."""

import pytest
import yaml

from app.domain.models import Ticket
from app.domain.taxonomy import DEFAULT_TAXONOMY as TAXONOMY_PATH
from app.domain.taxonomy import Taxonomy, TaxonomyError, load_taxonomy
from app.domain.triage import format_note, plan_update, triage_tags
from app.fleet.writeback import BatchItem, note_written, priorities_to_raise, write_triage
from tests.unit.test_triage import ANALYSIS, TAXONOMY


def taxonomy_with(tmp_path, **modes) -> Taxonomy:
    raw = yaml.safe_load(TAXONOMY_PATH.read_text())
    for name, mode in modes.items():
        if name == "priority":
            raw["priority"]["mode"] = mode
        else:
            raw["fields"][name]["mode"] = mode
    path = tmp_path / "taxonomy.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_taxonomy(path)


def test_triage_mode_sets_every_field_and_unset_keeps_the_taxonomys_own(tmp_path):
    mixed = taxonomy_with(tmp_path, urgency="suggest", sentiment="shadow", priority="suggest")
    own = mixed.modes(None)
    assert own.fields == {"root_cause": "tag", "urgency": "suggest", "sentiment": "shadow"}
    assert own.priority == "suggest" and own.ticket == "live"
    assert mixed.modes("live").record() == {
        "root_cause": "tag",
        "urgency": "tag",
        "sentiment": "tag",
        "priority": "write",
    }
    assert set(mixed.modes("suggest").record().values()) == {"suggest"}
    assert mixed.modes("suggest").ticket == "suggest"
    assert set(mixed.modes("shadow").record().values()) == {"shadow"}
    assert mixed.modes("shadow").ticket == "shadow"
    # Modes change what is written, not what is asked: the prompt's fingerprint stays.
    assert mixed.fingerprint == TAXONOMY.fingerprint


def test_a_ticket_whose_every_field_is_shadowed_is_in_shadow_mode(tmp_path):
    quiet = taxonomy_with(tmp_path, root_cause="shadow", urgency="shadow", sentiment="shadow", priority="shadow")
    assert quiet.modes().ticket == "shadow"
    with pytest.raises(ValueError, match="shadow"):
        plan_update(ANALYSIS, quiet, None, None, "r")


def test_an_unknown_mode_is_a_taxonomy_error(tmp_path):
    raw = yaml.safe_load(TAXONOMY_PATH.read_text())
    raw["fields"]["urgency"]["mode"] = "write"  # priority's word, not a field's
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(TaxonomyError, match="fields.urgency.mode"):
        load_taxonomy(path)


def test_suggest_writes_a_note_and_nothing_else():
    modes = TAXONOMY.modes("suggest")
    update = plan_update(ANALYSIS, TAXONOMY, None, "t1", "run-9", modes=modes)
    payload = update.payload()["ticket"]
    assert payload["additional_tags"] == [] and "priority" not in payload
    note = payload["comment"]["body"]
    assert payload["comment"]["public"] is False
    assert "Suggested root cause: bug (90%)" in note
    assert "Suggested urgency: high (80%)" in note
    assert "Suggested priority: high" in note
    assert "Mode: suggest (suggestions only: no tag, priority or field of this ticket was changed)" in note
    assert "\nRun: run-9" in note and note.startswith("AI Analysis:")
    # The pending tag of the fleet's priority triggers is a tag too: not in suggest mode.
    assert plan_update(ANALYSIS, TAXONOMY, None, "t1", "r", by_trigger=True, modes=modes).additional_tags == []


def test_mixed_modes_tag_what_is_tagged_and_suggest_the_rest(tmp_path):
    mixed = taxonomy_with(tmp_path, urgency="suggest", sentiment="shadow", priority="suggest")
    update = plan_update(ANALYSIS, mixed, None, None, "r")
    assert update.additional_tags == ["ai_processed", "ai_bug"]  # urgency suggested, sentiment shadowed
    assert update.priority is None
    note = update.private_note
    assert "Root Cause: bug (90%)" in note and "Suggested urgency: high (80%)" in note
    assert "Sentiment" not in note and "Suggested priority: high" in note
    assert "Mode: live (suggested only: urgency, priority)" in note
    assert priorities_to_raise([BatchItem(1, ANALYSIS)], mixed) == {}
    fallback = ANALYSIS.model_copy(update={"fallback_reason": "daily LLM budget reached"})
    assert triage_tags(fallback, mixed)[-1] == "ai_fallback"
    assert triage_tags(fallback, TAXONOMY, TAXONOMY.modes("suggest")) == []


def test_live_is_todays_behaviour():
    live = plan_update(ANALYSIS, TAXONOMY, None, None, "r", modes=TAXONOMY.modes("live"))
    default = plan_update(ANALYSIS, TAXONOMY, None, None, "r")
    assert live == default
    assert live.additional_tags == ["ai_processed", "ai_bug", "ai_high", "ai_negative"]
    assert live.priority == "high"
    assert "Mode: live\n" in format_note(ANALYSIS, TAXONOMY, "r")


class AuditedZendesk:
    """A fake client with audits: the notes it holds, and the updates sent to it."""

    def __init__(self, notes: list[str]) -> None:
        self.notes = notes
        self.updates: list = []
        self.audit_reads = 0

    def ticket_audits(self, ticket_id):
        self.audit_reads += 1
        return [{"author_id": 7, "events": [{"type": "Comment", "body": body, "public": False}]} for body in self.notes]

    def get_ticket(self, ticket_id):
        return Ticket(id=ticket_id, updated_at="t1", status="open")

    def update_ticket(self, ticket_id, update):
        self.updates.append(update)
        self.notes.append(update.private_note)
        return self.get_ticket(ticket_id)


def test_a_retried_suggest_note_that_landed_is_not_written_twice():
    modes = TAXONOMY.modes("suggest")
    client = AuditedZendesk([])
    known = Ticket(id=4, updated_at="t1", status="open")
    first = write_triage(client, 4, ANALYSIS, TAXONOMY, "run-1", known, modes=modes)
    assert not first.already_done and first.tags_added == [] and len(client.updates) == 1
    assert client.audit_reads == 0  # a first attempt costs no read
    again = write_triage(client, 4, ANALYSIS, TAXONOMY, "run-1", known, modes=modes, check_note=True)
    assert not again.already_done and len(client.updates) == 1 and client.audit_reads == 1


def test_a_retried_note_that_never_landed_is_written_and_another_runs_note_does_not_count():
    client = AuditedZendesk([format_note(ANALYSIS, TAXONOMY, "run-0", TAXONOMY.modes("suggest")), "Thanks!"])
    assert not note_written(client, 4, "run-1")
    assert note_written(client, 4, "run-0")
    known = Ticket(id=4, updated_at="t1", status="open")
    write_triage(client, 4, ANALYSIS, TAXONOMY, "run-1", known, modes=TAXONOMY.modes("suggest"), check_note=True)
    assert len(client.updates) == 1
    assert note_written(client, 4, "run-1")


def test_health_names_the_mode_as_information_never_a_fault():
    from app.ops.health import HEALTHY, mode_check

    assert mode_check("shadow").status == HEALTHY
    assert "nothing is written to Zendesk" in mode_check("shadow").detail
    assert "no tag, priority or field is changed" in mode_check("suggest").detail
    assert "TRIAGE_MODE unset" in mode_check(None).detail


def test_the_outcome_log_line_keeps_its_shape_and_adds_the_mode(caplog):
    """Operators (and tests/hosts) read "ticket N <status> in S" from the log: the mode comes after."""
    import logging

    from app.domain.models import TicketResult, TicketWork
    from app.fleet.outcome import _log

    work = TicketWork(run_id="r", ticket_id=7, enqueued_at=0.0)
    result = TicketResult(ticket_id=7, status="skipped", mode="shadow", processing_time=0.5)
    with caplog.at_level(logging.INFO, logger="app.fleet.outcome"):
        _log(work, result)
    assert caplog.messages == ["ticket 7 skipped in 0.50s mode=shadow tags= priority=None"]
