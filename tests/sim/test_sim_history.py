"""Tests of the Zendesk simulator's solved history and the APIs that read it: the Incremental
Ticket Export, ticket audits and users/me, driven over HTTP as a real client would."""

from __future__ import annotations

import time

import pytest
import requests

from sim.common import SimConfigError
from sim.zendesk import SimConfig, SimState, running_simulator
from sim.zendesk.history import FIELD_VALUES, PRIORITY_OF_URGENCY, truth_of
from sim.zendesk.state import AGENT_IDS, API_USER_ID

EMAIL = "triage-bot@example.com"
TOKEN = "sim-api-token"
DAY = 24 * 3600


def client(email: str = EMAIL) -> requests.Session:
    """A session authenticated the way the fleet talks to real Zendesk."""
    session = requests.Session()
    session.auth = (f"{email}/token", TOKEN)
    return session


def history(sim) -> dict:
    response = requests.get(f"{sim.base_url}/_sim/history")
    assert response.status_code == 200, response.text
    return response.json()


def audits(sim, ticket_id: int) -> list[dict]:
    response = client().get(f"{sim.base_url}/api/v2/tickets/{ticket_id}/audits.json")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_page"] is None and body["count"] == len(body["audits"])
    return body["audits"]


def incremental(sim, **params) -> requests.Response:
    return client().get(f"{sim.base_url}/api/v2/incremental/tickets/cursor.json", params=params)


def replay(ticket_audits: list[dict]) -> dict:
    """The ticket's properties as its audits tell them, checking every Change against the past."""
    properties: dict = {}
    for audit in ticket_audits:
        for event in audit["events"]:
            if event["type"] == "Change":
                assert event["previous_value"] == properties.get(event["field_name"]), event
            if event["type"] in ("Create", "Change"):
                properties[event["field_name"]] = event["value"]
    return properties


def by_author(ticket_audits: list[dict], author_ids) -> list[dict]:
    return [audit for audit in ticket_audits if audit["author_id"] in author_ids]


def changes(audit: dict, field_name: str) -> list[dict]:
    return [event for event in audit["events"] if event.get("field_name") == field_name and event["type"] == "Change"]


# --- The seeded history ------------------------------------------------------------------------


def test_history_follows_the_seed_and_leaves_the_open_tickets_alone():
    def open_tickets(state: SimState) -> list[tuple]:
        return [
            (
                r.id,
                r.subject,
                r.description,
                tuple(r.tags),
                r.priority,
                r.status,
                r.assignee_id,
                r.requester_id,
                tuple(c["id"] for c in r.comments),
            )
            for r in state.tickets.values()
            if r.status != "solved"
        ]

    def solved(state: SimState) -> list[tuple]:
        return [
            (
                r.id,
                r.subject,
                tuple(r.tags),
                r.priority,
                r.assignee_id,
                r.requester_id,
                [
                    [(e["type"], e.get("field_name"), str(e.get("value", e.get("body")))) for e in audit["events"]]
                    for audit in r.audits
                ],
            )
            for r in state.tickets.values()
            if r.status == "solved"
        ]

    plain = SimState(SimConfig(tickets=20, seed=5))
    first = SimState(SimConfig(tickets=20, seed=5, solved=80))
    again = SimState(SimConfig(tickets=20, seed=5, solved=80))
    other = SimState(SimConfig(tickets=20, seed=6, solved=80))
    assert open_tickets(first) == open_tickets(plain)
    assert [r.id for r in first.tickets.values() if r.status == "solved"] == list(range(21, 101))
    assert first.history_report() == again.history_report()
    assert solved(first) == solved(again)
    assert first.history_report() != other.history_report()
    assert plain.history_report()["solved"] == 0 and plain.history_report()["tickets"] == {}
    with pytest.raises(SimConfigError, match="solved"):
        SimConfig(solved=-1)


