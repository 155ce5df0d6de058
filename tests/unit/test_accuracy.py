"""`accuracy`'s pure parts over hand-made audits: what counts as what people decided (a person's
correction, a trigger's change ignored, the fleet's write accepted, the requester's own priority, a
field nobody set), overrides, confidence bands and the recommendation's thresholds."""

from __future__ import annotations

import pytest

from app.clients.zendesk import ZendeskNotFound
from app.domain.taxonomy import load_taxonomy
from app.fleet.predictions import Prediction
from app.learn.accuracy import (
    READY_TICKETS,
    Decisions,
    Label,
    band_of,
    build_report,
    decide,
    lines,
    read_decisions,
    recommend,
    score,
)
from app.learn.audits import AuditReader

TAXONOMY = load_taxonomy()
FLEET, AGENT, REQUESTER, SYSTEM = 1001, 2002, 3003, -1
READER = AuditReader(TAXONOMY, FLEET)
BY_TRIGGER = {"channel": "rule", "source": {"from": {"id": 7, "title": "raise"}, "to": {}, "rel": "trigger"}}
FLEET_TAGS = ["ai_processed", "ai_bug", "ai_low", "ai_neutral"]


def audit(author, *events, via=None):
    return {"author_id": author, "via": via or {"channel": "web", "source": {"rel": None}}, "events": list(events)}


def create(field_name, value):
    return {"type": "Create", "field_name": field_name, "value": value}


def change(field_name, old, new, via=None):
    event = {"type": "Change", "field_name": field_name, "previous_value": old, "value": new}
    return {**event, "via": via} if via else event


def created(priority=None, tags=()):
    return audit(REQUESTER, create("tags", list(tags)), create("priority", priority), create("status", "new"))


def fleet_wrote(priority=None, previous=None):
    events = [change("tags", [], FLEET_TAGS), {"type": "Comment", "body": "AI Analysis: ...", "public": False}]
    if priority:
        events.append(change("priority", previous, priority))
    return audit(FLEET, *events, via={"channel": "api", "source": {"rel": None}})


def solved(*events):
    return audit(AGENT, *events, change("status", "open", "solved"))


def history(*audits):
    return READER.read(list(audits))


WRITTEN = {"root_cause": "bug", "urgency": "low", "sentiment": "neutral", "priority": "low"}


def test_a_persons_change_after_the_fleets_write_is_the_label_and_an_override():
    ticket = history(
        created(),
        fleet_wrote("low"),
        solved(change("tags", FLEET_TAGS, ["ai_processed", "ai_refund", "ai_low", "ai_neutral"])),
    )
    assert decide(ticket, "root_cause", "bug") == Label("refund", "person", override=True)
    assert decide(ticket, "urgency", "low") == Label("low", "accepted")
    assert decide(ticket, "priority", "low") == Label("low", "accepted")


def test_a_person_adding_the_fields_other_tag_beside_the_fleets_corrects_it():
    ticket = history(created(), fleet_wrote(), solved(change("tags", FLEET_TAGS, [*FLEET_TAGS, "ai_high"])))
    assert decide(ticket, "urgency", "low") == Label("high", "person", override=True)


def test_a_person_setting_the_written_value_again_is_no_override():
    ticket = history(created(), fleet_wrote("low"), solved(change("priority", "normal", "low")))
    assert decide(ticket, "priority", "low") == Label("low", "person")


def test_a_person_taking_the_fleets_tag_away_gives_no_label():
    ticket = history(created(), fleet_wrote(), solved(change("tags", FLEET_TAGS, ["ai_processed", "ai_low"])))
    assert decide(ticket, "root_cause", "bug") == Label(None, removed=True)
    assert decide(ticket, "urgency", "low") == Label("low", "accepted")


def test_triggers_automations_and_zendesk_itself_are_nobody():
    ticket = history(
        created(),
        fleet_wrote("low"),
        # An agent's update fires a trigger: the agent is the audit's author, the change is the rule's.
        audit(AGENT, change("priority", "low", "urgent", via=BY_TRIGGER)),
        audit(SYSTEM, change("priority", "urgent", "high")),
        audit(
            AGENT,
            change("tags", FLEET_TAGS, [*FLEET_TAGS, "ai_refund"]),
            via={"channel": "rule", "source": {"rel": "automation"}},
        ),
        solved(),
    )
    assert decide(ticket, "priority", "low") == Label("low", "accepted")
    assert decide(ticket, "root_cause", "bug") == Label("bug", "accepted")


def test_a_priority_the_fleets_triggers_raised_is_written_when_the_fleets_update_fired_them():
    raised = audit(
        FLEET,
        change("tags", [], FLEET_TAGS),
        change("priority", "normal", "high", via=BY_TRIGGER),
        via={"channel": "api"},
    )
    ticket = history(created("normal"), raised, solved())
    assert decide(ticket, "priority", "high") == Label("high", "accepted")
    corrected = history(created("normal"), raised, solved(change("priority", "high", "normal")))
    assert decide(corrected, "priority", "high") == Label("normal", "person", override=True)


