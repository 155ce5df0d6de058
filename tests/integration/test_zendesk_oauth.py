"""The fleet's Zendesk client with an OAuth client, against the simulator in OAuth-only mode and real
Redis: one token for every process, renewed as it expires and after a revocation without failing a
call, and a refused client, a wrong scope or an API token as configuration faults that hold the
shared breaker open until they are fixed."""

from __future__ import annotations

import time
from typing import Any

import pybreaker
import pytest
import requests

from app import services
from app.clients.zendesk import TicketUpdate, ZendeskClient, ZendeskConfigFault
from app.clients.zendesk_auth import ApiTokenAuth, OAuthClientCredentials
from app.fleet.store import SharedTokenStore
from tests.conftest import run_side_by_side


def sim_config(sim: Any, **changes: Any) -> dict:
    answer = requests.post(f"{sim.base_url}/_sim/config", json=changes, timeout=5)
    answer.raise_for_status()
    return answer.json()


def stats(sim: Any) -> dict:
    return requests.get(f"{sim.base_url}/_sim/stats", timeout=5).json()


def another_process() -> ZendeskClient:
    """A second client as another worker process (or host) builds it: its own session and memory,
    the same Redis."""
    settings = services.get_settings()
    auth = services.zendesk_auth(settings, SharedTokenStore(services.redis_client(), settings.redis.prefix))
    return ZendeskClient(
        settings.zendesk.base_url, auth, breaker=services.zendesk_circuit(), faults=services.zendesk_faults()
    )


@pytest.fixture
def oauth_only(fleet_env: Any) -> Any:
    sim_config(fleet_env, auth="oauth")
    return fleet_env


def test_the_fleet_shares_one_token_and_never_sends_an_api_token(oauth_only):
    clients = [services.zendesk(), another_process(), another_process()]
    for _ in range(5):
        for client in clients:
            client.get_ticket(1)
    figures = stats(oauth_only)
    assert figures["oauth"]["tokens_issued"] == 1
    assert figures["requests_by_auth"]["bearer"] == 15 and figures["requests_by_auth"].get("api_token", 0) == 0


def test_expiring_and_revoked_tokens_are_renewed_without_a_failed_call(oauth_only):
    sim_config(oauth_only, token_ttl=2.0)
    clients = [services.zendesk(), another_process()]
    started = time.monotonic()
    calls = 0
    revoked = False
    while time.monotonic() - started < 7.0:
        for client in clients:
            client.get_ticket(1 + calls % 30)  # never raises: an expired or revoked token is renewed
            calls += 1
        if not revoked and time.monotonic() - started > 3.0:
            assert requests.post(f"{oauth_only.base_url}/_sim/oauth/revoke", timeout=5).json()["revoked"] >= 1
            revoked = True
        time.sleep(0.05)
    figures = stats(oauth_only)
    # Renewed when a quarter of the 2 s is left: about every 1.5 s, plus one for the revocation,
    # whatever the number of processes.
    assert 4 <= figures["oauth"]["tokens_issued"] <= 8, figures["oauth"]
    assert figures["responses_by_status"].get("401", 0) <= len(
        clients
    )  # at most each process meets the revocation once
    assert figures["requests_by_auth"].get("api_token", 0) == 0


def test_a_refused_client_is_a_fault_every_process_sees_until_it_is_fixed(oauth_only, monkeypatch):
    monkeypatch.setenv("ZENDESK_OAUTH_CLIENT_SECRET", "not-the-secret")
    monkeypatch.setenv("ZENDESK_BREAKER_RESET_TIMEOUT", "1")
    services.reset()
    with pytest.raises(ZendeskConfigFault, match="invalid_client") as info:
        services.zendesk().get_ticket(1)
    assert "not-the-secret" not in str(info.value)
    assert info.value.needs_operator and info.value.retry_after == 1
    assert services.zendesk_circuit().current_state == pybreaker.STATE_OPEN
    assert "invalid_client" in (services.zendesk_faults().get() or "")
    requested = stats(oauth_only)["oauth"]["token_requests"]
    with pytest.raises(ZendeskConfigFault):  # the breaker answers; Zendesk is not asked again
        another_process().get_ticket(1)
    assert stats(oauth_only)["oauth"]["token_requests"] == requested
    # An operator fixes it (here: the account's client takes this secret); the half-open trial passes.
    sim_config(oauth_only, oauth_client_secret="not-the-secret")
    time.sleep(1.1)
    assert services.zendesk().get_ticket(1).id == 1
    assert services.zendesk_faults().get() is None
    assert services.zendesk_circuit().current_state == pybreaker.STATE_CLOSED


def test_a_write_outside_the_tokens_scope_is_a_fault_naming_the_scope(oauth_only, monkeypatch):
    monkeypatch.setenv("ZENDESK_OAUTH_SCOPE", "read")
    services.reset()
    client = services.zendesk()
    assert client.get_ticket(2).id == 2  # reading is in scope
    with pytest.raises(ZendeskConfigFault, match="403") as info:
        client.update_ticket(2, TicketUpdate(additional_tags=["x"], private_note="n"))
    assert "'read'" in str(info.value)
    assert stats(oauth_only)["tickets_ai_processed"] == 0


def test_an_api_token_on_an_oauth_only_account_is_a_fault_naming_the_deadline(oauth_only):
    client = ZendeskClient(
        oauth_only.base_url, ApiTokenAuth("triage-bot@example.com", "sim-api-token"), faults=services.zendesk_faults()
    )
    with pytest.raises(ZendeskConfigFault, match="2027-04-30"):
        client.get_ticket(1)
    assert "API token was refused" in (services.zendesk_faults().get() or "")


def test_the_token_lives_in_redis_and_its_renewal_is_one_request_for_many_threads(oauth_only):

    settings = services.get_settings()
    store = SharedTokenStore(services.redis_client(), settings.redis.prefix)
    auths = [
        OAuthClientCredentials(
            f"{oauth_only.base_url}/oauth/tokens", "triage-fleet", "sim-oauth-secret", "read write", store, 3600
        )
        for _ in range(4)
    ]
    seen: list[str] = []
    run_side_by_side(lambda a=a: seen.append(a.authorization()) for a in auths for _ in range(10))
    assert len(set(seen)) == 1 and stats(oauth_only)["oauth"]["tokens_issued"] == 1
    stored = store.get()
    assert stored is not None and seen[0] == f"Bearer {stored.value}"
    assert 3500 < stored.expires_at - time.time() <= 3600
