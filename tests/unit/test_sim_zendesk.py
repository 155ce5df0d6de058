"""Tests of the Zendesk simulator, driven over HTTP with requests as a real client would."""

from __future__ import annotations

import random
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from sim.ticketgen import generate_ticket, luhn_valid
from sim.zendesk import running_simulator

EMAIL = "triage-bot@example.com"
TOKEN = "sim-api-token"
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
REPO_ROOT = Path(__file__).resolve().parents[2]


def client() -> requests.Session:
    """A session authenticated the way the fleet talks to real Zendesk."""
    session = requests.Session()
    session.auth = (f"{EMAIL}/token", TOKEN)
    return session


def search(sim, query: str, **params) -> dict:
    response = client().get(f"{sim.base_url}/api/v2/search.json", params={"query": query, **params})
    assert response.status_code == 200, response.text
    return response.json()


def search_ids(sim, query: str) -> set[int]:
    return {result["id"] for result in search(sim, query)["results"]}


def update(sim, ticket_id: int, **fields) -> requests.Response:
    return client().put(f"{sim.base_url}/api/v2/tickets/{ticket_id}.json", json={"ticket": fields})


def get_ticket(sim, ticket_id: int) -> dict:
    response = client().get(f"{sim.base_url}/api/v2/tickets/{ticket_id}.json")
    assert response.status_code == 200, response.text
    return response.json()["ticket"]


def set_config(sim, **settings) -> None:
    response = requests.post(f"{sim.base_url}/_sim/config", json=settings)
    assert response.status_code == 200, response.text


def stats(sim) -> dict:
    return requests.get(f"{sim.base_url}/_sim/stats").json()


def first_ticket(sim, condition) -> int:
    return next(record.id for record in sim.state.tickets.values() if condition(record))


@pytest.fixture
def sim():
    with running_simulator(tickets=60, seed=7, job_delay_ms=50) as simulator:
        yield simulator


def test_api_needs_the_token_credentials(sim):
    url = f"{sim.base_url}/api/v2/tickets/1.json"
    for auth in (None, (f"{EMAIL}/token", "wrong"), (EMAIL, TOKEN), ("other@example.com/token", TOKEN)):
        response = requests.get(url, auth=auth)
        assert response.status_code == 401
        assert response.json() == {"error": "Couldn't authenticate you"}
    assert client().get(url).status_code == 200
    assert requests.get(f"{sim.base_url}/_sim/stats").status_code == 200


def test_ticket_and_comments_look_like_zendesk(sim):
    ticket = get_ticket(sim, 1)
    assert ticket["url"] == f"{sim.base_url}/api/v2/tickets/1.json"
    assert set(ticket) >= {"id", "external_id", "type", "subject", "raw_subject", "description",
                           "priority", "status", "requester_id", "submitter_id", "assignee_id",
                           "organization_id", "group_id", "tags", "custom_fields"}
    assert TIMESTAMP_RE.match(ticket["created_at"]) and TIMESTAMP_RE.match(ticket["updated_at"])

    comments = client().get(f"{sim.base_url}/api/v2/tickets/1/comments.json").json()
    first = comments["comments"][0]
    assert first["body"] == ticket["description"] and first["public"] is True
    assert first["author_id"] == ticket["requester_id"]
    assert comments["count"] == len(comments["comments"]) and comments["next_page"] is None

    missing = client().get(f"{sim.base_url}/api/v2/tickets/99999.json")
    assert missing.status_code == 404
    assert missing.json() == {"error": "RecordNotFound", "description": "Not found"}