def test_history_has_the_promised_mix():
    state = SimState(SimConfig(tickets=0, seed=9, solved=1500))
    report = state.history_report()
    tickets = report["tickets"]
    now = time.time()
    assert report["solved"] == len(tickets) == 1500
    triaged = {int(ticket_id): entry for ticket_id, entry in tickets.items() if entry["fleet"]}
    assert report["fleet_triaged"] == len(triaged) and 0.55 < len(triaged) / 1500 < 0.65
    for name, counts in report["fields"].items():
        wrong = sum(entry["fleet"][name] != entry["truth"][name] for entry in triaged.values())
        assert counts["fleet_wrong"] == wrong and 0.2 < wrong / len(triaged) < 0.3, name
        corrected = sum(name in entry["corrected"] for entry in triaged.values())
        assert counts["agent_corrected"] == corrected
        # About 70%; an urgency correction that would not change the priority leaves no trace.
        assert 0.55 < corrected / wrong < 0.8, name
    untriaged = 1500 - len(triaged)
    assert 0.06 < report["without_priority"] / untriaged < 0.14
    for ticket_id, entry in tickets.items():
        record = state.tickets[int(ticket_id)]
        assert record.status == "solved" and record.generated.language == "en"
        assert entry["truth"] == truth_of(record.generated)
        assert set(entry["truth"]) == set(FIELD_VALUES)
        assert now - 180 * DAY - 5 <= record.created_at <= now - DAY
        assert record.created_at < record.updated_at < record.created_at + DAY
        if entry["fleet"] is None:
            assert not any(tag.startswith("ai_") for tag in record.tags)
        assert record.priority is not None or entry["fleet"] is None


def test_solved_history_is_searchable_but_not_swept():
    with running_simulator(tickets=10, seed=2, solved=40) as sim:

        def search(query: str) -> set[int]:
            response = client().get(f"{sim.base_url}/api/v2/search.json", params={"query": query})
            assert response.status_code == 200, response.text
            return {result["id"] for result in response.json()["results"]}

        solved_ids = {int(ticket_id) for ticket_id in history(sim)["tickets"]}
        assert search("type:ticket status<solved -tags:ai_processed") <= set(range(1, 11))
        assert search("type:ticket status:solved") == solved_ids
        triaged = {int(i) for i, entry in history(sim)["tickets"].items() if entry["fleet"]}
        assert search("type:ticket tags:ai_processed") == triaged
        figures = requests.get(f"{sim.base_url}/_sim/stats").json()
        assert figures["history_solved"] == 40 and figures["history_ai_processed"] == len(triaged)
        assert figures["tickets_total"] == 50 and figures["tickets_by_status"]["solved"] == 40
        # The backdoor is no API request: it counts against no limit.
        assert figures["requests_total"] == 3


# --- Audits ------------------------------------------------------------------------------------


def test_audits_show_the_fleet_and_the_agents_as_the_history_says():
    with running_simulator(tickets=5, seed=3, solved=60) as sim:
        planted = history(sim)["tickets"]
        corrections_seen = 0
        for ticket_id, entry in planted.items():
            ticket_audits = audits(sim, int(ticket_id))
            ticket = client().get(f"{sim.base_url}/api/v2/tickets/{ticket_id}.json").json()["ticket"]
            stamps = [audit["created_at"] for audit in ticket_audits]
            assert stamps == sorted(stamps) and ticket_audits[-1]["created_at"] == ticket["updated_at"]

            created = ticket_audits[0]
            assert created["author_id"] == ticket["requester_id"] and created["via"]["channel"] == "web"
            assert created["events"][0]["type"] == "Comment" and created["events"][0]["public"] is True
            assert created["events"][0]["body"] == ticket["description"]
            assert [e["field_name"] for e in created["events"][1:]] == [
                "requester_id",
                "subject",
                "tags",
                "priority",
                "type",
                "status",
            ]
            told = replay(ticket_audits)
            assert (told["tags"], told["priority"], told["status"], told["assignee_id"]) == (
                ticket["tags"],
                ticket["priority"],
                "solved",
                str(ticket["assignee_id"]),
            )

            fleet_audits = by_author(ticket_audits, {API_USER_ID})
            agent_audits = by_author(ticket_audits, AGENT_IDS)
            assert agent_audits and agent_audits[-1] is ticket_audits[-1]
            assert changes(agent_audits[-1], "status")[0]["value"] == "solved"
            fleet = entry["fleet"]
            if fleet is None:
                assert fleet_audits == [] and "ai_processed" not in ticket["tags"]
                continue
            [fleet_audit] = fleet_audits
            assert fleet_audit["via"]["channel"] == "api" and fleet_audit is ticket_audits[1]
            note = fleet_audit["events"][0]
            assert note["type"] == "Comment" and note["public"] is False
            assert note["body"].startswith("AI Analysis:") and note["audit_id"] == fleet_audit["id"]
            [tagged] = changes(fleet_audit, "tags")
            added = [tag for tag in tagged["value"] if tag not in tagged["previous_value"]]
            assert added == ["ai_processed", *(f"ai_{fleet[name]}" for name in FIELD_VALUES)]

            later = [audit for audit in agent_audits if audit["id"] > fleet_audit["id"]]
            for name in FIELD_VALUES:
                truth, answer = entry["truth"][name], fleet[name]
                if name == "urgency":
                    wanted = PRIORITY_OF_URGENCY[truth]
                    fixed = [e for audit in later for e in changes(audit, "priority") if e["value"] == wanted]
                    assert bool(fixed) == (name in entry["corrected"]), (ticket_id, entry)
                    if fixed:
                        assert ticket["priority"] == wanted
                    continue
                swaps = [
                    e
                    for audit in later
                    for e in changes(audit, "tags")
                    if f"ai_{answer}" in e["previous_value"]
                    and f"ai_{truth}" in e["value"]
                    and f"ai_{answer}" not in e["value"]
                ]
                assert bool(swaps) == (name in entry["corrected"]), (ticket_id, entry)
                # What nobody corrected is still the fleet's answer.
                assert f"ai_{truth if swaps else answer}" in ticket["tags"]
                assert answer == truth or name in entry["corrected"] or f"ai_{answer}" in ticket["tags"]
            corrections_seen += len(entry["corrected"])
        assert corrections_seen > 5


