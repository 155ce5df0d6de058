"""How the Zendesk client proves who it is: an OAuth client's access token, shared by the fleet, or
(until Zendesk turns them off on 2027-04-30) an API token.

Zendesk creates no new API tokens since 2026-10-27 and stops every one on 2027-04-30 ("Migrating
from API tokens to OAuth access tokens", developer.zendesk.com); for background work it names the
client credentials grant: `POST <base>/oauth/tokens` with the client's id and secret answers a bearer
token that expires after `expires_in` seconds and may be revoked at any moment (401).

Written here rather than with requests-oauthlib: that library keeps a token per session and posts
the grant form-encoded, while the fleet needs one token for every process on every host (a token
request per process, or per expiry per process, would multiply with the fleet's size), renewed by
one process under a lock, and Zendesk documents the grant as a JSON body. What is shared lives in a
`TokenStore` (Redis in the fleet: app.fleet.store.SharedTokenStore).

Neither the token nor the secret is ever logged or put in an error message.
"""

from __future__ import annotations

import base64
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import urllib3

log = logging.getLogger(__name__)

TOKEN_PATH = "/oauth/tokens"
# Renew a token once less than this share of its life is left (and at most RENEW_BEFORE seconds
# before it expires): requests still in flight with the old token are not refused for its age.
RENEW_SHARE = 0.25
RENEW_BEFORE = 300.0
# Errors of the token endpoint (RFC 6749 section 5.2) that no retry can fix: the client's id,
# secret, kind, allowed scopes or grant are wrong. An operator must act.
REFUSED_CLIENT_ERRORS = frozenset(
    {
        "invalid_client",
        "unauthorized_client",
        "invalid_scope",
        "invalid_grant",
        "unsupported_grant_type",
        "invalid_request",
        "access_denied",
    }
)


class TokenRequestFailed(Exception):
    """The token endpoint could not answer now (5xx, timeout, 429): the request that needed a
    token fails as Zendesk being unavailable, and is tried again later."""

    def __init__(self, message: str, retry_after: float | None = None, reached: bool = True) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.reached = reached


class ClientRefused(Exception):
    """The token endpoint refused the OAuth client itself: a configuration fault."""


@dataclass(frozen=True)
class StoredToken:
    """An access token as the fleet keeps it: its value, and when it expires (epoch seconds)."""

    value: str
    expires_at: float
    lifetime: float

    def due(self, now: float) -> bool:
        """Time to renew: less than a quarter of its life (at most five minutes) is left."""
        return now >= self.expires_at - min(RENEW_BEFORE, self.lifetime * RENEW_SHARE)


class TokenStore(Protocol):
    """Where the fleet's one token lives, and the lock its renewer holds."""

    def get(self) -> StoredToken | None: ...

    def put(self, token: StoredToken) -> None: ...

    def discard(self, value: str) -> None:
        """Forget the token, but only if it is still `value` (a newer one stays)."""

    def lock(self, holder: str, seconds: float) -> bool: ...

    def unlock(self, holder: str) -> None: ...


class MemoryTokenStore:
    """A token store for one process (commands a person runs without the fleet's Redis, tests)."""

    def __init__(self) -> None:
        self._token: StoredToken | None = None
        self._holder: str | None = None
        self._lock = threading.Lock()

    def get(self) -> StoredToken | None:
        return self._token

    def put(self, token: StoredToken) -> None:
        self._token = token

    def discard(self, value: str) -> None:
        if self._token is not None and self._token.value == value:
            self._token = None

    def lock(self, holder: str, seconds: float) -> bool:
        with self._lock:
            if self._holder is None:
                self._holder = holder
                return True
            return False

    def unlock(self, holder: str) -> None:
        with self._lock:
            if self._holder == holder:
                self._holder = None


class ZendeskAuth(Protocol):
    """The credential the client sends. `kind` is "oauth" or "api_token" (health and logs say it)."""

    kind: str

    def authorization(self) -> str:
        """The Authorization header for the next request."""

    def refused(self, authorization: str) -> bool:
        """A request sent with `authorization` was answered 401. True when another credential may
        pass (a token that expired or was revoked, now dropped); False when nothing can change
        until an operator does."""


class ApiTokenAuth:
    """`{email}/token:{api_token}` Basic auth. Works until 2027-04-30 on accounts that still have a
    token; a 401 means the token was turned off or deleted."""

    kind = "api_token"

    def __init__(self, email: str, api_token: str) -> None:
        raw = f"{email}/token:{api_token}".encode()
        self._header = "Basic " + base64.b64encode(raw).decode("ascii")

    def authorization(self) -> str:
        return self._header

    def refused(self, authorization: str) -> bool:
        return False

    def __repr__(self) -> str:
        return "ApiTokenAuth(<hidden>)"


