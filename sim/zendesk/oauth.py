"""OAuth in the Zendesk simulator: the client credentials grant, bearer tokens, scopes, revocation.

https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/ (the grant, its
JSON body, ``expires_in`` bounds, scopes and the 403 outside them),
https://developer.zendesk.com/api-reference/ticketing/oauth/oauth_tokens/ (revoking the current
token, 204) and
https://developer.zendesk.com/documentation/api-basics/authentication/oauth-migration/ (API
tokens stop working on 2027-04-30). ``TokenRegistry`` holds the tokens and their figures;
``identify`` and ``require_access`` decide, for the middleware in ``sim.zendesk.app``, who a
request is and whether its token's scopes reach the endpoint.
"""

from __future__ import annotations

import hmac
import math
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import BasicAuth, web

from sim.common import STATE_KEY, ApiError
from sim.zendesk.wire import TRIGGER_ENDPOINTS, WEBHOOK_ENDPOINTS

if TYPE_CHECKING:
    from sim.zendesk.config import SimConfig

# https://developer.zendesk.com/documentation/api-basics/authentication/oauth-migration/
# ("Zendesk API tokens will be permanently deactivated on April 30, 2027"); the day starts at
# midnight UTC here, the earliest reading. Read at call time, so tests can move it.
API_TOKENS_END_EPOCH = datetime(2027, 4, 30, tzinfo=UTC).timestamp()

# https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/ ("Must be more
# than 300 seconds (5 minutes) and less than 172,800 seconds (2 days)").
MIN_EXPIRES_IN, MAX_EXPIRES_IN = 300, 172_800
# https://support.zendesk.com/hc/en-us/articles/9182123625370 (clients created after
# 2026-04-30 have a default TTL enforced); 30 minutes is the default reported for it.
DEFAULT_TOKEN_SECONDS = 1800

# https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/ (broad scopes
# and resource scopes) and .../oauth_tokens/ (the further resources); auditlogs is read only.
BROAD_SCOPES = ("read", "write", "impersonate")
SCOPE_RESOURCES = {
    "tickets": ("read", "write"),
    "users": ("read", "write"),
    "auditlogs": ("read",),
    "organizations": ("read", "write"),
    "hc": ("read", "write"),
    "apps": ("read", "write"),
    "triggers": ("read", "write"),
    "automations": ("read", "write"),
    "targets": ("read", "write"),
    "webhooks": ("read", "write"),
    "macros": ("read", "write"),
    "requests": ("read", "write"),
    "satisfaction_ratings": ("read", "write"),
    "dynamic_content": ("read", "write"),
}

# The resource scope that reaches each endpoint (the route names of sim.zendesk.app), from the
# resources https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/ lists.
# The docs map no endpoint to a scope; these follow the resource each endpoint is about.
ENDPOINT_RESOURCES = {
    **dict.fromkeys(
        ("ticket_get", "ticket_update", "ticket_delete", "show_many", "update_many", "comments", "audits", "tags"),
        "tickets",
    ),
    "users_me": "users",
    **dict.fromkeys(TRIGGER_ENDPOINTS, "triggers"),
    **dict.fromkeys(WEBHOOK_ENDPOINTS, "webhooks"),
}
# Search, the search export, job statuses, the incremental export and revoking the current token
# are not named under any resource scope (docs silent: less forgiving reading): only the broad
# read (or write) scope reaches them.

# RFC 6749 section 5.2's shape and wording: Zendesk's docs are silent on the token endpoint's errors.
INVALID_CLIENT = {
    "error": "invalid_client",
    "error_description": "Client authentication failed due to unknown client, no client "
    "authentication included, or unsupported authentication method.",
}
# Observed on real Zendesk (https://github.com/zendesk/zendesk_api_client_rb/issues/297); the
# docs are silent on the body.
INVALID_TOKEN = {
    "error": "invalid_token",
    "error_description": "The access token provided is expired, revoked, malformed or invalid for other reasons.",
}
NOT_AUTHENTICATED = {"error": "Couldn't authenticate you"}
# The grant's page says only "a Forbidden error"; this is Zendesk's usual 403 body.
FORBIDDEN = {
    "error": "Forbidden",
    "description": "You do not have access to this page. Please contact the account owner of "
    "this help desk for further help.",
}