def test_audits_paginate_by_offset_and_by_cursor():
    with running_simulator(tickets=3, seed=4, solved=20) as sim:
        ticket_id = max(history(sim)["tickets"], key=lambda i: len(sim.state.tickets[int(i)].audits))
        everything = audits(sim, ticket_id)
        assert len(everything) >= 3
        url = f"{sim.base_url}/api/v2/tickets/{ticket_id}/audits.json"

        seen, next_page = [], f"{url}?per_page=1"
        while next_page:
            body = client().get(next_page).json()
            assert body["count"] == len(everything)
            seen += body["audits"]
            next_page = body["next_page"]
        assert seen == everything

        seen, link, more = [], f"{url}?page[size]=1", True
        while more:
            body = client().get(link).json()
            seen += body["audits"]
            more, link = body["meta"]["has_more"], body["links"]["next"]
        assert seen == everything
        # The last page still links on: has_more is what says it is the last.
        assert client().get(link).json()["audits"] == [] and link is not None
        back = client().get(body["links"]["prev"]).json()
        assert back["audits"] == everything[-2:-1] and back["meta"]["has_more"]

        cursor = body["meta"]["after_cursor"]
        other = next(i for i in history(sim)["tickets"] if i != ticket_id)
        for bad in (
            {"page[after]": "bm90LWEtY3Vyc29y"},
            {"page[size]": "101"},
            {"page[size]": "0"},
            {"page[after]": cursor, "page[before]": cursor},
        ):
            assert client().get(url, params=bad).status_code == 400, bad
        elsewhere = client().get(f"{sim.base_url}/api/v2/tickets/{other}/audits.json", params={"page[after]": cursor})
        assert elsewhere.status_code == 400
        assert client().get(url, params={"per_page": 1000}).json()["audits"] == everything  # 100 a page
        missing = client().get(f"{sim.base_url}/api/v2/tickets/99999/audits.json")
        assert missing.status_code == 404 and missing.json()["error"] == "RecordNotFound"
        assert sim.state.stats()["requests_by_endpoint"]["audits"] > 10