def test_search_filters(sim):
    records = sim.state.tickets.values()
    created = requests.post(f"{sim.base_url}/_sim/tickets", json={"tickets": [
        {"subject": "Zebra crossing broken", "description": "The quokka page fails", "tags": ["vip"]},
    ]}).json()["ids"]

    assert search_ids(sim, "zebra QUOKKA") == set(created)
    assert search_ids(sim, '"quokka page"') == set(created)
    assert search_ids(sim, "type:user") == set()
    assert search_ids(sim, "type:ticket status<solved") == {r.id for r in records}
    assert search_ids(sim, "type:ticket status:pending status:hold") == {
        r.id for r in records if r.status in ("pending", "hold")}
    assert search_ids(sim, "status>=pending") == {r.id for r in records if r.status in ("pending", "hold")}
    assert search_ids(sim, "status<=open") == {r.id for r in records if r.status in ("new", "open")}
    assert search_ids(sim, "tags:vip") == {r.id for r in records if "vip" in r.tags}
    assert search_ids(sim, "type:ticket -tags:vip") == {r.id for r in records if "vip" not in r.tags}
    assert search_ids(sim, "priority:high") == {r.id for r in records if r.priority == "high"}

    result = search(sim, "zebra")["results"][0]
    assert result["result_type"] == "ticket" and result["url"].startswith(sim.base_url)

    newest_first = search(sim, "type:ticket", sort_by="created_at", sort_order="desc")["results"]
    stamps = [r["created_at"] for r in newest_first]
    assert stamps == sorted(stamps, reverse=True)


def test_search_pages_through_next_page_and_stops_at_the_result_limit():
    with running_simulator(tickets=1050, seed=2) as sim:
        first = search(sim, "type:ticket", per_page=1000)  # clamped to 100
        assert len(first["results"]) == 100 and first["count"] == 1050

        seen, url, pages = [], f"{sim.base_url}/api/v2/search.json?query=type:ticket", 0
        while True:
            response = client().get(url)
            if response.status_code == 422:
                break
            body = response.json()
            seen += [result["id"] for result in body["results"]]
            pages += 1
            url = body["next_page"]
        # Like real Zendesk, page 10 still offers a next_page and following it is a 422.
        assert pages == 10 and len(set(seen)) == 1000
        assert response.json() == {
            "error": "invalid",
            "description": "Invalid search: Requested response size was greater than Search Response Limits"}

        small = search(sim, "tags:vip", per_page=10)
        assert small["count"] < 1000
        collected, body = [], small
        while True:
            collected += [result["id"] for result in body["results"]]
            if body["next_page"] is None:
                break
            body = client().get(body["next_page"]).json()
        assert len(collected) == small["count"] == len(set(collected))


def test_export_pages_by_cursor_without_the_cap(sim):
    requests.post(f"{sim.base_url}/_sim/tickets", json={"count": 190})
    seen, url = [], f"{sim.base_url}/api/v2/search/export.json"
    params = {"query": "type:ticket", "filter[type]": "ticket", "page[size]": 100}
    while url:
        body = client().get(url, params=params).json()
        seen += [result["id"] for result in body["results"]]
        assert body["meta"]["has_more"] == (body["links"]["next"] is not None)
        url, params = body["links"]["next"], None
    assert sorted(seen) == sorted(sim.state.tickets) and len(seen) == 250

    no_filter = client().get(f"{sim.base_url}/api/v2/search/export.json", params={"query": "type:ticket"})
    assert no_filter.status_code == 400


def test_index_lag_hides_new_tickets_and_serves_stale_snapshots():
    with running_simulator(tickets=20, seed=3, index_lag=0.6) as sim:
        new_id = requests.post(f"{sim.base_url}/_sim/tickets", json={"tickets": [
            {"subject": "Walrus invoice", "description": "walrus"}]}).json()["ids"][0]
        assert get_ticket(sim, new_id)["subject"] == "Walrus invoice"  # live reads see it at once
        assert search_ids(sim, "walrus") == set()

        assert update(sim, 5, additional_tags=["lag_check"]).status_code == 200
        assert search_ids(sim, "tags:lag_check") == set()
        stale = next(r for r in search(sim, "type:ticket")["results"] if r["id"] == 5)
        assert "lag_check" not in stale["tags"]

        time.sleep(0.8)
        assert search_ids(sim, "walrus") == {new_id}
        assert search_ids(sim, "tags:lag_check") == {5}


def test_single_update_tag_semantics(sim):
    ticket_id = first_ticket(sim, lambda r: r.tags)
    original = get_ticket(sim, ticket_id)["tags"]

    added = update(sim, ticket_id, additional_tags=["ai_processed", "ai_bug"])
    assert added.status_code == 200
    body = added.json()
    assert body["ticket"]["tags"] == original + ["ai_processed", "ai_bug"]
    assert body["audit"]["ticket_id"] == ticket_id
    assert body["audit"]["events"][0]["field_name"] == "tags"

    removed = update(sim, ticket_id, remove_tags=["ai_bug"])
    assert removed.json()["ticket"]["tags"] == original + ["ai_processed"]
    assert update(sim, ticket_id, tags=["only_this"]).json()["ticket"]["tags"] == ["only_this"]