def valid_scope(word: str) -> bool:
    """Whether ``word`` names a scope Zendesk knows (read, tickets:write ...)."""
    if word in BROAD_SCOPES:
        return True
    resource, _, access = word.partition(":")
    return access in SCOPE_RESOURCES.get(resource, ())


def scope_allowed(word: str, allowed: set[str]) -> bool:
    """Whether a client whose "Allowed scopes" are ``allowed`` may be granted ``word``.

    The broad read and write allow every resource scope of their kind.
    """
    if word in allowed:
        return True
    _, _, access = word.partition(":")
    return access in ("read", "write") and access in allowed


def api_tokens_accepted(config: SimConfig) -> bool:
    """API tokens pass only in ``both`` mode and only before Zendesk turns them all off."""
    return config.auth == "both" and time.time() < API_TOKENS_END_EPOCH


def oauth_error(status: int, error: str, description: str) -> ApiError:
    """An RFC 6749 section 5.2 error of the token endpoint (Zendesk documents none)."""
    return ApiError(status, {"error": error, "error_description": description})


# --- Tokens ----------------------------------------------------------------------------------


@dataclass
class AccessToken:
    """One issued access token; ``expires_at`` is on the monotonic clock."""

    value: str
    scopes: frozenset[str]
    scopes_valid: bool  # False: asked for a scope Zendesk does not know, every request is a 403
    expires_at: float
    revoked: bool = False

    def live(self, now: float) -> bool:
        return not self.revoked and now < self.expires_at

    def permits(self, method: str, endpoint: str | None) -> bool:
        """Whether the token's scopes reach ``endpoint`` for ``method``.

        Write does not imply read: the docs list them as separate scopes (docs silent: less
        forgiving reading).
        """
        if not self.scopes_valid:
            return False
        # https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/ ("read":
        # GET endpoints; "write": POST, PUT and DELETE endpoints; PATCH writes too).
        access = "read" if method in ("GET", "HEAD") else "write"
        if access in self.scopes:
            return True
        resource = ENDPOINT_RESOURCES.get(endpoint or "")
        return resource is not None and f"{resource}:{access}" in self.scopes


class TokenRegistry:
    """Every token issued since start, and the figures of /_sim/stats' ``oauth`` and
    ``requests_by_auth``."""

    def __init__(self) -> None:
        self.tokens: dict[str, AccessToken] = {}
        self.token_requests = 0
        self.tokens_issued = 0
        self.tokens_revoked = 0
        self.token_refusals: Counter[str] = Counter()
        self.requests_by_auth: Counter[str] = Counter({"bearer": 0, "api_token": 0, "refused": 0})

    def issue(self, scopes: frozenset[str], scopes_valid: bool, lifetime: float) -> AccessToken:
        token = AccessToken(secrets.token_urlsafe(32), scopes, scopes_valid, time.monotonic() + lifetime)
        self.tokens[token.value] = token
        self.tokens_issued += 1
        return token

    def live_token(self, value: str) -> AccessToken | None:
        token = self.tokens.get(value)
        return token if token is not None and token.live(time.monotonic()) else None

    def revoke(self, token: AccessToken) -> None:
        if not token.revoked:
            token.revoked = True
            self.tokens_revoked += 1

    def revoke_all(self) -> int:
        """Revoke every live token; how many there were."""
        now = time.monotonic()
        live = [token for token in self.tokens.values() if token.live(now)]
        for token in live:
            self.revoke(token)
        return len(live)

    def stats(self) -> dict:
        now = time.monotonic()
        return {
            "token_requests": self.token_requests,
            "tokens_issued": self.tokens_issued,
            "token_refusals": dict(self.token_refusals),
            "tokens_revoked": self.tokens_revoked,
            "tokens_live": sum(token.live(now) for token in self.tokens.values()),
        }


# --- Who a request is -----------------------------------------------------------------------------

