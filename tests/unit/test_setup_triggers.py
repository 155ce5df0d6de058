"""What `python -m app zendesk setup` makes, as pure data: the triggers, how they are compared, the
webhook URL it takes, and the env file it writes."""

from __future__ import annotations

import stat

import pytest

from app.domain.taxonomy import load_taxonomy
from app.domain.triage import BY_HAND_TAG, PENDING_TAG
from app.ops.zendesk_setup import (
    ANNOUNCE_BODY,
    BY_HAND_TITLE,
    DONE_TITLE,
    SetupError,
    announce_trigger,
    check_webhook_url,
    priority_title,
    priority_triggers,
    trigger_differences,
    write_env_secret,
)


def conditions(trigger: dict) -> set[tuple]:
    return {(c["field"], c["operator"], c["value"]) for c in trigger["conditions"]["all"]}


def test_the_default_taxonomy_gets_one_trigger_per_priority_between_by_hand_and_done():
    triggers = priority_triggers(load_taxonomy())
    assert [t["title"] for t in triggers] == [
        BY_HAND_TITLE,
        priority_title("high"),
        priority_title("normal"),
        priority_title("low"),
        DONE_TITLE,
    ]
    high = triggers[1]
    assert conditions(high) == {
        ("current_tags", "includes", PENDING_TAG),
        ("current_tags", "includes", "ai_high"),
        ("current_tags", "not_includes", BY_HAND_TAG),
        ("priority", "is_not", "high"),
        ("priority", "is_not", "urgent"),
    }
    assert high["actions"] == [{"field": "priority", "value": "high"}]
    assert triggers[-1]["actions"] == [{"field": "remove_tags", "value": PENDING_TAG}]


def test_no_priority_counts_as_lower_than_low():
    """The low trigger excludes every priority but none, so it fires for a ticket without one and
    for nothing else; it never needs to compare a blank priority with less_than."""
    low = next(t for t in priority_triggers(load_taxonomy()) if t["title"] == priority_title("low"))
    assert {value for field, operator, value in conditions(low) if field == "priority"} == {
        "low",
        "normal",
        "high",
        "urgent",
    }
    assert all(operator == "is_not" for field, operator, _ in conditions(low) if field == "priority")


def test_a_priority_changed_by_hand_is_remembered_only_for_updates_not_made_through_the_api():
    by_hand = priority_triggers(load_taxonomy())[0]
    assert conditions(by_hand) == {
        ("update_type", "is", "Change"),
        ("priority", "changed", None),
        ("current_via_id", "is_not", "5"),
    }
    assert by_hand["actions"] == [{"field": "current_tags", "value": BY_HAND_TAG}]


def test_the_announce_trigger_sends_the_documented_body_on_creation():
    trigger = announce_trigger("01HWEBHOOK")
    assert conditions(trigger) == {("update_type", "is", "Create")}
    assert trigger["actions"] == [{"field": "notification_webhook", "value": ["01HWEBHOOK", ANNOUNCE_BODY]}]
    assert ANNOUNCE_BODY == '{"ticket_id": "{{ticket.id}}"}'


def test_a_taxonomy_whose_priority_tag_another_field_uses_is_refused(tmp_path):
    taxonomy = load_taxonomy()
    clash = taxonomy.model_copy(deep=True)
    clash.fields["sentiment"].values["negative"].tag = "ai_high"
    with pytest.raises(SetupError, match="ai_high"):
        priority_triggers(clash)


def test_differences_ignore_what_zendesk_may_reorder_but_not_what_changes_behaviour():
    want = priority_triggers(load_taxonomy())[1]
    have = {
        **want,
        "active": True,
        "category_id": "7",
        "conditions": {"all": list(reversed(want["conditions"]["all"])), "any": []},
    }
    assert trigger_differences(have, want, "7") == []
    weaker = {**have, "conditions": {"all": have["conditions"]["all"][1:], "any": []}}
    assert trigger_differences(weaker, want, "7") == ["its conditions differ"]
    assert trigger_differences({**have, "active": False}, want, "7") == ["inactive"]
    assert "not in the 'Triage Fleet' trigger category" in trigger_differences(have, want, "8")


@pytest.mark.parametrize(
    "url,ok",
    [
        ("https://triage.example.com/zendesk/webhook", True),
        ("http://127.0.0.1:8090/zendesk/webhook", True),
        ("https://triage.example.com/", False),
        ("triage.example.com/zendesk/webhook", False),
    ],
)
def test_the_webhook_url_must_reach_the_receivers_path(url, ok):
    assert (check_webhook_url(url) is None) is ok


def test_the_secret_is_written_for_its_owner_only_keeping_the_other_lines(tmp_path):
    env = tmp_path / ".env"
    env.write_text("REDIS_URL=redis://x\nZENDESK_WEBHOOK_SECRET=old\n")
    env.chmod(0o644)
    write_env_secret(env, "new-secret")
    assert env.read_text() == "REDIS_URL=redis://x\nZENDESK_WEBHOOK_SECRET=new-secret\n"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    fresh = tmp_path / "new" / "fleet.env"
    write_env_secret(fresh, "s")
    assert fresh.read_text() == "ZENDESK_WEBHOOK_SECRET=s\n" and stat.S_IMODE(fresh.stat().st_mode) == 0o600