def origin(url: str) -> str:
    """scheme://host[:port] of a URL: where a request went, without path, query or credentials."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")


def connection_failure(url: str, error: requests.ConnectionError) -> str:
    """`cannot connect to https://acme.zendesk.com (its host name does not resolve)`: the host a
    request could not reach, and why in words, so a wrong ZENDESK_URL or ZENDESK_SUBDOMAIN shows."""
    reason = getattr(error.args[0], "reason", None) if error.args else None
    if isinstance(reason, urllib3.exceptions.NameResolutionError):
        why = "its host name does not resolve"
    elif isinstance(reason, urllib3.exceptions.NewConnectionError):
        why = str(reason).rpartition("] ")[2].lower() or "no connection"
    elif isinstance(error, requests.exceptions.SSLError):
        why = "the TLS handshake failed"
    else:
        why = "the connection broke"
    return f"cannot connect to {origin(url)} ({why})"


def json_session(session: requests.Session | None = None) -> requests.Session:
    """`session` (a new one if None) asking for JSON and naming the fleet, as every Zendesk call does."""
    session = session or requests.Session()
    session.headers.update({"Accept": "application/json", "User-Agent": "triage-fleet"})
    return session


@dataclass(eq=False)
class OAuthClientCredentials:
    """A bearer token from the client credentials grant, one for the whole fleet.

    Each process keeps the token it last used; when it is due for renewal (or refused) the process
    looks in the store, where another process may already have put a newer one, and only if there
    is none renews it itself, holding the store's lock so that one process asks Zendesk while the
    rest wait for its answer. The threads of a process take turns in the same way.
    """

    kind = "oauth"

    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str
    store: TokenStore
    lifetime: int | None = None
    timeout: float = 30.0
    # A session of its own: the API session's Authorization header must never reach the token
    # endpoint, nor the grant's secret the API.
    session: requests.Session = field(default_factory=json_session)
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    tokens_requested: int = field(default=0, init=False)  # by this process (tests and benchmarks read it)
    _local: StoredToken | None = field(default=None, init=False, repr=False)
    _turn: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        json_session(self.session)  # a session handed in asks for JSON too

    def __repr__(self) -> str:
        return f"OAuthClientCredentials(client_id={self.client_id!r}, scope={self.scope!r}, secret=<hidden>)"

    def authorization(self) -> str:
        return f"Bearer {self._token().value}"

    def refused(self, authorization: str) -> bool:
        value = authorization.removeprefix("Bearer ")
        with self._turn:
            if self._local is not None and self._local.value == value:
                self._local = None
            self.store.discard(value)
        return True

    def _token(self) -> StoredToken:
        now = self.clock()
        local = self._local
        if local is not None and not local.due(now):
            return local
        with self._turn:
            local = self._local
            if local is not None and not local.due(self.clock()):
                return local  # another thread of this process renewed it meanwhile
            self._local = self._shared_or_new(stale=local.value if local else None)
            return self._local

    def _shared_or_new(self, stale: str | None) -> StoredToken:
        """The store's token when it is fresh (and not the one just found stale), else a new one
        asked for under the store's lock; a process that does not get the lock waits for the one
        that did."""
        holder = secrets.token_hex(8)
        lock_seconds = self.timeout + 5.0
        deadline = self.clock() + lock_seconds
        while True:
            shared = self.store.get()
            if shared is not None and shared.value != stale and not shared.due(self.clock()):
                return shared
            if self.store.lock(holder, lock_seconds):
                try:
                    shared = self.store.get()  # renewed between our look and our lock?
                    if shared is not None and shared.value != stale and not shared.due(self.clock()):
                        return shared
                    token = self._request_token()
                    self.store.put(token)
                    return token
                finally:
                    self.store.unlock(holder)
            if self.clock() > deadline:
                # The holder died without unlocking; its lock expires by itself, so try again.
                deadline = self.clock() + lock_seconds
            self.sleep(0.05)

    def _request_token(self) -> StoredToken:
        """POST the client credentials grant; a StoredToken, ClientRefused or TokenRequestFailed."""
        body: dict[str, Any] = {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "scope": self.scope,
        }
        if self.lifetime is not None:
            body["expires_in"] = self.lifetime
        self.tokens_requested += 1
        try:
            response = self.session.post(self.token_url, json=body, timeout=self.timeout)
        except requests.ConnectTimeout as e:
            raise TokenRequestFailed(
                f"cannot connect to {origin(self.token_url)} (no answer within {self.timeout}s) on POST {TOKEN_PATH}",
                reached=False,
            ) from e
        except requests.Timeout as e:
            raise TokenRequestFailed(
                f"timeout after {self.timeout}s on POST {TOKEN_PATH} at {origin(self.token_url)}"
            ) from e
        except requests.ConnectionError as e:
            raise TokenRequestFailed(f"{connection_failure(self.token_url, e)} on POST {TOKEN_PATH}") from e
        answer = _json(response)
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = _seconds(response.headers.get("Retry-After"))
            raise TokenRequestFailed(f"POST {TOKEN_PATH}: HTTP {response.status_code}", retry_after)
        error = str(answer.get("error") or "")
        if response.status_code >= 400 or error:
            reason = f"HTTP {response.status_code} {error}".strip()
            description = answer.get("error_description") or answer.get("description")
            if description:
                reason += f": {str(description)[:200]}"
            raise ClientRefused(f"the OAuth client {self.client_id!r} was refused ({reason})")
        value = answer.get("access_token")
        if not isinstance(value, str) or not value:
            raise TokenRequestFailed(f"POST {TOKEN_PATH}: an answer without access_token")
        lifetime = _seconds(answer.get("expires_in"))
        if lifetime is None:  # no expiry given: renew as if it had the lifetime asked for, or a day
            lifetime = float(self.lifetime or 24 * 3600)
        log.info(
            "Zendesk OAuth: new access token for client %s, scope %r, expires in %.0fs",
            self.client_id,
            answer.get("scope") or self.scope,
            lifetime,
        )
        return StoredToken(value=value, expires_at=self.clock() + lifetime, lifetime=lifetime)


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _seconds(value: object) -> float | None:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0 else None
