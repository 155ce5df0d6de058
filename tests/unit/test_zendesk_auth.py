"""The OAuth client credentials grant, with a fake token endpoint: one token for every process and
thread, renewed before it expires and after a refusal, and a refused client is nobody's secret."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from app.clients.zendesk_auth import (
    ApiTokenAuth,
    ClientRefused,
    MemoryTokenStore,
    OAuthClientCredentials,
    StoredToken,
    TokenRequestFailed,
)
from tests.conftest import run_side_by_side

SECRET = "s3cr3t-client-secret"


class FakeResponse:
    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self._body = body
        self.headers = headers or {}

    def json(self) -> Any:
        return self._body


class TokenEndpoint:
    """Stands in for POST /oauth/tokens: counts requests, issues numbered tokens, can refuse."""

    def __init__(self, expires_in: int = 3600) -> None:
        self.headers: dict[str, str] = {}
        self.requests: list[dict[str, Any]] = []
        self.expires_in = expires_in
        self.answer: FakeResponse | None = None
        self.delay = 0.0
        self._lock = threading.Lock()

    def post(self, url: str, json: dict[str, Any], timeout: float) -> FakeResponse:
        time.sleep(self.delay)
        with self._lock:
            self.requests.append(json)
            number = len(self.requests)
        if self.answer is not None:
            return self.answer
        return FakeResponse(
            201,
            {
                "access_token": f"token-{number}",
                "token_type": "bearer",
                "scope": json["scope"],
                "expires_in": self.expires_in,
            },
        )


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def oauth(
    endpoint: TokenEndpoint, store: MemoryTokenStore, clock: Clock | None = None, lifetime: int | None = 3600
) -> OAuthClientCredentials:
    return OAuthClientCredentials(
        "https://acme.zendesk.com/oauth/tokens",
        "triage-fleet",
        SECRET,
        "read write",
        store,
        lifetime,
        session=endpoint,
        clock=clock or time.time,
    )  # type: ignore[arg-type]


def test_the_grant_is_the_documented_json_body_and_the_token_a_bearer_header():
    endpoint = TokenEndpoint()
    auth = oauth(endpoint, MemoryTokenStore())
    assert auth.authorization() == "Bearer token-1"
    assert endpoint.requests == [
        {
            "grant_type": "client_credentials",
            "client_id": "triage-fleet",
            "client_secret": SECRET,
            "scope": "read write",
            "expires_in": 3600,
        }
    ]


def test_processes_sharing_a_store_ask_once_and_threads_of_one_process_ask_once():
    endpoint = TokenEndpoint()
    endpoint.delay = 0.05  # long enough for every thread to want a token at once
    store = MemoryTokenStore()
    processes = [oauth(endpoint, store) for _ in range(3)]
    seen: list[str] = []
    run_side_by_side(lambda p=p: seen.append(p.authorization()) for p in processes for _ in range(20))
    assert len(endpoint.requests) == 1 and set(seen) == {"Bearer token-1"}


def test_a_token_is_renewed_once_a_quarter_of_its_life_is_left_not_before():
    endpoint, clock = TokenEndpoint(expires_in=20), Clock()
    store = MemoryTokenStore()
    one, other = oauth(endpoint, store, clock), oauth(endpoint, store, clock)
    assert one.authorization() == other.authorization() == "Bearer token-1"
    clock.now += 14.9  # 5.1 s of 20 left
    assert one.authorization() == "Bearer token-1"
    clock.now += 0.2  # under 5 s left: due
    assert one.authorization() == "Bearer token-2"
    assert other.authorization() == "Bearer token-2"  # found in the store, not asked for again
    assert len(endpoint.requests) == 2


def test_a_refused_token_is_dropped_and_a_stale_refusal_never_drops_the_new_one():
    endpoint = TokenEndpoint()
    store = MemoryTokenStore()
    first, second = oauth(endpoint, store), oauth(endpoint, store)
    old = first.authorization()
    assert second.authorization() == old
    assert first.refused(old) is True  # revoked: dropped
    new = first.authorization()
    assert new == "Bearer token-2"
    # The second process learns of the revocation late, with its own 401 for the old token.
    assert second.refused(old) is True
    assert store.get() is not None and store.get().value == "token-2"
    assert second.authorization() == new and len(endpoint.requests) == 2


def test_a_refused_client_is_a_clear_error_without_its_secret():
    endpoint = TokenEndpoint()
    endpoint.answer = FakeResponse(
        401, {"error": "invalid_client", "error_description": "Client authentication failed"}
    )
    with pytest.raises(ClientRefused) as info:
        oauth(endpoint, MemoryTokenStore()).authorization()
    assert "invalid_client" in str(info.value) and "triage-fleet" in str(info.value)
    assert SECRET not in str(info.value) and SECRET not in repr(oauth(endpoint, MemoryTokenStore()))


@pytest.mark.parametrize("status,retry_after", [(503, None), (429, 7.0)])
def test_a_token_endpoint_that_cannot_answer_now_is_a_wait_not_a_fault(status, retry_after):
    endpoint = TokenEndpoint()
    endpoint.answer = FakeResponse(status, {}, {"Retry-After": "7"} if retry_after else {})
    with pytest.raises(TokenRequestFailed) as info:
        oauth(endpoint, MemoryTokenStore()).authorization()
    assert info.value.retry_after == retry_after


def test_a_renewer_that_died_holding_the_lock_only_delays_the_others():
    endpoint = TokenEndpoint()
    store = MemoryTokenStore()
    store.lock("a process that died", 30)
    auth = OAuthClientCredentials(
        "https://acme.zendesk.com/oauth/tokens", "c", SECRET, "read", store, 3600, timeout=0.1, session=endpoint
    )  # type: ignore[arg-type]
    holder = threading.Timer(0.3, lambda: store.unlock("a process that died"))  # its lock expires
    holder.start()
    assert auth.authorization() == "Bearer token-1"
    holder.join()


def test_an_answer_without_expires_in_is_renewed_on_the_lifetime_asked_for():
    endpoint = TokenEndpoint()
    endpoint.answer = FakeResponse(201, {"access_token": "forever", "token_type": "bearer", "scope": "read"})
    clock = Clock()
    store = MemoryTokenStore()
    oauth(endpoint, store, clock, lifetime=600).authorization()
    token = store.get()
    assert token == StoredToken("forever", clock.now + 600, 600)


def test_api_token_auth_is_basic_email_slash_token_and_cannot_be_renewed():
    auth = ApiTokenAuth("bot@example.com", "tok")
    import base64

    assert auth.authorization() == "Basic " + base64.b64encode(b"bot@example.com/token:tok").decode()
    assert auth.refused(auth.authorization()) is False
    assert "tok" not in repr(auth)
