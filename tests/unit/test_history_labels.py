"""Labels from a solved ticket's audits: the fleet's answer, a person's correction outweighing it,
and what does not count as a person (triggers)."""

from app.domain.taxonomy import load_taxonomy
from app.learn.history import PERSON_WEIGHT, _Labeller

TAXONOMY = load_taxonomy()
FLEET, AGENT, TRIGGER = 1001, 2002, -1


def audit(author, *events):
    return {"author_id": author, "events": list(events)}


def tags(old, new):
    return {"type": "Change", "field_name": "tags", "previous_value": old, "value": new}


def priority(old, new):
    return {"type": "Change", "field_name": "priority", "previous_value": old, "value": new}


FLEET_WROTE = audit(
    FLEET,
    tags(["vip"], ["vip", "ai_processed", "ai_bug", "ai_low", "ai_neutral"]),
    {"type": "Comment", "body": "AI Analysis: ...", "public": False},
)


def test_the_fleets_answer_and_peoples_later_changes():
    labeller = _Labeller(TAXONOMY, FLEET)
    history = [
        audit(AGENT, {"type": "Create", "field_name": "priority", "value": "normal"}),  # before the fleet
        FLEET_WROTE,
        audit(TRIGGER, priority("normal", "urgent")),  # a trigger is not a person
        audit(AGENT, priority("normal", "high")),
        audit(
            AGENT,
            tags(
                ["vip", "ai_processed", "ai_bug", "ai_low", "ai_neutral"],
                ["vip", "ai_processed", "ai_refund", "ai_low", "ai_neutral"],
            ),
        ),
    ]
    fleet, people = labeller.from_audits(history)
    assert fleet == {"root_cause": "bug", "urgency": "low", "sentiment": "neutral"}
    assert people == {"urgency": "high", "root_cause": "refund"}


def test_urgent_means_the_highest_mapped_value_and_unknown_priorities_give_no_label():
    assert TAXONOMY.value_for_priority("urgent") == "high"
    assert TAXONOMY.value_for_priority("normal") == "medium"
    assert TAXONOMY.value_for_priority(None) is None
    labeller = _Labeller(TAXONOMY, FLEET)
    assert labeller.people_labels({"priority": "low"}) == {"urgency": "low"}
    assert labeller.people_labels({"priority": None}) == {}


def test_a_correction_becomes_the_label_and_weighs_more(monkeypatch):
    from app.learn import history

    class Client:
        def me(self):
            return {"id": FLEET}

        def changed_tickets_page(self, start_time=None, after_url=None):
            solved = {"status": "solved", "subject": "s", "description": "d"}
            page = [
                {**solved, "id": 1, "tags": ["ai_processed"], "priority": "high"},
                {**solved, "id": 2, "tags": [], "priority": "low"},
                {**solved, "id": 3, "tags": [], "priority": None},
                {"id": 4, "status": "open", "tags": []},
            ]
            return (page, "next") if after_url is None else ([{**solved, "id": 5, "tags": ["ai_processed"]}], None)

        def ticket_audits(self, ticket_id):
            corrected = audit(AGENT, priority("low", "high"))
            return [FLEET_WROTE, corrected] if ticket_id == 1 else [FLEET_WROTE]

    report = history.read_history(Client(), TAXONOMY, 30)
    assert (report.tickets_read, report.solved, report.fleet_triaged, report.unlabelled) == (5, 4, 2, 1)
    first, second, third = report.examples
    assert first.labels == {"root_cause": "bug", "urgency": "high", "sentiment": "neutral"}
    assert first.weights == {"urgency": PERSON_WEIGHT}
    assert second.labels == {"urgency": "low"}  # what an agent set on a ticket the fleet never saw
    assert third.labels == {"root_cause": "bug", "urgency": "low", "sentiment": "neutral"} and not third.weights
    assert report.override["fields"]["urgency"] == {"fleet_answers": 2, "changed_by_people": 1, "rate": 0.5}
    assert report.override["fields"]["root_cause"]["rate"] == 0.0


def test_a_triggers_change_inside_a_persons_update_is_nobodys():
    """Zendesk puts a trigger's changes in the audit of the update that fired it, each event with a
    via of its own (channel "rule", source.rel "trigger"): the author is a person, the change is not."""
    labeller = _Labeller(TAXONOMY, FLEET)
    fired = {**priority("normal", "urgent"), "via": {"channel": "rule", "source": {"rel": "trigger"}}}
    corrected = tags(
        ["vip", "ai_processed", "ai_bug", "ai_low", "ai_neutral"],
        ["vip", "ai_processed", "ai_bug", "ai_low", "ai_negative"],
    )
    automation = {
        **audit(AGENT, priority("urgent", "low")),
        "via": {"channel": "rule", "source": {"rel": "automation"}},
    }
    fleet, people = labeller.from_audits([FLEET_WROTE, audit(AGENT, corrected, fired), automation])
    assert fleet["urgency"] == "low"
    assert people == {"sentiment": "negative"}