def test_live_writes_and_agent_edits_append_audits():
    with running_simulator(tickets=10, seed=7, job_delay_ms=20, index_lag=0) as sim:
        base = f"{sim.base_url}/api/v2/tickets"
        assert [audit["author_id"] for audit in audits(sim, 1)][:1] == [sim.state.tickets[1].requester_id]
        before = len(audits(sim, 1))

        written = (
            client()
            .put(
                f"{base}/1.json",
                json={
                    "ticket": {
                        "additional_tags": ["ai_processed", "ai_bug"],
                        "priority": "urgent",
                        "comment": {"body": "AI Analysis: a note", "public": False},
                    }
                },
            )
            .json()
        )
        after = audits(sim, 1)
        assert len(after) == before + 1 and after[-1] == written["audit"]
        audit = after[-1]
        assert audit["author_id"] == API_USER_ID and audit["via"]["channel"] == "api"
        assert [e["type"] for e in audit["events"]] == ["Comment", "Change", "Change"]
        comments = client().get(f"{base}/1/comments.json").json()["comments"]
        assert audit["events"][0]["id"] == comments[-1]["id"] and audit["events"][0]["public"] is False
        assert changes(audit, "priority")[0]["value"] == "urgent"

        assert client().put(f"{base}/2/tags.json", json={"tags": ["vip_checked"]}).ok
        assert changes(audits(sim, 2)[-1], "tags")[0]["value"][-1] == "vip_checked"
        # Nothing changed: no audit.
        count = len(audits(sim, 2))
        assert client().put(f"{base}/2/tags.json", json={"tags": ["vip_checked"]}).ok
        assert len(audits(sim, 2)) == count

        job = (
            client()
            .put(f"{base}/update_many.json", json={"tickets": [{"id": 3, "additional_tags": ["bulk_done"]}]})
            .json()["job_status"]
        )
        deadline = time.monotonic() + 10
        while client().get(job["url"]).json()["job_status"]["status"] != "completed":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        assert audits(sim, 3)[-1]["author_id"] == API_USER_ID

        edited = requests.post(
            f"{sim.base_url}/_sim/tickets/4/agent_edit", json={"priority": "high", "comment": "On it"}
        )
        assert edited.ok
        agent_audit = audits(sim, 4)[-1]
        assert agent_audit["author_id"] in AGENT_IDS and agent_audit["via"]["channel"] == "web"
        assert agent_audit["events"][0]["body"] == "On it"
        for ticket_id in range(1, 11):
            ticket = client().get(f"{base}/{ticket_id}.json").json()["ticket"]
            told = replay(audits(sim, ticket_id))
            assert (told["tags"], told["priority"], told["status"]) == (
                ticket["tags"],
                ticket["priority"],
                ticket["status"],
            )


# --- Incremental Ticket Export --------------------------------------------------------------


def test_incremental_export_pages_through_every_ticket_with_cursors():
    with running_simulator(tickets=30, seed=8, solved=100, incremental_delay=0, incremental_rate_limit=100) as sim:
        deleted = 5
        assert client().delete(f"{sim.base_url}/api/v2/tickets/{deleted}.json").status_code == 204
        start = int(time.time()) - 200 * DAY
        body = incremental(sim, start_time=start, per_page=20).json()
        assert set(body) == {"tickets", "after_url", "after_cursor", "before_url", "before_cursor", "end_of_stream"}
        pages, seen, keys = 1, [], []
        while True:
            assert len(body["tickets"]) <= 20 and body["before_cursor"] is None
            assert body["after_cursor"] and body["after_url"].endswith(body["after_cursor"])
            seen += [ticket["id"] for ticket in body["tickets"]]
            keys += [(ticket["generated_timestamp"], ticket["id"]) for ticket in body["tickets"]]
            for ticket in body["tickets"]:
                assert ticket["url"] == f"{sim.base_url}/api/v2/tickets/{ticket['id']}.json"
                assert ticket["updated_at"] >= time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start))
            if body["end_of_stream"]:
                break
            body = client().get(body["after_url"]).json()
            pages += 1
        assert pages == 7 and len(seen) == len(set(seen)) == 130
        assert keys == sorted(keys)
        assert set(seen) == set(sim.state.tickets) | {deleted}
        statuses = {t["id"]: t["status"] for t in incremental(sim, start_time=start).json()["tickets"]}
        assert statuses[deleted] == "deleted" and list(statuses.values()).count("solved") == 100
        kept = incremental(sim, start_time=start, exclude_deleted="true").json()["tickets"]
        assert deleted not in {ticket["id"] for ticket in kept}

        # The last cursor resumes the stream: only what changed since comes, at its end.
        resume = body["after_cursor"]
        quiet = incremental(sim, cursor=resume).json()
        assert quiet["tickets"] == [] and quiet["end_of_stream"] and quiet["after_cursor"]
        time.sleep(1.05)
        assert client().put(f"{sim.base_url}/api/v2/tickets/7.json", json={"ticket": {"additional_tags": ["again"]}}).ok
        again = incremental(sim, cursor=resume).json()
        assert [ticket["id"] for ticket in again["tickets"]] == [7] and again["end_of_stream"]

        # Only tickets changed at or after start_time.
        recent = int(time.time()) - 2 * DAY
        records = [*sim.state.tickets.values(), *sim.state.deleted.values()]
        expected = {r.id for r in records if r.updated_at >= recent}
        got = {t["id"] for t in incremental(sim, start_time=recent).json()["tickets"]}
        assert got == expected and {deleted, 7} <= got and len(got) < 130