def test_the_requesters_priority_at_creation_is_a_persons_unless_the_fleet_wrote_after_it():
    shadowed = history(created("high"), solved())
    assert decide(shadowed, "priority", None) == Label("high", "person")
    written = history(created("normal"), fleet_wrote("high", "normal"), solved())
    assert decide(written, "priority", "high") == Label("high", "accepted")


def test_a_field_nobody_set_has_no_label():
    ticket = history(
        created(None, ["vip"]), audit(FLEET, {"type": "Comment", "body": "suggested: ...", "public": False}), solved()
    )
    for name in ("root_cause", "urgency", "sentiment", "priority"):
        assert decide(ticket, name, None) == Label(None)


def test_two_tags_of_one_field_at_once_say_nothing():
    ticket = history(created(), solved(change("tags", [], ["ai_high", "ai_low"])))
    assert decide(ticket, "urgency", None) == Label(None)


def test_a_drop_down_custom_field_is_a_persons_value():
    taxonomy = TAXONOMY.model_copy(deep=True)
    taxonomy.fields["root_cause"].zendesk_field_id = 360001
    reader = AuditReader(taxonomy, FLEET)
    ticket = reader.read([created(), fleet_wrote(), solved(change("360001", None, "ai_refund"))])
    assert decide(ticket, "root_cause", "bug") == Label("refund", "person", override=True)
    cleared = reader.read([created(), solved(change("360001", "refund", None))])
    assert decide(cleared, "root_cause", None) == Label(None)


def prediction(ticket_id, values=None, confidence=0.95, mode="live", written=None):
    values = values or {"root_cause": "bug", "urgency": "low", "sentiment": "neutral"}
    return Prediction(
        ticket_id=ticket_id,
        run_id="r",
        at=1000.0,
        mode=mode,
        values=values,
        confidence=dict.fromkeys(values, confidence),
        provider="rules",
        written=WRITTEN if written is None and mode == "live" else written or {},
    )


def test_overrides_count_written_fields_only_and_urgent_is_another_priority():
    kept = history(created(), fleet_wrote("low"), solved())
    overridden = history(created(), fleet_wrote("low"), solved(change("priority", "low", "urgent")))
    shadowed = history(created("urgent"), solved())
    predictions = [prediction(1), prediction(2), prediction(3, mode="shadow"), prediction(4)]
    scores = score(predictions, {1: kept, 2: overridden, 3: shadowed}, TAXONOMY)  # 4: pending
    priority = scores["priority"].as_json()
    assert (priority["labelled"], priority["correct"], priority["accuracy"]) == (3, 1, 0.3333)
    assert (priority["written"], priority["overrides"], priority["override_rate"]) == (2, 1, 0.5)
    assert priority["labels"] == {"by_person": 2, "accepted": 1}
    assert priority["confusion"]["low"] == {"low": 1, "normal": 0, "high": 0, "urgent": 2}
    assert priority["modes"]["shadow"] == {"labelled": 1, "correct": 0, "accuracy": 0.0}
    assert priority["modes"]["live"] == {"labelled": 2, "correct": 1, "accuracy": 0.5}
    urgency = scores["urgency"].as_json()
    assert (urgency["labelled"], urgency["written"], urgency["overrides"]) == (2, 2, 0)  # shadowed: no tag
    assert urgency["override_rate"] == 0.0


def test_bands_are_closed_below_and_open_above():
    assert [band_of(c) for c in (1.0, 0.9, 0.8999, 0.8, 0.7, 0.6, 0.5999, 0.0)] == [
        ">=0.9",
        ">=0.9",
        "0.8-0.9",
        "0.8-0.9",
        "0.7-0.8",
        "0.6-0.7",
        "<0.6",
        "<0.6",
    ]


def test_coverage_is_the_share_of_a_fields_labelled_predictions_in_each_band():
    kept = history(created(), fleet_wrote("low"), solved())
    predictions = [prediction(1, confidence=0.95), prediction(2, confidence=0.85), prediction(3, confidence=0.3)]
    figures = score(predictions, dict.fromkeys((1, 2, 3), kept), TAXONOMY)["sentiment"].as_json()
    bands = {band["band"]: band for band in figures["bands"]}
    assert [band["band"] for band in figures["bands"]] == [">=0.9", "0.8-0.9", "0.7-0.8", "0.6-0.7", "<0.6"]
    assert bands[">=0.9"] == {"band": ">=0.9", "labelled": 1, "correct": 1, "accuracy": 1.0, "coverage": 0.3333}
    assert bands["0.7-0.8"] == {"band": "0.7-0.8", "labelled": 0, "correct": 0, "accuracy": None, "coverage": 0.0}
    assert bands["<0.6"]["coverage"] == 0.3333