def test_safe_update_rejects_a_stale_stamp(sim):
    stamp = get_ticket(sim, 3)["updated_at"]
    fresh = update(sim, 3, safe_update=True, updated_stamp=stamp, additional_tags=["a"])
    assert fresh.status_code == 200
    new_stamp = fresh.json()["ticket"]["updated_at"]
    assert new_stamp > stamp

    stale = update(sim, 3, safe_update=True, updated_stamp=stamp, additional_tags=["b"])
    assert stale.status_code == 409
    assert stale.json()["error"] == "UpdateConflict"
    assert update(sim, 3, safe_update=True, updated_stamp=new_stamp, additional_tags=["b"]).status_code == 200

    # Writes within one second still move updated_at forward, so stamps stay exact.
    stamps = [update(sim, 4, additional_tags=[f"t{i}"]).json()["ticket"]["updated_at"] for i in range(3)]
    assert stamps == sorted(set(stamps))


def test_invalid_updates_are_rejected(sim):
    assert update(sim, 1, priority="critical").status_code == 422
    assert update(sim, 1, comment={"public": False}).status_code == 422
    assert update(sim, 99999, priority="low").status_code == 404
    bad_json = client().put(f"{sim.base_url}/api/v2/tickets/1.json", data="{not json",
                            headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400

    requests.post(f"{sim.base_url}/_sim/tickets/2/agent_edit", json={"status": "closed"})
    closed = update(sim, 2, additional_tags=["x"])
    assert closed.status_code == 422 and closed.json()["error"] == "RecordInvalid"

    set_config(sim, fail_updates={"6": 422})
    injected = update(sim, 6, additional_tags=["x"])
    assert injected.status_code == 422
    assert injected.json()["details"]["base"][0]["description"] == "Simulated failure"


def test_update_many_job_lifecycle_with_failures():
    with running_simulator(tickets=30, seed=5, job_delay_ms=300, update_rate_limit=1) as sim:
        set_config(sim, fail_updates={"2": 422})
        stale_stamp = "2000-01-01T00:00:00Z"
        response = client().put(f"{sim.base_url}/api/v2/tickets/update_many.json", json={"tickets": [
            {"id": 1, "additional_tags": ["ai_processed"], "comment": {"body": "note", "public": False}},
            {"id": 2, "additional_tags": ["ai_processed"]},
            {"id": 3, "additional_tags": ["ai_processed"], "safe_update": True, "updated_stamp": stale_stamp},
            {"id": 99999, "additional_tags": ["ai_processed"]},
            {"id": 4, "additional_tags": ["ai_processed"]},
        ]})
        assert response.status_code == 200
        job = response.json()["job_status"]
        assert job["status"] == "queued" and job["total"] == 5 and job["progress"] == 0
        assert job["url"] == f"{sim.base_url}/api/v2/job_statuses/{job['id']}.json"

        deadline = time.monotonic() + 5
        while job["status"] != "completed" and time.monotonic() < deadline:
            time.sleep(0.05)
            job = client().get(job["url"]).json()["job_status"]
        assert job["status"] == "completed" and job["progress"] == 5
        results = {result["id"]: result for result in job["results"]}
        assert results[1] == {"id": 1, "index": 0, "action": "update", "success": True, "status": "Updated"}
        assert results[2]["error"] == "TicketUpdateFailed" and not results[2]["success"]
        assert results[3]["error"] == "UpdateConflict"
        assert results[99999]["error"] == "RecordNotFound"
        assert results[4]["success"]
        assert "ai_processed" in get_ticket(sim, 4)["tags"]
        assert "ai_processed" not in get_ticket(sim, 2)["tags"]

        # Bulk jobs spend the account budget only: the Update Ticket budget of 1 is untouched.
        assert update(sim, 5, additional_tags=["x"]).status_code == 200
        assert client().get(f"{sim.base_url}/api/v2/job_statuses/ffff.json").status_code == 404
        record = requests.get(f"{sim.base_url}/_sim/tickets/1").json()
        assert record["updates"][0]["source"] == "bulk"
        assert stats(sim)["ticket_updates_total"] == 3

        too_many = client().put(f"{sim.base_url}/api/v2/tickets/update_many.json",
                                json={"tickets": [{"id": i} for i in range(1, 102)]})
        assert too_many.status_code == 400 and "error" in too_many.json()


def test_account_rate_limit_answers_429_with_retry_after():
    with running_simulator(tickets=5, rate_limit=5, rate_window=30) as sim:
        session = client()
        remaining = []
        for _ in range(5):
            response = session.get(f"{sim.base_url}/api/v2/tickets/1.json")
            assert response.status_code == 200
            assert response.headers["X-Rate-Limit"] == response.headers["ratelimit-limit"] == "5"
            remaining.append(int(response.headers["X-Rate-Limit-Remaining"]))
        assert remaining == [4, 3, 2, 1, 0]

        limited = session.get(f"{sim.base_url}/api/v2/tickets/1.json")
        assert limited.status_code == 429
        assert limited.json()["error"] == "TooManyRequests"
        assert 1 <= int(limited.headers["Retry-After"]) <= 30
        assert limited.headers["ratelimit-remaining"] == "0"
        assert 1 <= int(limited.headers["ratelimit-reset"]) <= 30
        figures = stats(sim)
        assert figures["responses_429"] == 1 and figures["requests_total"] == 6


def test_update_ticket_budget_is_separate_from_the_account_budget():
    with running_simulator(tickets=5, rate_limit=100, update_rate_limit=2, rate_window=1) as sim:
        assert [update(sim, 1, additional_tags=[f"t{i}"]).status_code for i in range(3)] == [200, 200, 429]
        assert update(sim, 1, additional_tags=["x"]).headers["Retry-After"] == "1"
        assert client().get(f"{sim.base_url}/api/v2/tickets/1.json").status_code == 200
        time.sleep(1.05)  # the one-second window slides past the earlier updates
        assert update(sim, 1, additional_tags=["after"]).status_code == 200


def test_outages_and_injected_errors():
    with running_simulator(tickets=5, outage_start=0.5, outage_seconds=0.4) as sim:
        url = f"{sim.base_url}/api/v2/tickets/1.json"
        assert client().get(url).status_code == 200

        def first_response_with(status: int) -> requests.Response:
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline:
                response = client().get(url)
                if response.status_code == status:
                    return response
                time.sleep(0.05)
            pytest.fail(f"no {status} within 3 s")

        during = first_response_with(503)  # the scheduled outage begins...
        assert during.json()["error"] == "ServiceUnavailable" and int(during.headers["Retry-After"]) >= 1
        first_response_with(200)  # ...and ends by itself

        set_config(sim, outage_seconds=30)
        assert client().get(url).status_code == 503
        set_config(sim, outage_seconds=0)
        assert client().get(url).status_code == 200

        set_config(sim, error_ratio=1.0, error_status=500)
        failed = client().get(url)
        assert failed.status_code == 500 and failed.headers["Retry-After"] == "1"
        assert requests.post(f"{sim.base_url}/_sim/config", json={"error_ratio": 2}).status_code == 400


def test_latency_overlaps_across_concurrent_requests():
    with running_simulator(tickets=5, latency_ms=300) as sim:
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=10) as pool:
            codes = list(pool.map(lambda _: client().get(f"{sim.base_url}/api/v2/tickets/1.json").status_code,
                                  range(10)))
        elapsed = time.monotonic() - started
        assert codes == [200] * 10 and 0.3 <= elapsed < 1.5