# The token a request carried, for DELETE /api/v2/oauth/tokens/current (set by the middleware).
TOKEN_KEY = web.RequestKey("oauth_token", object)


@dataclass
class Identity:
    """What a request's Authorization header proved: ``kind`` is bearer, api_token or refused."""

    kind: str
    token: AccessToken | None = None
    refusal: ApiError | None = None  # the 401 to answer, None when the credentials pass


def _api_token_matches(credentials: BasicAuth, config: SimConfig) -> bool:
    # Constant-time comparison of bytes (compare_digest refuses non-ASCII str).
    return hmac.compare_digest(credentials.login.encode(), f"{config.email}/token".encode()) and hmac.compare_digest(
        credentials.password.encode(), config.token.encode()
    )


def identify(header: str, config: SimConfig, registry: TokenRegistry) -> Identity:
    """Classify a request's credentials, counting it in ``requests_by_auth``.

    A request that carried an API token counts as api_token whether it passes or not.
    """
    scheme, _, value = header.partition(" ")
    identity: Identity
    if scheme.lower() == "bearer":
        token = registry.live_token(value.strip())
        identity = (
            Identity("bearer", token)
            if token is not None
            else Identity("refused", refusal=ApiError(401, dict(INVALID_TOKEN)))
        )
    else:
        try:
            credentials = BasicAuth.decode(header)
        except ValueError:
            credentials = None
        refusal = ApiError(401, dict(NOT_AUTHENTICATED), {"WWW-Authenticate": 'Basic realm="Web Password"'})
        if credentials is not None and credentials.login.endswith("/token"):
            passes = _api_token_matches(credentials, config) and api_tokens_accepted(config)
            identity = Identity("api_token", refusal=None if passes else refusal)
        else:
            identity = Identity("refused", refusal=refusal)
    registry.requests_by_auth[identity.kind] += 1
    return identity


def require_access(identity: Identity, method: str, endpoint: str | None) -> None:
    """Raise the 401 of credentials that do not pass, or the 403 of a token whose scopes do not
    reach the endpoint (an API token acts as the admin it belongs to: no scopes)."""
    if identity.refusal is not None:
        raise identity.refusal
    token = identity.token
    # Routing errors (endpoint None) answer their own 404/405 after authentication.
    if token is not None and endpoint is not None and not token.permits(method, endpoint):
        raise ApiError(403, dict(FORBIDDEN))


# --- POST /oauth/tokens --------------------------------------------------------------------------


async def _grant_body(request: web.Request) -> dict:
    """The grant's body: "must be formatted as JSON"
    (https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/). A
    form-encoded body is refused like any other that is not JSON (docs silent: less forgiving
    reading)."""
    if request.content_type != "application/json":
        raise oauth_error(400, "invalid_request", "The request body must be JSON (Content-Type: application/json)")
    try:
        body = await request.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        body = None
    if not isinstance(body, dict):
        raise oauth_error(400, "invalid_request", "The request body must be a JSON object")
    return body


def _client_matches(body: dict, config: SimConfig) -> bool:
    client_id, secret = body.get("client_id"), body.get("client_secret")
    if not isinstance(client_id, str) or not isinstance(secret, str):
        return False
    # Both compared, always, so timing tells nothing about which one was wrong.
    id_ok = hmac.compare_digest(client_id.encode(), config.oauth_client_id.encode())
    secret_ok = hmac.compare_digest(secret.encode(), config.oauth_client_secret.encode())
    return id_ok and secret_ok


def _lifetime(body: dict, config: SimConfig) -> float:
    """Seconds the token lives: expires_in (checked), 1,800 without it, capped at token_ttl."""
    lifetime: float = DEFAULT_TOKEN_SECONDS
    if "expires_in" in body:
        asked = body["expires_in"]
        # An integer, strictly between the bounds; a numeric string is no integer (docs silent:
        # less forgiving reading).
        if isinstance(asked, bool) or not isinstance(asked, int) or not MIN_EXPIRES_IN < asked < MAX_EXPIRES_IN:
            raise oauth_error(
                400,
                "invalid_request",
                f"expires_in must be an integer more than {MIN_EXPIRES_IN} and less than {MAX_EXPIRES_IN} seconds",
            )
        lifetime = asked
    if config.token_ttl > 0:
        lifetime = min(lifetime, config.token_ttl)
    return lifetime


