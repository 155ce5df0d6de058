"""The Zendesk client against the simulator's wire protocol: paging, errors, 429 pause, tags."""

from __future__ import annotations

import pytest
import redis
import requests
import urllib3

from app.clients.zendesk import (
    TicketUpdate,
    ZendeskClient,
    ZendeskConfigFault,
    ZendeskConflict,
    ZendeskJobsBusy,
    ZendeskNotFound,
    ZendeskRateLimited,
    ZendeskRejected,
)
from app.clients.zendesk_auth import ApiTokenAuth
from app.fleet.store import RedisPauseGate
from sim.zendesk import running_simulator

EMAIL, TOKEN = "triage-bot@example.com", "sim-api-token"


def test_export_follows_cursors_past_the_search_cap_and_reads_lazily():
    with running_simulator(tickets=1250, seed=3, rate_limit=100_000) as sim:
        client = ZendeskClient(sim.base_url, ApiTokenAuth(EMAIL, TOKEN))
        tickets = list(client.unprocessed_tickets())
        assert len(tickets) == 1250 == len({t.id for t in tickets})  # search.json stops at 1,000
        assert all(t.subject and t.updated_at for t in tickets)
        assert sim.state.stats()["requests_by_endpoint"]["export"] == 13
        first = [t for _, t in zip(range(120), client.unprocessed_tickets())]
        assert len(first) == 120
        assert sim.state.stats()["requests_by_endpoint"]["export"] == 13 + 2  # two pages, not thirteen


def test_a_large_sweep_reads_the_export_in_pages_of_up_to_a_thousand():
    with running_simulator(tickets=2500, seed=3, rate_limit=100_000) as sim:
        client = ZendeskClient(sim.base_url, ApiTokenAuth(EMAIL, TOKEN))
        assert len(list(client.unprocessed_tickets(wanted=5000))) == 2500
        assert sim.state.stats()["requests_by_endpoint"]["export"] == 3  # 1,000 + 1,000 + 500
        assert len([t for _, t in zip(range(300), client.unprocessed_tickets(wanted=300))]) == 300
        assert sim.state.stats()["requests_by_endpoint"]["export"] == 4  # one page of 300
        assert sim.state.stats()["responses_400"] == 0


def test_the_export_query_is_one_the_documented_endpoint_accepts():
    with running_simulator(tickets=5, seed=3, rate_limit=100_000) as sim:
        client = ZendeskClient(sim.base_url, ApiTokenAuth(EMAIL, TOKEN))
        assert len(list(client.unprocessed_tickets())) == 5
        stats = sim.state.stats()
        assert stats["responses_400"] == 0 and stats["requests_by_endpoint"]["export"] == 1


def test_update_many_carries_only_what_cannot_overwrite_a_person_and_priorities_go_safely():
    with running_simulator(tickets=5, seed=2, rate_limit=100_000, job_delay_ms=0, job_item_ms=0) as sim:
        client = ZendeskClient(sim.base_url, ApiTokenAuth(EMAIL, TOKEN))
        one, two = client.show_many([1, 2])
        job = client.update_many(
            {
                1: TicketUpdate(["ai_processed", "x"], "note 1", "high", one.updated_at),
                2: TicketUpdate(["ai_processed"], "note 2", None, two.updated_at),
                99: TicketUpdate(["ai_processed"], "note 99"),
            }
        )
        while not job.finished:
            job = client.job_status(job.id)
        assert {r["id"]: r["success"] for r in job.results} == {1: True, 2: True, 99: False}
        fresh = {t.id: t for t in client.show_many([1, 2, 99])}
        assert set(fresh) == {1, 2}  # a missing ticket is left out, not an error
        assert {"ai_processed", "x"} <= set(fresh[1].tags)
        assert fresh[1].priority == one.priority  # update_many never carries a priority
        sent = sim.state.stats()
        assert sent["responses_400"] == 0
        # A priority goes through Update Ticket with safe_update: a stale stamp is a 409, not a write.
        with pytest.raises(ZendeskConflict):
            client.set_priority(1, "urgent", one.updated_at)
        raised = client.set_priority(1, "urgent", fresh[1].updated_at)
        assert raised.priority == "urgent"
        with pytest.raises(ValueError):
            client.update_many({})


def test_too_many_jobs_asks_to_come_back_without_pausing_every_other_call(redis_url, redis_prefix):
    gate = RedisPauseGate(redis.Redis.from_url(redis_url), f"{redis_prefix}zendesk:paused")
    with running_simulator(tickets=3, seed=2, rate_limit=100_000, max_jobs=1, job_delay_ms=60_000) as sim:
        client = ZendeskClient(sim.base_url, ApiTokenAuth(EMAIL, TOKEN), pause_gate=gate)
        client.update_many({1: TicketUpdate(["ai_processed"], "note 1")})
        with pytest.raises(ZendeskJobsBusy) as info:
            client.update_many({2: TicketUpdate(["ai_processed"], "note 2")})
        assert info.value.status == 429 and info.value.retry_after > 0
        assert gate.remaining() == 0  # the account's request rate is not what ran out
        client.get_ticket(3)