def scored(*groups):
    """(confidence, right) pairs: groups of (confidence, right, wrong)."""
    return [(c, True) for c, right, _ in groups for _ in range(right)] + [
        (c, False) for c, _, wrong in groups for _ in range(wrong)
    ]


def test_ready_at_the_lowest_threshold_with_enough_tickets_right_often_enough():
    # >= 0.9: 20 right; 0.8-0.9: 18 right 2 wrong; 0.7-0.8: 5 right 10 wrong (at >= 0.7: 78%).
    answers = scored((0.95, 20, 0), (0.85, 18, 2), (0.75, 5, 10))
    said = recommend("urgency", "tag", answers)
    assert said == {
        "ready": True,
        "threshold": 0.8,
        "tickets": 40,
        "accuracy": 0.95,
        "text": "urgency at confidence ≥ 0.8: 95% right on 40 tickets; ready for `tag`",
    }
    assert recommend("priority", "write", answers)["text"].endswith("ready for `write`")


def test_not_ready_names_the_best_threshold_rounded_down():
    # 0.9: 40 tickets, 28 right (70%); 0.5: 100 tickets, 60 right.
    said = recommend("urgency", "tag", scored((0.95, 28, 12), (0.55, 32, 28)))
    assert said["text"] == "not ready: 70% right at best (confidence ≥ 0.9, 40 tickets)"
    assert not said["ready"] and said["threshold"] == 0.9
    just_under = recommend("urgency", "tag", scored((0.95, 899, 101)))  # 89.9%: never shown as 90%
    assert just_under["text"] == "not ready: 89% right at best (confidence ≥ 0.9, 1000 tickets)"


def test_exactly_the_bar_is_ready_and_too_few_says_how_many():
    exactly = recommend("urgency", "tag", scored((0.9, 27, 3)))  # also the lowest threshold's 30
    assert exactly["text"] == "urgency at confidence ≥ 0.5: 90% right on 30 tickets; ready for `tag`"
    too_few = recommend("urgency", "tag", scored((0.95, READY_TICKETS - 18, 0)))
    assert too_few["text"] == "too few decided tickets (12 of 30 needed)" and too_few["tickets"] == 12
    below = recommend("urgency", "tag", scored((0.95, 10, 0), (0.3, 40, 0)))
    assert below["text"] == "too few decided tickets at confidence ≥ 0.5 (10 of 30 needed)"


class FakeZendesk:
    """The calls read_decisions makes: users/me, the export's pages, audits."""

    def __init__(self, pages, audits):
        self.pages, self.audits, self.audit_requests = pages, audits, []

    def me(self):
        return {"id": FLEET}

    def changed_tickets_page(self, start_time=None, after_url=None):
        index = 0 if after_url is None else int(after_url)
        return self.pages[index], (str(index + 1) if index + 1 < len(self.pages) else None)

    def ticket_audits(self, ticket_id):
        self.audit_requests.append(ticket_id)
        if ticket_id not in self.audits:
            raise ZendeskNotFound("404 RecordNotFound")
        return self.audits[ticket_id]


def test_reading_zendesk_asks_audits_of_decided_predicted_tickets_only():
    kept = [created(), fleet_wrote("low"), solved()]
    pages = [
        [{"id": 1, "status": "open"}, {"id": 2, "status": "solved"}, {"id": 9, "status": "solved"}],
        [{"id": 1, "status": "closed"}, {"id": 3, "status": "deleted"}, {"id": 5, "status": "solved"}],
    ]
    client = FakeZendesk(pages, {1: kept, 2: kept})
    predictions = [prediction(n) for n in (1, 2, 3, 4, 5)]  # 4: not changed since; 5: gone before its audits
    decisions = read_decisions(client, TAXONOMY, predictions, 0.0)
    assert sorted(client.audit_requests) == [1, 2, 5]  # never 9: no prediction
    assert sorted(decisions.histories) == [1, 2]
    assert (decisions.pending, decisions.not_found) == (1, 2)
    from datetime import UTC, datetime

    moment = datetime(2026, 1, 1, tzinfo=UTC)
    report = build_report(predictions, decisions, TAXONOMY, "30d", moment, moment)
    assert report["totals"] == {"predictions": 5, "decided": 2, "pending": 1, "not_found": 2}
    assert list(report["fields"]) == ["root_cause", "urgency", "sentiment", "priority"]
    text = "\n".join(lines(report))
    assert "5 predictions recorded in the last 30d" in text
    assert "too few decided tickets (2 of 30 needed)" in text


@pytest.mark.parametrize("decided", [Decisions(), Decisions(pending=3)])
def test_an_empty_report_renders(decided):
    from datetime import UTC, datetime

    moment = datetime(2026, 1, 1, tzinfo=UTC)
    report = build_report([], decided, TAXONOMY, "7d", moment, moment)
    assert report["fields"]["urgency"]["accuracy"] is None
    assert lines(report)[0].startswith("0 predictions recorded in the last 7d")