def _granted_scopes(body: dict, config: SimConfig) -> tuple[Any, frozenset[str], bool]:
    """(the scope as answered, the scope words, whether every word is a real scope)."""
    if "scope" not in body or body["scope"] in ("", None):
        # RFC 6749 section 3.3: a server without a default scope fails the request; Zendesk's
        # docs name no default (docs silent: less forgiving reading).
        raise oauth_error(400, "invalid_scope", "scope is required: a space-separated string")
    scope = body["scope"]
    if not isinstance(scope, str):
        # "The endpoint can return an access token even if you specify an invalid scope such as
        # "scope": ["read","write"]. Any request you make with the token will return a Forbidden error."
        return scope, frozenset(), False
    words = frozenset(scope.split())
    allowed = set(config.oauth_allowed_scopes.split())
    outside = sorted(word for word in words if valid_scope(word) and not scope_allowed(word, allowed))
    if outside:
        raise oauth_error(400, "invalid_scope", f"The client is not allowed the scope {' '.join(outside)}")
    return " ".join(scope.split()), words, all(valid_scope(word) for word in words)


async def _issue(request: web.Request, config: SimConfig, registry: TokenRegistry) -> web.Response:
    body = await _grant_body(request)
    if body.get("grant_type") != "client_credentials":
        # The simulator's client is confidential and the fleet a background job: the only grant.
        raise oauth_error(400, "unsupported_grant_type", "Only the client_credentials grant type is supported")
    if not _client_matches(body, config):
        raise ApiError(401, dict(INVALID_CLIENT))
    lifetime = _lifetime(body, config)
    scope, words, valid = _granted_scopes(body, config)
    token = registry.issue(words, valid, lifetime)
    # RFC 6749 section 5.1: token answers are never cached. No refresh token: "does not return
    # a refresh token" for this grant.
    return web.json_response(
        {
            "access_token": token.value,
            "token_type": "bearer",
            "scope": scope,
            "expires_in": math.floor(lifetime),
        },  # never more than it really lives
        status=201,
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


async def handle_token_request(request: web.Request) -> web.Response:
    """POST /oauth/tokens: the client credentials grant.

    Not under /api/v2, so the API middleware leaves it alone: it waits the latency, answers 503
    in an outage and counts against the account rate limit here, answering 429 with Retry-After
    like any API request (docs silent: less forgiving reading), and is counted in /_sim/stats'
    ``oauth`` (not in ``requests_total``, which counts /api/v2 requests).
    """
    state = request.app[STATE_KEY]
    config, registry = state.config, state.oauth
    registry.token_requests += 1
    try:
        await state.let_through(None)
        response = await _issue(request, config, registry)
    except ApiError as refused:
        registry.token_refusals[refused.body.get("error", "Error")] += 1
        response = refused.response()
    response.headers.update(state.rate_limit_headers(time.monotonic()))
    return response


async def handle_revoke_current(request: web.Request) -> web.Response:
    """DELETE /api/v2/oauth/tokens/current: revoke the token this request carries, 204.

    https://developer.zendesk.com/api-reference/ticketing/oauth/oauth_tokens/#revoke-token. An API
    token has no OAuth token to revoke: 404 (docs silent: less forgiving reading).
    """
    token = request.get(TOKEN_KEY)
    if not isinstance(token, AccessToken):
        raise ApiError(404, {"error": "RecordNotFound", "description": "Not found"})
    request.app[STATE_KEY].oauth.revoke(token)
    return web.Response(status=204)


async def handle_sim_revoke(request: web.Request) -> web.Response:
    """POST /_sim/oauth/revoke: revoke every live token, as an admin would in Admin Center."""
    return web.json_response({"revoked": request.app[STATE_KEY].oauth.revoke_all()})