def test_stats_count_notes_lost_tags_and_lowered_priority(sim):
    tagged = first_ticket(sim, lambda r: r.tags)
    prioritized = first_ticket(sim, lambda r: r.priority in ("high", "urgent"))
    for body in ("first note", "second note"):
        assert update(sim, 1, comment={"body": body, "public": False}).status_code == 200
    assert update(sim, 1, comment={"body": "public reply"}).status_code == 200
    assert update(sim, 9, comment={"body": "one note", "public": False}, additional_tags=["ai_processed"]).ok

    before = stats(sim)
    assert before["max_ai_notes_per_ticket"] == 2
    assert before["tickets_with_multiple_notes"] == 1
    assert before["notes_total"] == 3
    assert before["tickets_ai_processed"] == 1
    assert before["tickets_lost_tags"] == before["tickets_priority_lowered"] == 0

    update(sim, tagged, tags=["ai_processed"])
    update(sim, prioritized, priority="low")
    # A tag an agent adds later is protected too.
    edited = first_ticket(sim, lambda r: r.id not in (tagged, prioritized))
    requests.post(f"{sim.base_url}/_sim/tickets/{edited}/agent_edit", json={"additional_tags": ["escalated"]})
    update(sim, edited, remove_tags=["escalated"])

    after = stats(sim)
    assert after["tickets_lost_tags"] == 2
    assert after["tickets_priority_lowered"] == 1
    assert after["requests_by_endpoint"]["ticket_update"] == 7
    assert after["ticket_updates_total"] == 7
    assert after["responses_by_status"]["200"] == 7