def test_typed_errors():
    with running_simulator(tickets=3, seed=1) as sim:
        with pytest.raises(ZendeskConfigFault, match="the API token was refused"):
            ZendeskClient(sim.base_url, ApiTokenAuth(EMAIL, "wrong-token")).get_ticket(1)
        client = ZendeskClient(sim.base_url, ApiTokenAuth(EMAIL, TOKEN))
        with pytest.raises(ZendeskNotFound):
            client.get_ticket(99_999)
        with pytest.raises(ZendeskRejected, match="422"):
            client.update_ticket(1, TicketUpdate(additional_tags=["x"], private_note="n", priority="extreme"))


def test_a_zendesk_that_cannot_be_reached_is_named_by_its_host():
    """A wrong ZENDESK_URL or ZENDESK_SUBDOMAIN shows in the error: the host, and why it failed."""
    from app.clients.zendesk import ZendeskUnavailable
    from app.clients.zendesk_auth import MemoryTokenStore, OAuthClientCredentials, TokenRequestFailed
    from sim.launcher.stack import free_port

    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(ZendeskUnavailable, match=f"^cannot connect to {closed} \\(connection refused\\) on GET /api"):
        ZendeskClient(closed, ApiTokenAuth(EMAIL, TOKEN)).get_ticket(1)
    oauth = OAuthClientCredentials(f"{closed}/oauth/tokens", "triage-fleet", "secret", "read", MemoryTokenStore())
    with pytest.raises(
        TokenRequestFailed, match=f"^cannot connect to {closed} \\(connection refused\\) on POST /oauth"
    ):
        oauth.authorization()
    # A subdomain that does not exist: urllib3's resolution error as requests wraps it (no DNS query sent).
    from app.clients.zendesk_auth import connection_failure

    unresolved = urllib3.exceptions.NameResolutionError(
        "nosuch.zendesk.com", None, OSError("Name or service not known")
    )
    wrapped = requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, "/", unresolved))
    said = connection_failure("https://nosuch.zendesk.com/oauth/tokens", wrapped)
    assert said == "cannot connect to https://nosuch.zendesk.com (its host name does not resolve)"


def test_additional_tags_keep_what_was_there():
    with running_simulator(tickets=0, seed=1) as sim:
        client = ZendeskClient(sim.base_url, ApiTokenAuth(EMAIL, TOKEN))
        created = client.session.post(
            f"{sim.base_url}/_sim/tickets",
            json={"tickets": [{"subject": "s", "description": "d", "tags": ["vip", "billing"]}]},
        )
        ticket_id = created.json()["ids"][0]
        ticket = client.get_ticket(ticket_id)
        client.update_ticket(ticket_id, TicketUpdate(["ai_processed", "ai_bug"], "note", "high", ticket.updated_at))
        after = client.get_ticket(ticket_id)
        assert set(after.tags) == {"vip", "billing", "ai_processed", "ai_bug"}
        assert after.priority == "high"


def test_429_pauses_every_client_sharing_the_gate(redis_url, redis_prefix):
    gate = RedisPauseGate(redis.Redis.from_url(redis_url), f"{redis_prefix}zendesk:paused")
    with running_simulator(tickets=5, seed=1, rate_limit=3) as sim:
        first = ZendeskClient(sim.base_url, ApiTokenAuth(EMAIL, TOKEN), pause_gate=gate)
        for _ in range(3):
            first.get_ticket(1)
        with pytest.raises(ZendeskRateLimited) as info:
            first.get_ticket(1)
        assert info.value.retry_after >= 1 and info.value.retryable
        sent = sim.state.stats()["requests_total"]
        other_process = ZendeskClient(sim.base_url, ApiTokenAuth(EMAIL, TOKEN), pause_gate=gate)
        with pytest.raises(ZendeskRateLimited):
            other_process.get_ticket(2)
        assert sim.state.stats()["requests_total"] == sent  # the pause held it back locally
        assert gate.remaining() > 0


def test_breaker_opens_on_outage_only_and_is_shared(redis_url, redis_prefix):
    from app.clients.zendesk import ZendeskCircuitOpen, ZendeskUnavailable, zendesk_breaker

    client_redis = redis.Redis.from_url(redis_url)
    namespace = f"{redis_prefix}breaker:zendesk"
    with running_simulator(tickets=3, seed=1, rate_limit=100_000) as sim:
        client = ZendeskClient(
            sim.base_url, ApiTokenAuth(EMAIL, TOKEN), breaker=zendesk_breaker(client_redis, namespace, 3, 30)
        )
        for _ in range(5):  # 404s and 422s are about one request: they never open it
            with pytest.raises(ZendeskNotFound):
                client.get_ticket(99_999)
        import requests as plain

        plain.post(f"{sim.base_url}/_sim/config", json={"outage_seconds": 30}, timeout=5).raise_for_status()
        for _ in range(2):
            with pytest.raises(ZendeskUnavailable):
                client.get_ticket(1)
        with pytest.raises(ZendeskCircuitOpen) as info:  # the third failure trips it
            client.get_ticket(1)
        assert info.value.retryable and info.value.retry_after == 30
        sent = sim.state.stats()["requests_total"]
        other_process = ZendeskClient(
            sim.base_url, ApiTokenAuth(EMAIL, TOKEN), breaker=zendesk_breaker(client_redis, namespace, 3, 30)
        )
        with pytest.raises(ZendeskCircuitOpen):
            other_process.get_ticket(1)
        assert sim.state.stats()["requests_total"] == sent  # failing fast, without a request
    for key in client_redis.scan_iter(match=f"{redis_prefix}*"):
        client_redis.delete(key)
