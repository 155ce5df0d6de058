"""Ticket triggers in the Zendesk simulator: categories and triggers through the API, their
validation, and how they run on every creation and update."""

from __future__ import annotations

import time

import pytest
import requests

from sim.common import ApiError
from sim.zendesk import SimConfig, SimState, running_simulator

AUTH = ("triage-bot@example.com/token", "sim-api-token")
GENERAL = "10001"


def when(*conditions: tuple, any_of: tuple = ()) -> dict:
    """Conditions from (field, operator, value) tuples; a value of ... leaves it out."""

    def condition(field: str, operator: str, value=...) -> dict:
        return {"field": field, "operator": operator, **({} if value is ... else {"value": value})}

    return {"all": [condition(*c) for c in conditions], "any": [condition(*c) for c in any_of]}


def then(**actions) -> list[dict]:
    return [{"field": field, "value": value} for field, value in actions.items()]


def trigger_body(title: str, conditions: dict, actions: list[dict], **more) -> dict:
    return {"trigger": {"title": title, "conditions": conditions, "actions": actions, "category_id": GENERAL, **more}}


def api(sim, method: str, path: str, **json) -> requests.Response:
    return requests.request(method, f"{sim.base_url}/api/v2/{path}", auth=AUTH, json=json or None)


def create_trigger(sim, title: str, conditions: dict, actions: list[dict], **more) -> dict:
    response = api(sim, "POST", "triggers.json", **trigger_body(title, conditions, actions, **more))
    assert response.status_code == 201, response.text
    return response.json()["trigger"]


def new_ticket(sim, **spec) -> int:
    spec = {"subject": "Printer on fire", "description": "It burns", **spec}
    return requests.post(f"{sim.base_url}/_sim/tickets", json={"tickets": [spec]}).json()["ids"][0]


def ticket(sim, ticket_id: int) -> dict:
    return requests.get(f"{sim.base_url}/_sim/tickets/{ticket_id}").json()


def stats(sim) -> dict:
    return requests.get(f"{sim.base_url}/_sim/stats").json()


def refused(response: requests.Response, field: str) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "RecordInvalid" and body["description"] == "Record validation errors"
    return body["details"][field][0]["description"]


