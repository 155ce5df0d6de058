"""OAuth in the Zendesk simulator: the client credentials grant at /oauth/tokens, bearer tokens,
their scopes, expiry and revocation, and the end of API tokens."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import requests

from sim.common import SimConfigError
from sim.zendesk import SimConfig, oauth, parse_args, running_simulator

EMAIL, API_TOKEN = "triage-bot@example.com", "sim-api-token"
CLIENT_ID, CLIENT_SECRET = "triage-fleet", "sim-oauth-secret"
INVALID_TOKEN = {
    "error": "invalid_token",
    "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons.",
}
INVALID_CLIENT = {
    "error": "invalid_client",
    "error_description": "Client authentication failed due to unknown client, no client "
    "authentication included, or unsupported authentication method.",
}
FORBIDDEN = {
    "error": "Forbidden",
    "description": "You do not have access to this page. Please contact the account owner of this "
    "help desk for further help.",
}


def grant(sim, **overrides) -> requests.Response:
    body = {
        "grant_type": "client_credentials",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scope": "read write",
        **overrides,
    }
    return requests.post(f"{sim.base_url}/oauth/tokens", json={k: v for k, v in body.items() if v is not None})


def token(sim, scope="read write", **overrides) -> str:
    response = grant(sim, scope=scope, **overrides)
    assert response.status_code == 201, response.text
    return response.json()["access_token"]


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


def get(sim, path: str, value: str) -> requests.Response:
    return requests.get(f"{sim.base_url}{path}", headers=bearer(value))


def put_ticket(sim, value: str, ticket_id: int = 1) -> requests.Response:
    return requests.put(
        f"{sim.base_url}/api/v2/tickets/{ticket_id}.json",
        headers=bearer(value),
        json={"ticket": {"additional_tags": ["seen"]}},
    )


def stats(sim) -> dict:
    return requests.get(f"{sim.base_url}/_sim/stats").json()


def set_config(sim, **settings) -> requests.Response:
    return requests.post(f"{sim.base_url}/_sim/config", json=settings)


@pytest.fixture
def sim():
    with running_simulator(tickets=5, seed=3, job_delay_ms=0, job_item_ms=0) as simulator:
        yield simulator


def test_the_grant_answers_a_bearer_token_that_passes(sim):
    response = grant(sim)
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"access_token", "token_type", "scope", "expires_in"}  # no refresh token
    assert body["token_type"] == "bearer" and body["scope"] == "read write"
    assert body["expires_in"] == 1800  # the default TTL of clients made since 2026-04-30
    assert response.headers["Cache-Control"] == "no-store"
    assert get(sim, "/api/v2/tickets/1.json", body["access_token"]).status_code == 200
    assert put_ticket(sim, body["access_token"]).status_code == 200
    figures = stats(sim)
    assert figures["oauth"] == {
        "token_requests": 1,
        "tokens_issued": 1,
        "token_refusals": {},
        "tokens_revoked": 0,
        "tokens_live": 1,
    }
    assert figures["requests_by_auth"] == {"bearer": 2, "api_token": 0, "refused": 0}
    # The token endpoint is no /api/v2 request; the documented keys stay as they were.
    assert figures["requests_total"] == 2
    assert {
        "tickets_total",
        "tickets_ai_processed",
        "max_ai_notes_per_ticket",
        "requests_total",
        "responses_429",
    } <= set(figures)


def test_malformed_token_requests_are_refused(sim):
    url = f"{sim.base_url}/oauth/tokens"
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scope": "read"}
    refused = [
        requests.post(url, data=form),  # form-encoded: the docs want JSON
        requests.post(url, data="[1]", headers={"Content-Type": "application/json"}),
        requests.post(url, data="{not json", headers={"Content-Type": "application/json"}),
    ]
    for response in refused:
        assert response.status_code == 400 and response.json()["error"] == "invalid_request", response.text
    unsupported = grant(sim, grant_type="password")
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    assert grant(sim, grant_type=None).json()["error"] == "unsupported_grant_type"
    for wrong in ({"client_secret": "nope"}, {"client_id": "other"}, {"client_secret": None}):
        answer = grant(sim, **wrong)
        assert answer.status_code == 401 and answer.json() == INVALID_CLIENT
    for expires_in in (300, 172_800, "3600", True, 3600.5, -1):
        answer = grant(sim, expires_in=expires_in)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_request", expires_in
    assert grant(sim, expires_in=301).json()["expires_in"] == 301
    assert grant(sim, expires_in=172_799).json()["expires_in"] == 172_799
    for scope in (None, ""):
        assert grant(sim, scope=scope).json()["error"] == "invalid_scope"
    assert stats(sim)["oauth"]["token_refusals"] == {
        "invalid_request": 9,
        "unsupported_grant_type": 2,
        "invalid_client": 3,
        "invalid_scope": 2,
    }


def test_the_clients_allowed_scopes_bound_what_a_token_may_ask():
    with running_simulator(tickets=1, oauth_allowed_scopes="tickets:read tickets:write") as sim:
        assert grant(sim, scope="read").json()["error"] == "invalid_scope"
        assert grant(sim, scope="tickets:read users:read").status_code == 400
        assert grant(sim, scope="tickets:read").json()["scope"] == "tickets:read"
    with running_simulator(tickets=1) as sim:  # "read write" allows every resource scope of its kind
        assert grant(sim, scope="tickets:write  users:read").json()["scope"] == "tickets:write users:read"
        assert grant(sim, scope="impersonate").json()["error"] == "invalid_scope"
    with pytest.raises(SimConfigError, match="oauth_allowed_scopes"):
        SimConfig(oauth_allowed_scopes="read tickets:delete")


def test_an_invalid_scope_still_gets_a_token_that_is_forbidden_everywhere(sim):
    # "The endpoint can return an access token even if you specify an invalid scope such as
    # "scope": ["read","write"]. Any request you make with the token will return a Forbidden error."
    for scope in (["read", "write"], "read bogus:read", "tickets:delete"):
        value = token(sim, scope=scope)
        for response in (
            get(sim, "/api/v2/tickets/1.json", value),
            get(sim, "/api/v2/users/me.json", value),
            put_ticket(sim, value),
        ):
            assert response.status_code == 403 and response.json() == FORBIDDEN, scope


def test_scopes_reach_endpoints_by_resource_and_method(sim):
    def status(value: str, method: str, path: str, **json) -> int:
        return requests.request(method, f"{sim.base_url}{path}", headers=bearer(value), json=json or None).status_code

    tickets_read = token(sim, scope="tickets:read")
    assert status(tickets_read, "GET", "/api/v2/tickets/1.json") == 200
    assert status(tickets_read, "GET", "/api/v2/tickets/1/audits.json") == 200
    assert status(tickets_read, "PUT", "/api/v2/tickets/1.json", ticket={"priority": "low"}) == 403
    assert status(tickets_read, "GET", "/api/v2/search.json?query=type:ticket") == 403  # broad read only
    assert status(tickets_read, "GET", "/api/v2/users/me.json") == 403
    tickets_write = token(sim, scope="tickets:write")
    assert status(tickets_write, "PUT", "/api/v2/tickets/1.json", ticket={"priority": "low"}) == 200
    assert status(tickets_write, "GET", "/api/v2/tickets/1.json") == 403  # write does not imply read
    broad_read = token(sim, scope="read")
    assert status(broad_read, "GET", "/api/v2/search.json?query=type:ticket") == 200
    assert status(broad_read, "GET", "/api/v2/incremental/tickets/cursor.json?start_time=0") == 200
    assert status(broad_read, "PUT", "/api/v2/tickets/1.json", ticket={"priority": "low"}) == 403
    broad_write = token(sim, scope="write")
    assert status(broad_write, "PUT", "/api/v2/tickets/1.json", ticket={"priority": "low"}) == 200
    assert status(broad_write, "GET", "/api/v2/tickets/1.json") == 403
    fleet = token(sim, scope="read tickets:write")
    job = requests.put(
        f"{sim.base_url}/api/v2/tickets/update_many.json",
        headers=bearer(fleet),
        json={"tickets": [{"id": 1, "additional_tags": ["x"]}]},
    ).json()["job_status"]
    assert status(fleet, "GET", f"/api/v2/job_statuses/{job['id']}.json") == 200
    admin = token(sim, scope="triggers:read webhooks:write users:read")
    assert status(admin, "GET", "/api/v2/triggers.json") == 200
    assert status(admin, "GET", "/api/v2/trigger_categories") == 200
    assert status(admin, "GET", "/api/v2/users/me.json") == 200
    assert status(admin, "GET", "/api/v2/webhooks") == 403
    assert status(admin, "POST", "/api/v2/webhooks", webhook={"name": "x"}) == 400  # past auth: validation
    assert status(admin, "POST", "/api/v2/triggers.json", trigger={}) == 403


def test_unknown_expired_and_revoked_tokens_are_401_invalid_token(sim):
    assert get(sim, "/api/v2/tickets/1.json", "no-such-token").json() == INVALID_TOKEN
    assert set_config(sim, token_ttl=1).status_code == 200
    short = grant(sim, expires_in=3600).json()
    assert short["expires_in"] == 1  # capped, whatever was asked
    assert get(sim, "/api/v2/tickets/1.json", short["access_token"]).status_code == 200
    time.sleep(1.1)
    expired = get(sim, "/api/v2/tickets/1.json", short["access_token"])
    assert expired.status_code == 401 and expired.json() == INVALID_TOKEN
    assert set_config(sim, token_ttl=0).status_code == 200

    kept, revoked = token(sim), token(sim)
    for path in ("/api/v2/oauth/tokens/current.json", "/api/v2/oauth/tokens/current"):
        value = revoked if path.endswith("json") else token(sim)
        answer = requests.delete(f"{sim.base_url}{path}", headers=bearer(value))
        assert answer.status_code == 204 and answer.content == b""
        assert get(sim, "/api/v2/tickets/1.json", value).json() == INVALID_TOKEN
    assert get(sim, "/api/v2/tickets/1.json", kept).status_code == 200
    # Revoking needs the broad write scope; an API token has no OAuth token to revoke.
    assert (
        requests.delete(
            f"{sim.base_url}/api/v2/oauth/tokens/current.json", headers=bearer(token(sim, scope="read"))
        ).status_code
        == 403
    )
    assert (
        requests.delete(
            f"{sim.base_url}/api/v2/oauth/tokens/current.json", auth=(f"{EMAIL}/token", API_TOKEN)
        ).status_code
        == 404
    )

    live = stats(sim)["oauth"]["tokens_live"]
    assert requests.post(f"{sim.base_url}/_sim/oauth/revoke").json() == {"revoked": live}
    assert get(sim, "/api/v2/tickets/1.json", kept).json() == INVALID_TOKEN
    figures = stats(sim)["oauth"]
    assert figures["tokens_live"] == 0 and figures["tokens_revoked"] == 2 + live
    assert stats(sim)["requests_by_auth"]["refused"] == 5


def test_every_token_is_revoked_once_revoke_tokens_after_seconds():
    with running_simulator(tickets=1, revoke_tokens_after=0.6) as sim:
        value = token(sim)
        assert get(sim, "/api/v2/tickets/1.json", value).status_code == 200
        time.sleep(0.9)
        assert get(sim, "/api/v2/tickets/1.json", value).json() == INVALID_TOKEN
        assert get(sim, "/api/v2/tickets/1.json", token(sim)).status_code == 200  # once only
        assert stats(sim)["oauth"]["tokens_revoked"] == 1


def test_api_tokens_are_refused_in_oauth_mode_and_from_2027_04_30(sim, monkeypatch):
    basic = (f"{EMAIL}/token", API_TOKEN)
    url = f"{sim.base_url}/api/v2/tickets/1.json"
    assert requests.get(url, auth=basic).status_code == 200
    assert set_config(sim, auth="oauth").status_code == 200
    refused = requests.get(url, auth=basic)
    assert refused.status_code == 401 and refused.json() == {"error": "Couldn't authenticate you"}
    assert get(sim, "/api/v2/tickets/1.json", token(sim)).status_code == 200
    assert set_config(sim, auth="tokens").status_code == 400
    assert set_config(sim, auth="both").status_code == 200
    assert requests.get(url, auth=basic).status_code == 200

    assert oauth.API_TOKENS_END_EPOCH == datetime(2027, 4, 30, tzinfo=UTC).timestamp()
    monkeypatch.setattr(oauth, "API_TOKENS_END_EPOCH", time.time() - 1)  # the day has come
    assert requests.get(url, auth=basic).status_code == 401
    assert get(sim, "/api/v2/tickets/1.json", token(sim)).status_code == 200
    # Carrying an API token counts as api_token, accepted or not; a password login is refused.
    assert requests.get(url, auth=(EMAIL, API_TOKEN)).status_code == 401
    assert stats(sim)["requests_by_auth"] == {"api_token": 4, "bearer": 2, "refused": 1}

    with running_simulator(tickets=1, auth="oauth") as strict:
        assert requests.get(f"{strict.base_url}/api/v2/tickets/1.json", auth=basic).status_code == 401
    with pytest.raises(SimConfigError, match="auth"):
        SimConfig(auth="tokens")
    with pytest.raises(SystemExit):
        parse_args(["--auth", "tokens"])
    assert parse_args(["--auth", "oauth", "--token-ttl", "2.5"]).token_ttl == 2.5


def test_the_client_secret_rotates_at_run_time_and_is_never_shown(sim):
    view = requests.get(f"{sim.base_url}/_sim/config").json()
    assert "oauth_client_secret" not in view and "token" not in view
    assert view["auth"] == "both" and view["oauth_client_id"] == CLIENT_ID and view["token_ttl"] == 0
    before = token(sim)
    answer = set_config(sim, oauth_client_secret="rotated-secret")
    assert answer.status_code == 200 and "oauth_client_secret" not in answer.json()
    assert grant(sim).json() == INVALID_CLIENT
    assert grant(sim, client_secret="rotated-secret").status_code == 201
    assert get(sim, "/api/v2/tickets/1.json", before).status_code == 200  # issued tokens stay valid
    for bad in ({"oauth_client_secret": ""}, {"oauth_client_secret": 5}, {"token_ttl": -1}):
        assert set_config(sim, **bad).status_code == 400, bad


def test_token_requests_count_against_the_account_rate_limit():
    with running_simulator(tickets=1, rate_limit=2, rate_window=30) as sim:
        assert grant(sim).status_code == 201
        first = grant(sim)
        assert first.status_code == 201 and first.headers["X-Rate-Limit-Remaining"] == "0"
        limited = grant(sim)
        assert limited.status_code == 429 and 1 <= int(limited.headers["Retry-After"]) <= 30
        assert get(sim, "/api/v2/tickets/1.json", first.json()["access_token"]).status_code == 429
        assert stats(sim)["oauth"]["token_refusals"] == {"TooManyRequests": 1}
        assert stats(sim)["oauth"]["token_requests"] == 3


def test_an_outage_reaches_the_token_endpoint_too():
    with running_simulator(tickets=1, outage_seconds=30) as sim:
        down = grant(sim)
        assert down.status_code == 503 and int(down.headers["Retry-After"]) >= 1
