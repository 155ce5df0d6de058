"""Agents who finish tickets in the Zendesk simulator (POST /_sim/agents/finish), and the write
counts of /_sim/stats, driven over HTTP as the fleet and its tests would."""

from __future__ import annotations

import time

import pytest
import requests

from sim.common import SimConfigError
from sim.zendesk import SimConfig, parse_args, running_simulator
from sim.zendesk.history import FIELD_VALUES, PRIORITY_OF_URGENCY, tag_of
from sim.zendesk.state import AGENT_IDS
from sim.zendesk.wire import API_USER_ID

AUTH = ("triage-bot@example.com/token", "sim-api-token")
TAXONOMY_TAGS = {tag_of(value) for values in FIELD_VALUES.values() for value in values}


def api(sim, method: str, path: str, auth=AUTH, **json) -> requests.Response:
    return requests.request(method, f"{sim.base_url}/api/v2/{path}", auth=auth, json=json or None)


def finish(sim, **body) -> dict:
    response = requests.post(f"{sim.base_url}/_sim/agents/finish", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def sim_ticket(sim, ticket_id: int) -> dict:
    response = requests.get(f"{sim.base_url}/_sim/tickets/{ticket_id}")
    assert response.status_code == 200, response.text
    return response.json()


def stats(sim) -> dict:
    return requests.get(f"{sim.base_url}/_sim/stats").json()


def set_config(sim, **settings) -> None:
    response = requests.post(f"{sim.base_url}/_sim/config", json=settings)
    assert response.status_code == 200, response.text


def audits(sim, ticket_id: int) -> list[dict]:
    response = api(sim, "GET", f"tickets/{ticket_id}/audits.json")
    assert response.status_code == 200, response.text
    return response.json()["audits"]


def open_ids(sim) -> list[int]:
    return sorted(i for i, record in sim.state.tickets.items() if record.status not in ("solved", "closed"))


@pytest.fixture
def sim():
    with running_simulator(tickets=40, seed=5, index_lag=0) as simulator:
        yield simulator


# --- What the agents decide -------------------------------------------------------------------


def test_without_errors_agents_decide_the_truth_and_solve_with_its_priority_and_tags(sim):
    # The fleet wrote its tags on one ticket first, wrong ones among them: the agent replaces them.
    fleet_tags = ["ai_processed", "ai_bug", "ai_low", "ai_positive"]
    assert api(sim, "PUT", "tickets/1.json", ticket={"additional_tags": fleet_tags}).status_code == 200
    ids = open_ids(sim)
    answer = finish(sim, error_rate=0)
    assert answer["finished"] == len(ids) and answer["skipped"] == [] and answer["error_rate"] == 0
    assert sorted(map(int, answer["decisions"])) == ids
    for key, decision in answer["decisions"].items():
        truth = answer["truth"][key]
        assert decision == {**truth, "priority": PRIORITY_OF_URGENCY[truth["urgency"]]}
        shown = sim_ticket(sim, int(key))
        ticket = shown["ticket"]
        assert (shown["truth"], shown["agent_decision"]) == (truth, decision)
        assert shown["finished_by"] == answer["agents"][key] == ticket["assignee_id"]
        assert ticket["status"] == "solved" and ticket["priority"] == decision["priority"]
        assert TAXONOMY_TAGS & set(ticket["tags"]) == {tag_of(truth[name]) for name in FIELD_VALUES}
        assert shown["comments"][-1]["public"] and shown["comments"][-1]["author_id"] == answer["agents"][key]
    assert "ai_processed" in sim_ticket(sim, 1)["ticket"]["tags"]  # only the taxonomy's value tags go
    figures = stats(sim)
    assert figures["agent_finished_total"] == len(ids)
    # What the agents set is what people decided: nothing lost, nothing overridden.
    assert (figures["tickets_lost_tags"], figures["tickets_priority_lowered"]) == (0, 0)
    assert figures["hand_priorities_overridden"] == 0


def test_at_error_rate_one_every_field_is_wrong_and_the_priority_follows_the_decided_urgency(sim):
    answer = finish(sim, error_rate=1)
    assert answer["finished"] == len(answer["decisions"]) > 0
    for key, decision in answer["decisions"].items():
        truth = answer["truth"][key]
        assert all(decision[name] != truth[name] and decision[name] in FIELD_VALUES[name] for name in FIELD_VALUES)
        assert decision["priority"] == PRIORITY_OF_URGENCY[decision["urgency"]]
        assert sim_ticket(sim, int(key))["ticket"]["priority"] == decision["priority"]


def test_a_rate_of_0_3_over_300_tickets_lands_near_30_percent_wrong_spread_over_the_other_values():
    with running_simulator(tickets=300, seed=11) as sim:
        answer = finish(sim, error_rate=0.3, seed=4)
    assert answer["finished"] == 300
    pairs = [(answer["truth"][key], decision) for key, decision in answer["decisions"].items()]
    wrong = {name: sum(truth[name] != decision[name] for truth, decision in pairs) for name in FIELD_VALUES}
    assert abs(sum(wrong.values()) / 900 - 0.3) < 0.05, wrong  # 3 standard deviations: 0.046
    assert all(abs(count / 300 - 0.3) < 0.08 for count in wrong.values()), wrong
    # A wrong root cause is any of the three others: each of them turns up.
    for value in FIELD_VALUES["root_cause"]:
        assert any(d["root_cause"] == value != t["root_cause"] for t, d in pairs), value


def test_the_runtime_setting_is_the_default_rate_and_a_seed_decides_the_same_again():
    decided = []
    for _ in range(2):
        with running_simulator(tickets=30, seed=3) as sim:
            set_config(sim, agent_error_rate=1)
            answer = finish(sim, seed=9)
            assert answer["error_rate"] == 1
            decided.append((answer["decisions"], answer["agents"]))
    assert decided[0] == decided[1]
    assert all(
        decision[name] != answer["truth"][key][name]
        for key, decision in answer["decisions"].items()
        for name in FIELD_VALUES
    )


def test_agent_error_rate_is_an_option_and_a_checked_runtime_setting(sim):
    assert SimConfig().agent_error_rate == 0
    assert parse_args(["--agent-error-rate", "0.25"]).agent_error_rate == 0.25
    with pytest.raises(SimConfigError, match="agent_error_rate"):
        SimConfig(agent_error_rate=1.5)
    for bad in (-0.1, 1.5, "0.3", True):
        response = requests.post(f"{sim.base_url}/_sim/config", json={"agent_error_rate": bad})
        assert response.status_code == 400 and "agent_error_rate" in response.json()["error"], bad
    set_config(sim, agent_error_rate=0.4)
    assert requests.get(f"{sim.base_url}/_sim/config").json()["agent_error_rate"] == 0.4


# --- Which tickets ----------------------------------------------------------------------------


def test_chosen_tickets_only_and_solved_or_missing_ones_skipped(sim):
    first = finish(sim, ticket_ids=[3, 1, 3])
    assert sorted(first["decisions"]) == ["1", "3"] and first["skipped"] == []
    again = finish(sim, ticket_ids=[1, 2, 9999])
    assert list(again["decisions"]) == ["2"]
    assert again["skipped"] == [1, 9999]
    assert again["skipped_why"] == {"1": "already solved", "9999": "not found"}
    assert sim_ticket(sim, 4)["agent_decision"] is None and sim_ticket(sim, 4)["ticket"]["status"] != "solved"
    # The default is every ticket not solved or closed: afterwards, none is left.
    rest = finish(sim)
    assert rest["finished"] == 40 - 3 and open_ids(sim) == []
    assert finish(sim) == {
        "finished": 0,
        "skipped": [],
        "skipped_why": {},
        "error_rate": 0,
        "decisions": {},
        "truth": {},
        "agents": {},
    }


def test_hand_written_tickets_are_finished_only_with_a_truth_given(sim):
    created = requests.post(
        f"{sim.base_url}/_sim/tickets",
        json={"tickets": [{"subject": "Invoice", "description": "Charged twice", "tags": ["vip"]}] * 2},
    ).json()["ids"]
    assert sim_ticket(sim, created[0])["truth"] is None
    given = {"root_cause": "refund", "urgency": "high", "sentiment": "negative"}
    answer = finish(sim, ticket_ids=created, error_rate=0, truth={str(created[0]): given})
    assert answer["decisions"] == {str(created[0]): {**given, "priority": "high"}}
    assert answer["skipped"] == [created[1]] and "no truth" in answer["skipped_why"][str(created[1])]
    shown = sim_ticket(sim, created[0])
    assert shown["truth"] == given and shown["ticket"]["status"] == "solved"
    assert set(shown["ticket"]["tags"]) == {"vip", "ai_refund", "ai_high", "ai_negative"}


def test_bad_bodies_answer_400_saying_what_is_wrong_and_change_nothing(sim):
    bad_bodies = {
        "error_rate must be a number between 0 and 1": [{"error_rate": 2}, {"error_rate": -1}, {"error_rate": "0.3"}],
        "ticket_ids must be a list of ticket ids": [{"ticket_ids": 1}, {"ticket_ids": "1"}, {"ticket_ids": [1, "2"]}],
        "seed must be a whole number": [{"seed": 1.5}, {"seed": True}],
        "unknown field tickets": [{"tickets": [1]}],
        "truth must be an object": [{"truth": [1]}],
        "truth of ticket 1 must name exactly": [{"truth": {"1": {"root_cause": "bug"}}}],
        "urgency must be one of high, medium, low": [
            {"truth": {"1": {"root_cause": "bug", "urgency": "asap", "sentiment": "neutral"}}}
        ],
        "ticket 1 has a planted truth already": [
            {"truth": {"1": {"root_cause": "bug", "urgency": "low", "sentiment": "neutral"}}}
        ],
    }
    for message, bodies in bad_bodies.items():
        for body in bodies:
            response = requests.post(f"{sim.base_url}/_sim/agents/finish", json={"error_rate": 0, **body})
            assert response.status_code == 400, (body, response.text)
            assert message in response.json()["error"], (body, response.json())
    not_json = requests.post(f"{sim.base_url}/_sim/agents/finish", data="ticket_ids=1")
    assert not_json.status_code == 400 and "JSON" in not_json.text
    assert stats(sim)["agent_finished_total"] == 0 and len(open_ids(sim)) == 40


# --- The update, as Zendesk records it -----------------------------------------------------------


def test_the_update_is_the_agents_on_the_web_in_the_audits_and_changes_only_what_changes(sim):
    me = api(sim, "GET", "users/me.json").json()["user"]["id"]
    assert me == API_USER_ID
    # Set the priority the truth calls for beforehand: the agent's update then leaves it alone.
    truth = sim_ticket(sim, 2)["truth"]
    api(sim, "PUT", "tickets/2.json", ticket={"priority": PRIORITY_OF_URGENCY[truth["urgency"]]})
    before = {ticket_id: sim_ticket(sim, ticket_id)["ticket"]["updated_at"] for ticket_id in (1, 2)}
    answer = finish(sim, ticket_ids=[1, 2], error_rate=0)
    for ticket_id in (1, 2):
        audit = audits(sim, ticket_id)[-1]
        agent = answer["agents"][str(ticket_id)]
        assert audit["author_id"] == agent and agent in AGENT_IDS and agent > 0 and agent != me
        assert audit["via"]["channel"] == "web"
        events = {event.get("field_name") or event["type"]: event for event in audit["events"]}
        assert events["Comment"]["public"] and events["Comment"]["author_id"] == agent
        assert events["status"]["value"] == "solved"
        assert sim_ticket(sim, ticket_id)["ticket"]["updated_at"] > before[ticket_id]
    assert "priority" not in {event.get("field_name") for event in audits(sim, 2)[-1]["events"]}


def test_triggers_run_on_the_agents_update(sim):
    trigger = {
        "title": "Survey on solve",
        "conditions": {
            "all": [
                {"field": "status", "operator": "changed"},
                {"field": "status", "operator": "is", "value": "solved"},
            ],
            "any": [],
        },
        "actions": [{"field": "current_tags", "value": "csat_survey"}],
        "category_id": "10001",
    }
    assert api(sim, "POST", "triggers.json", trigger=trigger).status_code == 201
    finish(sim, ticket_ids=[5])
    assert "csat_survey" in sim_ticket(sim, 5)["ticket"]["tags"]
    rule_events = [event for event in audits(sim, 5)[-1]["events"] if "via" in event]
    assert [event["via"]["source"]["from"]["title"] for event in rule_events] == ["Survey on solve"]


def test_the_incremental_export_returns_the_finished_tickets(sim):
    set_config(sim, incremental_delay=0)
    start = int(time.time())
    answer = finish(sim, ticket_ids=[6, 7, 8])
    time.sleep(1.1)  # past the second the updates were stamped with
    response = api(sim, "GET", f"incremental/tickets/cursor.json?start_time={start}")
    assert response.status_code == 200, response.text
    exported = {ticket["id"]: ticket for ticket in response.json()["tickets"]}
    assert set(exported) == {6, 7, 8}
    for key, decision in answer["decisions"].items():
        ticket = exported[int(key)]
        assert ticket["status"] == "solved" and ticket["priority"] == decision["priority"]
        assert ticket["generated_timestamp"] >= start


# --- Write counts -------------------------------------------------------------------------------


def test_write_requests_count_writes_answered_or_refused_and_nothing_else(sim):
    before = stats(sim)
    assert before["write_requests"] == 0 and before["writes_by_endpoint"] == {}
    assert api(sim, "GET", "tickets/1.json").status_code == 200
    assert api(sim, "GET", "search.json?query=type:ticket").status_code == 200
    assert stats(sim)["write_requests"] == 0
    assert api(sim, "PUT", "tickets/1.json", ticket={"additional_tags": ["x"]}).status_code == 200
    assert api(sim, "PUT", "tickets/2", auth=("nobody@example.com/token", "wrong"), ticket={}).status_code == 401
    assert api(sim, "PUT", "tickets/update_many.json", tickets=[{"id": 3, "tags": ["y"]}]).status_code == 200
    assert api(sim, "POST", "tickets/4.json").status_code == 405  # no such route: counted by its path
    finish(sim, ticket_ids=[5])  # a backdoor: neither a request nor a write of the API
    requests.post(f"{sim.base_url}/oauth/tokens", json={"grant_type": "client_credentials"})
    after = stats(sim)
    assert after["write_requests"] == 4
    assert after["writes_by_endpoint"] == {
        "PUT /api/v2/tickets/{id}": 2,
        "PUT /api/v2/tickets/update_many": 1,
        "POST /api/v2/tickets/{id}": 1,
    }
    assert after["requests_total"] == before["requests_total"] + 6