def test_incremental_export_leaves_out_the_last_minute_and_refuses_what_zendesk_refuses():
    with running_simulator(tickets=20, seed=1, solved=10, incremental_rate_limit=50) as sim:
        now = int(time.time())
        for start_time in (now + 3600, now - 30):
            too_recent = incremental(sim, start_time=start_time)
            assert too_recent.status_code == 422
            assert too_recent.json() == {
                "error": "InvalidValue",
                "description": "Too recent start_time. Use a start_time older than one minute.",
            }
        for params in (
            {},
            {"start_time": "yesterday"},
            {"start_time": now - DAY, "per_page": 1001},
            {"start_time": now - DAY, "per_page": 0},
            {"cursor": "bm90LWEtY3Vyc29y"},
            {"start_time": now - DAY, "exclude_deleted": "maybe"},
        ):
            assert incremental(sim, **params).status_code == 400, params
        # A cursor of another kind (the search export's) is no incremental cursor.
        export = client().get(
            f"{sim.base_url}/api/v2/search/export.json",
            params={"filter[type]": "ticket", "query": "status<solved", "page[size]": 1},
        )
        other_cursor = export.json()["meta"]["after_cursor"]
        refused = incremental(sim, cursor=other_cursor)
        assert refused.status_code == 400 and refused.json()["error"] == "InvalidPaginationParameter"

        first = incremental(sim, start_time=now - 200 * DAY)
        assert first.status_code == 200 and len(first.json()["tickets"]) <= 30
        assert client().put(f"{sim.base_url}/api/v2/tickets/3.json", json={"ticket": {"additional_tags": ["fresh"]}}).ok
        # Changed within the last minute: left out for now.
        page = incremental(sim, start_time=now - 200 * DAY).json()
        assert 3 not in {ticket["id"] for ticket in page["tickets"]} and page["end_of_stream"]
        requests.post(f"{sim.base_url}/_sim/config", json={"incremental_delay": 0.5}).raise_for_status()
        time.sleep(1.1)
        later = incremental(sim, cursor=page["after_cursor"]).json()
        assert [ticket["id"] for ticket in later["tickets"]] == [3]
        for bad in ({"incremental_delay": -1}, {"incremental_rate_limit": 0}):
            assert requests.post(f"{sim.base_url}/_sim/config", json=bad).status_code == 400


def test_incremental_export_allows_10_requests_a_minute_on_top_of_the_account_limit():
    assert SimConfig().incremental_rate_limit == 10 and SimConfig().incremental_delay == 60
    with running_simulator(tickets=5, seed=2) as sim:
        start = int(time.time()) - DAY
        assert [incremental(sim, start_time=start).status_code for _ in range(10)] == [200] * 10
        limited = incremental(sim, start_time=start)
        assert limited.status_code == 429
        assert limited.json() == {
            "error": "TooManyRequests",
            "description": "Number of allowed incremental export API requests per minute exceeded",
        }
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        # Other endpoints still answer, and the ten exports used the account's budget too.
        other = client().get(f"{sim.base_url}/api/v2/tickets/1.json")
        assert other.status_code == 200 and other.headers["X-Rate-Limit-Remaining"] == str(700 - 11)
        figures = requests.get(f"{sim.base_url}/_sim/stats").json()
        assert figures["requests_by_endpoint"]["incremental"] == 11 and figures["responses_429"] == 1


# --- The API user -------------------------------------------------------------------------------


def test_users_me_is_the_api_user():
    with running_simulator(tickets=2, email="fleet@acme.test") as sim:
        response = client("fleet@acme.test").get(f"{sim.base_url}/api/v2/users/me.json")
        assert response.status_code == 200, response.text
        user = response.json()["user"]
        assert (user["id"], user["email"], user["role"]) == (API_USER_ID, "fleet@acme.test", "admin")
        assert user["url"] == f"{sim.base_url}/api/v2/users/{API_USER_ID}.json" and user["active"]
        assert requests.get(f"{sim.base_url}/api/v2/users/me.json").status_code == 401
        assert response.headers["X-Rate-Limit-Remaining"] == "699"
        assert requests.get(f"{sim.base_url}/_sim/stats").json()["requests_by_endpoint"]["users_me"] == 2


def test_command_line_seeds_the_solved_history(command_line):
    with command_line("sim.zendesk", "--port", "0", "--tickets", "4", "--solved", "6") as base_url:
        figures = requests.get(f"{base_url}/_sim/stats").json()
        assert figures["tickets_total"] == 10 and figures["history_solved"] == 6
        assert sorted(requests.get(f"{base_url}/_sim/history").json()["tickets"], key=int) == [
            str(ticket_id) for ticket_id in range(5, 11)
        ]