def wait_until(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@pytest.fixture
def sim():
    with running_simulator(tickets=3, seed=2, index_lag=0, job_delay_ms=0, job_item_ms=0) as simulator:
        yield simulator


# --- Through the API --------------------------------------------------------------------------


def test_trigger_categories(sim):
    listed = api(sim, "GET", "trigger_categories").json()
    assert [(c["id"], c["name"], c["position"]) for c in listed["trigger_categories"]] == [(GENERAL, "General", 1)]
    made = api(sim, "POST", "trigger_categories", trigger_category={"name": "Fleet"})
    assert made.status_code == 200
    fleet = made.json()["trigger_category"]
    assert fleet["position"] == 2 and isinstance(fleet["id"], str) and fleet["created_at"]
    first = api(sim, "POST", "trigger_categories.json", trigger_category={"name": "First", "position": 0})
    order = api(sim, "GET", "trigger_categories?page[size]=2").json()
    assert [c["name"] for c in order["trigger_categories"]] == ["First", "General"] and order["meta"]["has_more"]
    rest = requests.get(order["links"]["next"], auth=AUTH).json()
    assert [c["name"] for c in rest["trigger_categories"]] == ["Fleet"]
    assert api(sim, "GET", f"trigger_categories/{first.json()['trigger_category']['id']}").status_code == 200
    missing = api(sim, "GET", "trigger_categories/999")
    assert missing.status_code == 404 and missing.json()["errors"][0]["code"] == "TriggerCategoryNotFound"
    blank = api(sim, "POST", "trigger_categories", trigger_category={"name": " "})
    assert blank.status_code == 400
    assert blank.json() == {"errors": [{"code": "InvalidTriggerCategory", "title": "Name cannot be blank"}]}


def test_create_show_list_update_and_delete_triggers(sim):
    made = create_trigger(
        sim, "Raise VIP", when(("current_tags", "includes", "vip")), then(priority="high"), description="VIPs first"
    )
    assert set(made) >= {
        "id",
        "url",
        "title",
        "raw_title",
        "description",
        "active",
        "position",
        "category_id",
        "conditions",
        "actions",
        "default",
        "created_at",
        "updated_at",
    }
    assert isinstance(made["id"], int) and made["url"] == f"{sim.base_url}/api/v2/triggers/{made['id']}.json"
    assert (made["raw_title"], made["active"], made["default"], made["category_id"]) == (
        "Raise VIP",
        True,
        False,
        GENERAL,
    )
    assert made["conditions"] == {"all": [{"field": "current_tags", "operator": "includes", "value": "vip"}], "any": []}
    assert api(sim, "GET", f"triggers/{made['id']}").json()["trigger"] == made
    second = create_trigger(
        sim, "Second", when(("update_type", "is", "Create")), then(current_tags="seen"), active=False
    )
    assert second["position"] > made["position"]  # new triggers come last

    listed = api(sim, "GET", "triggers.json").json()
    assert [t["id"] for t in listed["triggers"]] == [made["id"], second["id"]]
    assert listed["count"] == 2 and listed["next_page"] is None and listed["previous_page"] is None
    paged = api(sim, "GET", "triggers.json?per_page=1").json()
    assert len(paged["triggers"]) == 1 and paged["next_page"].endswith("page=2")
    assert requests.get(paged["next_page"], auth=AUTH).json()["triggers"][0]["id"] == second["id"]
    cursor = api(sim, "GET", "triggers?page[size]=1").json()
    assert cursor["meta"]["has_more"] and [t["id"] for t in cursor["triggers"]] == [made["id"]]
    assert requests.get(cursor["links"]["next"], auth=AUTH).json()["triggers"][0]["id"] == second["id"]
    assert [t["id"] for t in api(sim, "GET", "triggers?active=false").json()["triggers"]] == [second["id"]]
    assert api(sim, "GET", "triggers?category_id=99").json()["triggers"] == []
    assert api(sim, "GET", "triggers?active=maybe").status_code == 400

    renamed = api(sim, "PUT", f"triggers/{made['id']}.json", trigger={"title": "Raise VIPs"})
    assert renamed.status_code == 200
    assert renamed.json()["trigger"]["title"] == "Raise VIPs"
    assert renamed.json()["trigger"]["actions"] == made["actions"]  # partial for top-level fields
    # Conditions or actions replace both arrays: conditions alone leave no actions, a 422.
    assert refused(
        api(sim, "PUT", f"triggers/{made['id']}", trigger={"conditions": when(("update_type", "is", "Change"))}),
        "actions",
    )
    assert refused(api(sim, "PUT", f"triggers/{made['id']}", trigger={"actions": then(priority="low")}), "conditions")
    both = api(
        sim,
        "PUT",
        f"triggers/{made['id']}",
        trigger={"conditions": when(("update_type", "is", "Change")), "actions": then(priority="low")},
    )
    assert both.json()["trigger"]["actions"] == [{"field": "priority", "value": "low"}]

    fleet = api(sim, "POST", "trigger_categories", trigger_category={"name": "Fleet"}).json()["trigger_category"]
    many = api(
        sim,
        "PUT",
        "triggers/update_many.json",
        triggers=[
            {"id": made["id"], "position": 9, "title": "ignored"},
            {"id": second["id"], "active": True, "category_id": fleet["id"]},
        ],
    )
    assert many.status_code == 200
    after = {t["id"]: t for t in many.json()["triggers"]}
    assert after[made["id"]]["position"] == 9 and after[made["id"]]["title"] == "Raise VIPs"
    assert after[second["id"]]["active"] is True and after[second["id"]]["category_id"] == fleet["id"]
    assert api(sim, "PUT", "triggers/update_many", triggers=[{"id": 1, "active": True}]).status_code == 404
    assert refused(
        api(sim, "PUT", "triggers/update_many", triggers=[{"id": made["id"], "category_id": "999"}]), "category_id"
    )

    assert api(sim, "DELETE", f"triggers/{made['id']}.json").status_code == 204
    gone = api(sim, "GET", f"triggers/{made['id']}")
    assert gone.status_code == 404 and gone.json() == {"error": "RecordNotFound", "description": "Not found"}


def test_invalid_triggers_are_422(sim):
    def create(title="T", conditions=None, actions=None, **more) -> requests.Response:
        body = trigger_body(
            title,
            conditions or when(("update_type", "is", "Create")),
            then(priority="high") if actions is None else actions,
            **more,
        )
        return api(sim, "POST", "triggers", **body)

    assert refused(create(title=" "), "title") == "Title: cannot be blank"
    assert refused(create(actions=[]), "actions")
    assert refused(
        create(conditions={"all": [], "any": [{"field": "update_type", "operator": "is", "value": "Create"}]}),
        "conditions",
    )
    assert refused(create(conditions={"some": []}), "conditions")
    assert "'role'" in refused(create(conditions=when(("role", "is", "agent"))), "conditions")
    assert refused(create(conditions=when(("priority", "not_value", "high"))), "conditions")
    assert refused(create(conditions=when(("priority", "less_than", "critical"))), "conditions")
    assert refused(create(conditions=when(("priority", "changed", "high"))), "conditions")
    assert refused(create(conditions=when(("current_via_id", "is", 5))), "conditions")
    assert refused(create(conditions=when(("update_type", "is", "create"))), "conditions")
    assert "'notification_user'" in refused(create(actions=then(notification_user=["x", "y", "z"])), "actions")
    assert refused(create(actions=then(status="closed")), "actions")
    assert refused(create(actions=then(priority="critical")), "actions")
    assert refused(create(actions=then(notification_webhook=["01AAAAAAAAAAAAAAAAAAAAAAAA", "{}"])), "actions")
    events = requests.post(
        f"{sim.base_url}/api/v2/webhooks",
        auth=AUTH,
        json={
            "webhook": {
                "name": "Events",
                "endpoint": "https://x.example.com",
                "http_method": "POST",
                "request_format": "json",
                "status": "active",
                "subscriptions": ["zen:event-type:ticket.created"],
            }
        },
    ).json()["webhook"]
    assert "conditional_ticket_events" in refused(
        create(actions=then(notification_webhook=[events["id"], "{}"])), "actions"
    )
    assert refused(create(category_id=None), "category_id") == "Category: is required"
    assert refused(create(category_id="424242"), "category_id")
    assert refused(create(category_id=10001), "category_id")  # the docs type it as a string
    assert api(sim, "POST", "triggers", title="no envelope").status_code == 400
    assert api(sim, "GET", "triggers").json()["count"] == 0


def test_triggers_run_on_creation_and_api_updates_with_changes_in_the_same_audit(sim):
    vip = create_trigger(
        sim,
        "VIP is urgent",
        when(("update_type", "is", "Create"), ("current_tags", "includes", "vip gold")),
        then(priority="urgent", current_tags="escalated"),
    )
    created = new_ticket(sim, tags=["gold"], priority="low")
    record = ticket(sim, created)
    assert record["ticket"]["priority"] == "urgent" and "escalated" in record["ticket"]["tags"]
    events = [event for event in record_audits(sim, created)[-1]["events"] if event.get("via")]
    assert {event["field_name"] for event in events} == {"priority", "tags"}
    assert all(
        event["via"]["channel"] == "rule" and event["via"]["source"]["from"]["id"] == vip["id"] for event in events
    )
    priority_event = next(event for event in events if event["field_name"] == "priority")
    assert (priority_event["previous_value"], priority_event["value"]) == ("low", "urgent")
    assert [(c["field"], c["value"]) for c in record["trigger_changes"]][0] == ("priority", "urgent")
    assert new_ticket(sim, tags=["silver"]) and ticket(sim, created + 1)["ticket"]["priority"] is None

    # API writes come in via 5 (web service): the fleet's trigger raises on its tag.
    create_trigger(
        sim,
        "Fleet raises",
        when(("current_via_id", "is", "5"), ("current_tags", "includes", "ai_high"), ("priority", "less_than", "high")),
        then(priority="high"),
    )
    target = next(r.id for r in sim.state.tickets.values() if r.priority in ("low", "normal") and r.status != "closed")
    answer = api(sim, "PUT", f"tickets/{target}.json", ticket={"additional_tags": ["ai_high"]})
    assert answer.status_code == 200
    assert answer.json()["ticket"]["priority"] == "high"
    fields = [(event["field_name"], "via" in event) for event in answer.json()["audit"]["events"]]
    assert fields == [("tags", False), ("priority", True)]  # the update's change, then the trigger's
    assert api(sim, "GET", f"tickets/{target}/audits.json").json()["audits"][-1] == answer.json()["audit"]
    figures = stats(sim)
    assert figures["triggers_fired"] == {"VIP is urgent": 1, "Fleet raises": 1}
    assert figures["trigger_priority_changes"] == 2 and figures["tickets_priority_raised_by_trigger"] == 2
    # The tags endpoint and update_many items are API updates too.
    other = created + 1  # no priority: not less than high, so the trigger leaves it
    assert api(sim, "PUT", f"tickets/{other}/tags.json", tags=["ai_high"]).status_code == 200
    assert ticket(sim, other)["ticket"]["priority"] is None
    lowered = api(sim, "PUT", f"tickets/{other}.json", ticket={"priority": "low"})
    assert lowered.json()["ticket"]["priority"] == "high"  # the write set low, the trigger raised it
    job = api(
        sim,
        "PUT",
        "tickets/update_many.json",
        tickets=[{"id": created, "priority": "low", "additional_tags": ["ai_high"]}],
    ).json()["job_status"]
    wait_until(lambda: requests.get(job["url"], auth=AUTH).json()["job_status"]["status"] == "completed")
    assert ticket(sim, created)["ticket"]["priority"] == "high"  # the item set low, the trigger raised it
    assert stats(sim)["triggers_fired"]["Fleet raises"] == 3


def record_audits(sim, ticket_id: int) -> list[dict]:
    return api(sim, "GET", f"tickets/{ticket_id}/audits.json").json()["audits"]


def test_a_trigger_on_agent_edits_and_the_hand_priority_bookkeeping(sim):
    create_trigger(
        sim,
        "Agents review",
        when(("current_via_id", "is", "0"), ("update_type", "is", "Change")),
        then(current_tags="agent_touched"),
    )
    create_trigger(
        sim,
        "Fleet raises",
        when(("current_via_id", "is", "5"), ("current_tags", "includes", "ai_urgent")),
        then(priority="urgent"),
    )
    hand, untouched = 1, 2
    assert requests.post(f"{sim.base_url}/_sim/tickets/{hand}/agent_edit", json={"priority": "low"}).ok
    assert "agent_touched" in ticket(sim, hand)["ticket"]["tags"] and ticket(sim, hand)["hand_priority"]
    assert stats(sim)["hand_priorities_overridden"] == 0
    api(sim, "PUT", f"tickets/{untouched}.json", ticket={"priority": "urgent"})
    assert stats(sim)["hand_priorities_overridden"] == 0  # nobody set it by hand
    api(sim, "PUT", f"tickets/{hand}.json", ticket={"additional_tags": ["ai_urgent"]})  # a trigger overrides
    assert ticket(sim, hand)["ticket"]["priority"] == "urgent" and ticket(sim, hand)["hand_priority_overridden"]
    assert stats(sim)["hand_priorities_overridden"] == 1
    assert requests.post(f"{sim.base_url}/_sim/tickets/3/agent_edit", json={"priority": "high"}).ok
    api(sim, "PUT", "tickets/3.json", ticket={"priority": "high"})  # the same value: no override
    assert stats(sim)["hand_priorities_overridden"] == 1
    api(sim, "PUT", "tickets/3.json", ticket={"priority": "normal"})  # an API write overrides
    assert stats(sim)["hand_priorities_overridden"] == 2
    assert stats(sim)["triggers_fired"]["Agents review"] == 2


# --- The rules, on the state itself -------------------------------------------------------------


@pytest.fixture
def state() -> SimState:
    return SimState(SimConfig(tickets=2, seed=5))


def add(state: SimState, title: str, conditions: dict, actions: list[dict], **more) -> None:
    fields = {"title": title, "conditions": conditions, "actions": actions, "category_id": GENERAL, **more}
    state.trigger_book.create(fields, lambda webhook_id: None)


def write(state: SimState, **fields) -> None:
    state.apply_api_update(1, fields, "single")


def test_a_trigger_that_changes_the_ticket_restarts_the_check_and_each_fires_once(state):
    add(state, "Third step", when(("current_tags", "includes", "step2")), then(current_tags="step3"))
    add(state, "Second step", when(("current_tags", "includes", "step1")), then(current_tags="step2"))
    add(state, "Forever", when(("current_tags", "not_includes", "never")), then(current_tags="loop"))
    write(state, additional_tags=["step1"])
    assert {"step1", "step2", "step3", "loop"} <= set(state.tickets[1].tags)
    assert state.trigger_book.fired == {"Second step": 1, "Third step": 1, "Forever": 1}
    write(state, additional_tags=["again"])
    assert state.trigger_book.fired["Forever"] == 2 and state.trigger_book.fired["Second step"] == 2


def test_the_check_restarts_before_later_triggers_see_the_change(state):
    # B changes the ticket; the restart lets A (earlier) stop C (later) before C is checked.
    add(state, "A", when(("priority", "is", "high")), then(current_tags="stop"))
    add(state, "B", when(("current_tags", "includes", "x")), then(priority="high"))
    add(state, "C", when(("current_tags", "not_includes", "stop")), then(current_tags="c_fired"))
    state.tickets[1].priority = "low"
    write(state, additional_tags=["x"])
    assert "stop" in state.tickets[1].tags and "c_fired" not in state.tickets[1].tags
    assert state.trigger_book.fired == {"B": 1, "A": 1}


def test_order_is_category_position_then_trigger_position(state):
    add(state, "Low", when(("current_tags", "includes", "x")), then(priority="low"), position=1)
    add(state, "High", when(("current_tags", "includes", "x")), then(priority="high"), position=2)
    write(state, additional_tags=["x"])
    assert state.tickets[1].priority == "high"  # Low fired first, then the check restarted: High last
    early = state.trigger_book.create_category("Early", 0)
    add(state, "Urgent first", when(("current_tags", "includes", "y")), then(priority="urgent"), category_id=early.id)
    add(state, "Normal later", when(("current_tags", "includes", "y")), then(priority="normal"), position=0)
    state.apply_api_update(2, {"additional_tags": ["y"]}, "single")
    assert state.tickets[2].priority == "normal"


@pytest.mark.parametrize(
    ("condition", "before", "after", "fires"),
    [
        (("priority", "less_than", "high"), None, None, False),  # no priority is not less than anything
        (("priority", "less_than", "high"), None, "normal", True),
        (("priority", "greater_than", "normal"), None, "urgent", True),
        (("priority", "is", ""), None, None, True),
        (("priority", "is_not", ""), None, None, False),
        (("priority", "is_not", ""), "low", "low", True),
        (("priority", "is", "low"), None, "low", True),
        (("priority", "changed", ...), "low", "high", True),
        (("priority", "changed", ...), "high", "high", False),
        (("priority", "not_changed", None), "high", "high", True),
        (("priority", "value", "high"), "low", "high", True),
        (("priority", "value", "high"), "high", "high", False),
        (("priority", "value_previous", "low"), "low", "urgent", True),
        (("priority", "value_previous", "low"), "normal", "urgent", False),
    ],
)
def test_priority_conditions(state, condition, before, after, fires):
    state.tickets[1].priority = before
    add(state, "Probe", when(condition), then(current_tags="fired"))
    write(state, **({"comment": {"body": "hi"}} if after == before else {"priority": after}))
    assert ("fired" in state.tickets[1].tags) is fires


@pytest.mark.parametrize(
    ("condition", "fires"),
    [
        (("status", "less_than", "pending"), True),  # new or open
        (("status", "greater_than", "open"), False),
        (("status", "is_not", "solved"), True),
        (("status", "changed", ...), False),
        (("update_type", "is", "Change"), True),
        (("update_type", "is", "Create"), False),
        (("current_via_id", "is", "5"), True),
        (("current_via_id", "is_not", "5"), False),
        (("via_id", "is", "0"), True),  # the customer created it on the web form
        (("current_tags", "includes", "nothing here"), False),
        (("current_tags", "not_includes", "nothing here"), True),
    ],
)
def test_other_conditions_on_an_api_update(state, condition, fires):
    state.tickets[1].status = "open"
    add(state, "Probe", when(condition), then(current_tags="fired"))
    write(state, comment={"body": "a note", "public": False})
    assert ("fired" in state.tickets[1].tags) is fires


def test_any_conditions_and_tag_actions(state):
    state.tickets[1].tags = ["keep", "drop"]
    add(
        state,
        "Either",
        when(
            ("update_type", "is", "Change"),
            any_of=(("current_tags", "includes", "zzz"), ("current_tags", "includes", "keep")),
        ),
        then(remove_tags="drop", current_tags="added"),
    )
    write(state, comment={"body": "x"})
    assert state.tickets[1].tags == ["keep", "added"]
    add(state, "Replace", when(("current_tags", "includes", "added")), then(set_tags="only these"))
    write(state, comment={"body": "y"})
    assert state.tickets[1].tags == ["only", "these"]


def test_triggers_never_run_on_closed_tickets(state):
    add(state, "Always", when(("update_type", "is", "Change")), then(current_tags="touched"))
    state.agent_edit(state.tickets[2], {"status": "closed"})
    assert "touched" not in state.tickets[2].tags and state.trigger_book.fired == {}
    with pytest.raises(ApiError) as closed:  # and the API refuses to update them
        state.apply_api_update(2, {"additional_tags": ["x"]}, "single")
    assert closed.value.status == 422


def test_a_trigger_that_changes_nothing_does_not_restart_the_check(state):
    state.tickets[1].priority = "high"
    add(state, "Already high", when(("update_type", "is", "Change")), then(priority="high"))
    add(state, "Counter", when(("update_type", "is", "Change")), then(current_tags="counted"))
    write(state, comment={"body": "x"})
    assert state.trigger_book.fired == {"Already high": 1, "Counter": 1}
    assert state.trigger_book.priority_changes == 0
    assert not any(
        event.get("via") and event["field_name"] == "priority" for event in state.tickets[1].audits[-1]["events"]
    )
