"""Tests of the Zendesk simulator, driven over HTTP with requests as a real client would."""

from __future__ import annotations

import base64
import random
import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from sim.common import SimConfigError
from sim.ticketgen import generate_ticket, luhn_valid
from sim.zendesk import SimConfig, SimState, running_simulator

EMAIL = "triage-bot@example.com"
TOKEN = "sim-api-token"
TIMESTAMP_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


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


def wait_for(probe, what: str, timeout: float = 10.0):
    """Poll probe() until it returns something but None or False; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        # Not a truth test: a 4xx requests.Response is falsy.
        if value is not None and value is not False:
            return value
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def export(sim, **params) -> requests.Response:
    """GET the search export of tickets (params use Zendesk's names, e.g. page[size])."""
    return client().get(f"{sim.base_url}/api/v2/search/export.json", params={"filter[type]": "ticket", **params})


def export_page(sim, **params) -> dict:
    response = export(sim, **params)
    assert response.status_code == 200, response.text
    return response.json()


def update_many(sim, items: list[dict]) -> requests.Response:
    return client().put(f"{sim.base_url}/api/v2/tickets/update_many.json", json={"tickets": items})


def finished_job(sim, job: dict) -> dict:
    """Poll a job status until its job completed or failed."""

    def poll():
        response = client().get(job["url"])
        assert response.status_code == 200, response.text
        polled = response.json()["job_status"]
        return polled if polled["status"] in ("completed", "failed") else None

    return wait_for(poll, f"job {job['id']} to finish")


@pytest.fixture
def sim():
    # index_lag=0: these tests search for tickets they have just created.
    with running_simulator(tickets=60, seed=7, job_delay_ms=50, index_lag=0) as simulator:
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
    assert set(ticket) >= {
        "id",
        "external_id",
        "type",
        "subject",
        "raw_subject",
        "description",
        "priority",
        "status",
        "requester_id",
        "submitter_id",
        "assignee_id",
        "organization_id",
        "group_id",
        "tags",
        "custom_fields",
    }
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
    created = requests.post(
        f"{sim.base_url}/_sim/tickets",
        json={
            "tickets": [
                {"subject": "Zebra crossing broken", "description": "The quokka page fails", "tags": ["vip"]},
            ]
        },
    ).json()["ids"]

    assert search_ids(sim, "zebra QUOKKA") == set(created)
    assert search_ids(sim, '"quokka page"') == set(created)
    assert search_ids(sim, "type:user") == set()
    assert search_ids(sim, "type:ticket status<solved") == {r.id for r in records}
    assert search_ids(sim, "type:ticket status:pending status:hold") == {
        r.id for r in records if r.status in ("pending", "hold")
    }
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
            "description": "Invalid search: Requested response size was greater than Search Response Limits",
        }

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
    params = {"query": "status<solved", "filter[type]": "ticket", "page[size]": 100}
    while url:
        response = client().get(url, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        seen += [result["id"] for result in body["results"]]
        assert body["meta"]["has_more"] == (body["links"]["next"] is not None)
        url, params = body["links"]["next"], None
    assert sorted(seen) == sorted(sim.state.tickets) and len(seen) == 250

    no_filter = client().get(f"{sim.base_url}/api/v2/search/export.json", params={"query": "status<solved"})
    assert no_filter.status_code == 400


def test_export_refuses_a_type_in_the_query(sim):
    """Its reference: "searches with type in the query string will result in an error"."""
    for query in ("type:ticket", "TYPE:ticket status<solved", "status<solved -type:user", "Type:Ticket"):
        refused = export(sim, query=query)
        assert refused.status_code == 400, query
        body = refused.json()
        assert body["error"] == "InvalidSearchParameter" and "filter[type]" in body["description"]
    # ticket_type is another property, and the type in filter[type] is how it is done.
    assert export(sim, query="ticket_type:problem status<solved").status_code == 200
    assert export(sim, query="status<solved").status_code == 200
    assert stats(sim)["responses_400"] == 4


def test_export_page_size_outside_1_to_1000_is_refused_not_clamped(sim):
    for size in ("1001", "0", "-3", "ten", "2.5"):
        refused = export(sim, query="status<solved", **{"page[size]": size})
        assert refused.status_code == 400, size
        assert refused.json()["error"] == "InvalidPaginationParameter"
    assert len(export_page(sim, query="status<solved", **{"page[size]": 1000})["results"]) == 60
    assert len(export_page(sim, query="status<solved", **{"page[size]": 1})["results"]) == 1
    assert stats(sim)["responses_400"] == 5


def test_export_pages_forward_only(sim):
    first = export_page(sim, query="status<solved", **{"page[size]": 10})
    second = client().get(first["links"]["next"]).json()
    for body in (first, second):
        assert body["links"]["prev"] is None and body["meta"]["before_cursor"] is None
        assert body["meta"]["has_more"] and body["meta"]["after_cursor"]
    back = export(sim, query="status<solved", **{"page[before]": second["meta"]["after_cursor"]})
    assert back.status_code == 400
    assert back.json() == {
        "error": "InvalidPaginationParameter",
        "description": "page[before] is not supported: the export pages forward only",
    }


def test_export_comes_in_created_at_order_and_pages_stay_consistent(sim):
    def create(*specs) -> list[int]:
        response = requests.post(f"{sim.base_url}/_sim/tickets", json={"tickets": list(specs)})
        assert response.status_code == 200, response.text
        return response.json()["ids"]

    # Imported tickets: the highest ids, created before every other ticket.
    late_a, early_b, early_c = create(
        {"subject": "Imported A", "description": "a", "created_at": "2020-01-02T00:00:00Z"},
        {"subject": "Imported B", "description": "b", "created_at": "2020-01-01T00:00:00Z"},
        {"subject": "Imported C", "description": "c", "created_at": "2020-01-01T00:00:00Z"},
    )
    body = export_page(sim, query="status<solved", **{"page[size]": 7})
    seen, keys = [], []
    added_after, added_before = [], []
    while True:
        seen += [result["id"] for result in body["results"]]
        keys += [(result["created_at"], result["id"]) for result in body["results"]]
        if not added_after:
            # The index changes while paging: tickets created now come at the end; one created
            # before the cursor's position never shifts later pages.
            added_after = create(*[{"subject": f"New {i}", "description": "n"} for i in range(3)])
            added_before = create({"subject": "Older", "description": "o", "created_at": "2019-06-01T00:00:00Z"})
        if not body["meta"]["has_more"]:
            break
        body = client().get(body["links"]["next"]).json()
    assert keys == sorted(keys)  # created_at order, ties by id
    assert seen[:3] == [early_b, early_c, late_a]
    assert seen[-3:] == added_after
    assert len(seen) == len(set(seen)) == 60 + 3 + 3
    assert added_before[0] not in seen
    # A fresh export sees it first.
    assert export_page(sim, query="status<solved", **{"page[size]": 1})["results"][0]["id"] == added_before[0]


def test_export_cursors_expire(sim):
    first = export_page(sim, query="status<solved", **{"page[size]": 10})
    assert client().get(first["links"]["next"]).status_code == 200
    set_config(sim, cursor_ttl=0.05)
    expired = wait_for(
        lambda: (lambda r: r if r.status_code == 400 else None)(client().get(first["links"]["next"])),
        "the cursor to expire",
    )
    assert expired.json() == {
        "error": "InvalidPaginationParameter",
        "description": "The pagination cursor has expired; start the export again",
    }
    # A new export starts over with new cursors.
    set_config(sim, cursor_ttl=3600)
    fresh = export_page(sim, query="status<solved", **{"page[size]": 10})
    assert client().get(fresh["links"]["next"]).status_code == 200
    # Cursors are opaque: one edited to live longer is refused, as is one that is no cursor.
    cursor = fresh["meta"]["after_cursor"]
    text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    kind, issued, rest = text.split(":", 2)
    prolonged = base64.urlsafe_b64encode(f"{kind}:{float(issued) + 10_000:.3f}:{rest}".encode()).decode()
    for bad in (prolonged.rstrip("="), "bm90LWEtY3Vyc29y", "%%%"):
        refused = export(sim, query="status<solved", **{"page[after]": bad})
        assert refused.status_code == 400, bad
        assert refused.json()["description"] == "The pagination cursor is invalid"


def test_export_has_its_own_rate_limit():
    with running_simulator(tickets=5, export_rate_limit=3, rate_window=30) as sim:
        assert [export(sim, query="status<solved").status_code for _ in range(3)] == [200] * 3
        limited = export(sim, query="status<solved")
        assert limited.status_code == 429
        assert limited.json() == {
            "error": "TooManyRequests",
            "description": "Number of allowed search export requests per minute exceeded",
        }
        assert 1 <= int(limited.headers["Retry-After"]) <= 30
        # The account budget is not used up: other endpoints still answer.
        assert client().get(f"{sim.base_url}/api/v2/tickets/1.json").status_code == 200
        assert search(sim, "status<solved")["count"] == 5
        assert stats(sim)["responses_429"] == 1


def test_index_lag_hides_new_tickets_and_serves_stale_snapshots():
    with running_simulator(tickets=20, seed=3, index_lag=0.6) as sim:
        new_id = requests.post(
            f"{sim.base_url}/_sim/tickets", json={"tickets": [{"subject": "Walrus invoice", "description": "walrus"}]}
        ).json()["ids"][0]
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
    bad_json = client().put(
        f"{sim.base_url}/api/v2/tickets/1.json", data="{not json", headers={"Content-Type": "application/json"}
    )
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
        response = client().put(
            f"{sim.base_url}/api/v2/tickets/update_many.json",
            json={
                "tickets": [
                    {"id": 1, "additional_tags": ["ai_processed"], "comment": {"body": "note", "public": False}},
                    {"id": 2, "additional_tags": ["ai_processed"]},
                    {"id": 3, "additional_tags": ["ai_processed"], "safe_update": True, "updated_stamp": stale_stamp},
                    {"id": 99999, "additional_tags": ["ai_processed"]},
                    {"id": 4, "additional_tags": ["ai_processed"]},
                ]
            },
        )
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
        assert results[3]["success"]  # safe_update is for single-ticket updates: ignored here
        assert results[99999]["error"] == "RecordNotFound"
        assert results[4]["success"]
        assert "ai_processed" in get_ticket(sim, 4)["tags"]
        assert "ai_processed" not in get_ticket(sim, 2)["tags"]

        # Bulk jobs spend the account budget only: the Update Ticket budget of 1 is untouched.
        assert update(sim, 5, additional_tags=["x"]).status_code == 200
        assert client().get(f"{sim.base_url}/api/v2/job_statuses/ffff.json").status_code == 404
        record = requests.get(f"{sim.base_url}/_sim/tickets/1").json()
        assert record["updates"][0]["source"] == "bulk"
        assert stats(sim)["ticket_updates_total"] == 4
        assert stats(sim)["job_status_404"] == 1

        too_many = client().put(
            f"{sim.base_url}/api/v2/tickets/update_many.json", json={"tickets": [{"id": i} for i in range(1, 102)]}
        )
        assert too_many.status_code == 400 and "error" in too_many.json()


def test_update_many_ignores_safe_update_unless_told():
    stale = {"safe_update": True, "updated_stamp": "2000-01-01T00:00:00Z"}
    with running_simulator(tickets=5, seed=5, job_delay_ms=0, job_item_ms=0) as sim:
        job = finished_job(sim, update_many(sim, [{"id": 1, "additional_tags": ["a"], **stale}]).json()["job_status"])
        assert job["results"][0]["success"]
        assert "a" in get_ticket(sim, 1)["tags"]

        set_config(sim, bulk_safe_update=True)
        job = finished_job(sim, update_many(sim, [{"id": 2, "additional_tags": ["b"], **stale}]).json()["job_status"])
        assert job["results"][0]["error"] == "UpdateConflict" and not job["results"][0]["success"]
        assert "b" not in get_ticket(sim, 2)["tags"]

    with running_simulator(tickets=5, seed=5, job_delay_ms=0, job_item_ms=0, bulk_safe_update=True) as sim:
        job = finished_job(sim, update_many(sim, [{"id": 1, "additional_tags": ["a"], **stale}]).json()["job_status"])
        assert job["results"][0]["error"] == "UpdateConflict"


def test_job_goes_queued_working_completed_with_progress():
    with running_simulator(tickets=5, seed=5, job_delay_ms=0, job_item_ms=60_000) as sim:
        job = update_many(sim, [{"id": i, "additional_tags": ["w"]} for i in (1, 2, 3)]).json()["job_status"]
        working = wait_for(
            lambda: (lambda j: j if j["status"] == "working" else None)(client().get(job["url"]).json()["job_status"]),
            "the job to start working",
        )
        assert working["progress"] == 0 and working["total"] == 3 and working["results"] is None
        assert stats(sim)["jobs_active"] == 1
        set_config(sim, job_item_ms=0)  # a running job follows the change
        done = finished_job(sim, job)
        assert done["status"] == "completed" and done["progress"] == 3
        assert stats(sim)["jobs_active"] == 0 and stats(sim)["jobs_total"] == 1


def test_at_most_max_jobs_queued_or_working_then_429_without_retry_after():
    with running_simulator(tickets=5, seed=5, job_delay_ms=600_000) as sim:
        assert [update_many(sim, [{"id": 1}]).status_code for _ in range(30)] == [200] * 30
        assert stats(sim)["jobs_active"] == 30
        refused = update_many(sim, [{"id": 1}])
        assert refused.status_code == 429
        body = refused.json()
        assert body["error"] == "TooManyJobs" and body["description"]
        assert "Retry-After" not in refused.headers

        set_config(sim, job_delay_ms=0)  # the queued jobs run and finish
        wait_for(lambda: stats(sim)["jobs_active"] == 0, "the jobs to finish")
        assert update_many(sim, [{"id": 1}]).status_code == 200
        assert stats(sim)["jobs_total"] == 31


def test_job_status_is_gone_job_ttl_after_the_job_finished():
    with running_simulator(tickets=5, seed=5, job_delay_ms=0, job_item_ms=0) as sim:
        job = finished_job(sim, update_many(sim, [{"id": 1, "additional_tags": ["t"]}]).json()["job_status"])
        assert client().get(job["url"]).status_code == 200  # the default keeps it an hour
        set_config(sim, job_ttl=0.5)
        gone = wait_for(
            lambda: (lambda r: r if r.status_code == 404 else None)(client().get(job["url"])),
            "the job status to expire",
        )
        assert gone.json() == {"error": "RecordNotFound", "description": "Not found"}
        assert stats(sim)["job_status_404"] == 1

    with running_simulator(tickets=5, seed=5, job_delay_ms=0, job_item_ms=0, job_ttl=0.5) as sim:
        job = update_many(sim, [{"id": 1}]).json()["job_status"]
        wait_for(lambda: client().get(job["url"]).status_code == 404, "the job status to expire")


def test_job_status_polls_count_against_the_account_limit():
    with running_simulator(tickets=3, rate_limit=3, rate_window=30, job_delay_ms=600_000) as sim:
        job = update_many(sim, [{"id": 1}]).json()["job_status"]
        polls = [client().get(job["url"]) for _ in range(3)]
        assert [poll.status_code for poll in polls] == [200, 200, 429]
        assert [poll.headers["X-Rate-Limit-Remaining"] for poll in polls[:2]] == ["1", "0"]
        assert int(polls[2].headers["Retry-After"]) >= 1


def test_agent_edits_use_the_update_ticket_budget_and_raise_priorities():
    with running_simulator(tickets=30, seed=4, update_rate_limit=3, rate_window=60) as sim:
        for _ in range(3):
            edited = requests.post(f"{sim.base_url}/_sim/tickets/1/agent_edit", json={"additional_tags": ["seen"]})
            assert edited.status_code == 200
        # The agents used the Update Ticket budget: the API update is refused ...
        refused = update(sim, 2, additional_tags=["x"])
        assert refused.status_code == 429 and "ticket updates" in refused.json()["description"]
        # ... but people in the UI never are.
        assert requests.post(f"{sim.base_url}/_sim/tickets/1/agent_edit", json={"priority": "urgent"}).ok
        assert stats(sim)["agent_edits_total"] == 4
        raises_before = stats(sim)["agent_priority_raises"]

        set_config(sim, agent_edit_rate=6000)  # 100 a second
        wait_for(lambda: stats(sim)["agent_edits_total"] >= 40, "simulated agents to edit tickets")
        set_config(sim, agent_edit_rate=0)
        figures = stats(sim)
        assert figures["agent_priority_raises"] > raises_before
        assert figures["tickets_priority_lowered"] == 0 and figures["tickets_lost_tags"] == 0
        urgent = [r for r in sim.state.tickets.values() if r.protected_priority == "urgent" and r.id != 1]
        reviewed = [r for r in sim.state.tickets.values() if "agent_reviewed" in r.protected_tags]
        assert urgent and reviewed
        assert all(r.status not in ("solved", "closed") for r in urgent + reviewed)
        assert figures["requests_total"] == 1  # UI edits are no API requests
        assert update(sim, 2, additional_tags=["x"]).status_code == 429


def test_simulated_agents_follow_the_seed():
    def edits(seed: int) -> list[tuple[int, str | None, tuple[str, ...]]]:
        state = SimState(SimConfig(tickets=30, seed=seed))
        edited = [state.random_agent_edit() for _ in range(20)]
        return [(r.id, r.priority, tuple(r.tags)) for r in edited]

    assert edits(4) == edits(4)
    assert edits(4) != edits(5)


def test_index_lag_defaults_to_tens_of_seconds_with_seeded_tickets_indexed():
    assert SimConfig().index_lag == 30
    with running_simulator(tickets=10, seed=3) as sim:
        assert requests.get(f"{sim.base_url}/_sim/config").json()["index_lag"] == 30
        assert search(sim, "status<solved")["count"] == 10
        new_id = requests.post(
            f"{sim.base_url}/_sim/tickets", json={"tickets": [{"subject": "Narwhal refund", "description": "narwhal"}]}
        ).json()["ids"][0]
        assert get_ticket(sim, new_id)["subject"] == "Narwhal refund"
        assert search_ids(sim, "narwhal") == set()
        assert stats(sim)["index_pending"] == 1


def test_new_settings_are_validated_and_runtime_settable(sim):
    for bad in (
        {"max_jobs": 0},
        {"export_rate_limit": 0},
        {"cursor_ttl": 0},
        {"job_ttl": -1},
        {"job_item_ms": -1},
        {"agent_edit_rate": -1},
        {"bulk_safe_update": 1},
    ):
        assert requests.post(f"{sim.base_url}/_sim/config", json=bad).status_code == 400, bad
    set_config(
        sim,
        max_jobs=5,
        export_rate_limit=50,
        cursor_ttl=60,
        job_ttl=10,
        job_item_ms=1,
        agent_edit_rate=0.5,
        bulk_safe_update=True,
    )
    view = requests.get(f"{sim.base_url}/_sim/config").json()
    assert (view["max_jobs"], view["export_rate_limit"], view["bulk_safe_update"]) == (5, 50, True)
    with pytest.raises(SimConfigError, match="max_jobs"):
        SimConfig(max_jobs=0)
    defaults = SimConfig()
    assert (
        defaults.export_rate_limit,
        defaults.cursor_ttl,
        defaults.max_jobs,
        defaults.job_delay_ms,
        defaults.job_item_ms,
        defaults.job_ttl,
        defaults.bulk_safe_update,
        defaults.agent_edit_rate,
    ) == (100, 3600, 30, 2000, 20, 3600, False, 0)


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
    with running_simulator(tickets=5, latency_ms=2000) as sim:
        with ThreadPoolExecutor(max_workers=10) as pool:
            pending = [
                pool.submit(lambda: client().get(f"{sim.base_url}/api/v2/tickets/1.json").status_code)
                for _ in range(10)
            ]
            # All ten are held by the latency at once: they wait side by side, not in turn.
            wait_for(lambda: sim.state.in_flight == 10, "ten requests in flight at once")
            codes = [future.result() for future in pending]
        assert codes == [200] * 10
        assert sim.state.max_in_flight == 10 and sim.state.in_flight == 0
        assert stats(sim)["requests_total"] == 10


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
            return [
                (r.subject, r.description, tuple(r.tags), r.priority, r.status, r.type)
                for r in sim.state.tickets.values()
            ]

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


def test_command_line_announces_its_port_and_stops_on_sigterm(command_line):
    with command_line("sim.zendesk", "--port", "0", "--tickets", "5") as base_url:
        assert requests.get(f"{base_url}/_sim/stats").json()["tickets_total"] == 5