def test_seeding_is_deterministic():
    def snapshot(seed: int) -> list[tuple]:
        with running_simulator(tickets=40, seed=seed) as sim:
            return [(r.subject, r.description, tuple(r.tags), r.priority, r.status, r.type)
                    for r in sim.state.tickets.values()]

    assert snapshot(11) == snapshot(11)
    assert snapshot(11) != snapshot(12)


def test_generated_tickets_have_the_promised_mix():
    tickets = [generate_ticket(random.Random(seed), non_english_share=0.1) for seed in range(1500)]
    share = lambda condition: sum(map(condition, tickets)) / len(tickets)  # noqa: E731
    assert 0.24 < share(lambda t: bool(t.pii)) < 0.36
    assert 0.06 < share(lambda t: t.language != "en") < 0.14
    assert 0.24 < share(lambda t: bool(t.tags)) < 0.36
    assert 0.24 < share(lambda t: t.priority is not None) < 0.36
    assert {t.status for t in tickets} == {"new", "open", "pending", "hold"}
    assert {t.category for t in tickets} == {"bug", "feature_request", "billing", "question"}
    assert {t.language for t in tickets} == {"en", "de", "es", "fr", "pt"}
    assert {t.urgency for t in tickets} == {"high", "normal", "low"}

    card_holders = [t for t in tickets if "card" in t.pii]
    assert card_holders
    for ticket in card_holders:
        cards = re.findall(r"\b(?:\d[ -]?){14,15}\d\b", ticket.description)
        assert cards and all(luhn_valid(card) for card in cards), ticket.description
    assert any(re.search(r"\+\d{2,3} ", t.description) for t in tickets if "phone" in t.pii)
    assert any(re.search(r"\(\d{3}\) \d{3}-\d{4}", t.description) for t in tickets if "phone" in t.pii)


def test_delete_and_show_many(sim):
    response = client().get(f"{sim.base_url}/api/v2/tickets/show_many.json", params={"ids": "1,2,99999"})
    assert [ticket["id"] for ticket in response.json()["tickets"]] == [1, 2]
    assert client().delete(f"{sim.base_url}/api/v2/tickets/2.json").status_code == 204
    assert client().get(f"{sim.base_url}/api/v2/tickets/2.json").status_code == 404
    response = client().get(f"{sim.base_url}/api/v2/tickets/show_many.json", params={"ids": "1,2"})
    assert [ticket["id"] for ticket in response.json()["tickets"]] == [1]
    assert stats(sim)["tickets_total"] == 59


def test_command_line_announces_its_port_and_stops_on_sigterm():
    command = [sys.executable, "-m", "sim.zendesk", "--port", "0", "--tickets", "5"]
    with subprocess.Popen(command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True) as process:
        try:
            line = process.stdout.readline()
            match = re.fullmatch(r"zendesk simulator listening on (http://127\.0\.0\.1:(\d+))\n", line)
            assert match and match.group(2) != "0", line
            assert requests.get(f"{match.group(1)}/_sim/stats").json()["tickets_total"] == 5
            process.send_signal(signal.SIGTERM)
            _, errors = process.communicate(timeout=10)
            assert process.returncode == 0, errors
        finally:
            if process.poll() is None:
                process.kill()
