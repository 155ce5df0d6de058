"""The Zendesk simulator's aiohttp application: its middleware, routes and background tasks.

``create_app`` builds it, ``running_simulator`` serves it for tests, ``main`` for the CLI.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

from aiohttp import web

from sim.common import ApiError, RunningSimulator, add_sim_routes, new_app, run_command_line, serve_in_thread
from sim.common import api_middleware as shared_api_middleware
from sim.common import state_of as _state_of
from sim.zendesk.backdoors import (
    handle_sim_agent_edit,
    handle_sim_agents_finish,
    handle_sim_config_post,
    handle_sim_history,
    handle_sim_ticket_get,
    handle_sim_tickets_post,
)
from sim.zendesk.config import SimConfig, parse_args
from sim.zendesk.handlers import (
    BACKGROUND_KEY,
    handle_audits,
    handle_comments,
    handle_export,
    handle_job_status,
    handle_search,
    handle_show_many,
    handle_tags_add,
    handle_ticket_delete,
    handle_ticket_get,
    handle_ticket_update,
    handle_update_many,
    handle_users_me,
    log,
)
from sim.zendesk.incremental import handle_incremental_tickets
from sim.zendesk.oauth import (
    TOKEN_KEY,
    handle_revoke_current,
    handle_sim_revoke,
    handle_token_request,
    identify,
    require_access,
)
from sim.zendesk.state import SimState
from sim.zendesk.triggers_api import (
    handle_trigger_categories_list,
    handle_trigger_category_create,
    handle_trigger_category_show,
    handle_trigger_create,
    handle_trigger_delete,
    handle_trigger_show,
    handle_trigger_update,
    handle_triggers_list,
    handle_triggers_update_many,
)
from sim.zendesk.webhooks import WebhookSender
from sim.zendesk.webhooks_api import (
    handle_webhook_create,
    handle_webhook_delete,
    handle_webhook_patch,
    handle_webhook_secret_reset,
    handle_webhook_secret_show,
    handle_webhook_show,
    handle_webhook_update,
    handle_webhooks_list,
)
from sim.zendesk.wire import error_name

TICKET_PATH = r"/api/v2/tickets/{ticket_id:\d+}"
TRIGGER_PATH = r"/api/v2/triggers/{trigger_id:\d+}"
# The Webhooks API takes no ".json" suffix (a suffixed path is a 404 there).
WEBHOOK_PATH = r"/api/v2/webhooks/{webhook_id}"
JSON_SUFFIX = r"{suffix:(?:\.json)?}"  # Zendesk answers with or without ".json"

API_ROUTES = (
    ("GET", "/api/v2/tickets/show_many" + JSON_SUFFIX, handle_show_many, "show_many"),
    ("PUT", "/api/v2/tickets/update_many" + JSON_SUFFIX, handle_update_many, "update_many"),
    ("GET", TICKET_PATH + JSON_SUFFIX, handle_ticket_get, "ticket_get"),
    ("PUT", TICKET_PATH + JSON_SUFFIX, handle_ticket_update, "ticket_update"),
    ("DELETE", TICKET_PATH + JSON_SUFFIX, handle_ticket_delete, "ticket_delete"),
    ("GET", TICKET_PATH + "/comments" + JSON_SUFFIX, handle_comments, "comments"),
    ("GET", TICKET_PATH + "/audits" + JSON_SUFFIX, handle_audits, "audits"),
    ("PUT", TICKET_PATH + "/tags" + JSON_SUFFIX, handle_tags_add, "tags"),
    ("GET", "/api/v2/job_statuses/{job_id:[0-9a-f]+}" + JSON_SUFFIX, handle_job_status, "job_status"),
    ("GET", "/api/v2/search" + JSON_SUFFIX, handle_search, "search"),
    ("GET", "/api/v2/search/export" + JSON_SUFFIX, handle_export, "export"),
    ("GET", "/api/v2/incremental/tickets/cursor" + JSON_SUFFIX, handle_incremental_tickets, "incremental"),
    ("GET", "/api/v2/users/me" + JSON_SUFFIX, handle_users_me, "users_me"),
    # https://developer.zendesk.com/api-reference/ticketing/oauth/oauth_tokens/#revoke-token
    ("DELETE", "/api/v2/oauth/tokens/current" + JSON_SUFFIX, handle_revoke_current, "oauth_token_revoke"),
    ("GET", "/api/v2/webhooks", handle_webhooks_list, "webhooks_list"),
    ("POST", "/api/v2/webhooks", handle_webhook_create, "webhook_create"),
    ("GET", WEBHOOK_PATH, handle_webhook_show, "webhook_show"),
    ("PUT", WEBHOOK_PATH, handle_webhook_update, "webhook_update"),
    ("PATCH", WEBHOOK_PATH, handle_webhook_patch, "webhook_patch"),
    ("DELETE", WEBHOOK_PATH, handle_webhook_delete, "webhook_delete"),
    ("GET", WEBHOOK_PATH + "/signing_secret", handle_webhook_secret_show, "webhook_secret_show"),
    ("POST", WEBHOOK_PATH + "/signing_secret", handle_webhook_secret_reset, "webhook_secret_reset"),
    ("GET", "/api/v2/triggers" + JSON_SUFFIX, handle_triggers_list, "triggers_list"),
    ("POST", "/api/v2/triggers" + JSON_SUFFIX, handle_trigger_create, "trigger_create"),
    ("PUT", "/api/v2/triggers/update_many" + JSON_SUFFIX, handle_triggers_update_many, "triggers_update_many"),
    ("GET", TRIGGER_PATH + JSON_SUFFIX, handle_trigger_show, "trigger_show"),
    ("PUT", TRIGGER_PATH + JSON_SUFFIX, handle_trigger_update, "trigger_update"),
    ("DELETE", TRIGGER_PATH + JSON_SUFFIX, handle_trigger_delete, "trigger_delete"),
    ("GET", "/api/v2/trigger_categories" + JSON_SUFFIX, handle_trigger_categories_list, "trigger_categories_list"),
    ("POST", "/api/v2/trigger_categories" + JSON_SUFFIX, handle_trigger_category_create, "trigger_category_create"),
    (
        "GET",
        r"/api/v2/trigger_categories/{category_id:\d+}" + JSON_SUFFIX,
        handle_trigger_category_show,
        "trigger_category_show",
    ),
)


# Methods that write. The fleet's shadow mode is judged by sending none of them to /api/v2.
WRITE_METHODS = frozenset(("PUT", "POST", "PATCH", "DELETE"))
# Getting or revoking the fleet's own access token changes nothing in the account.
NOT_WRITES = frozenset(("oauth_token_revoke",))


def route_template(path: str) -> str:
    """A route's path as /_sim/stats names it: ids as {id}, without the optional ".json"."""
    return re.sub(r"\{\w+(?::[^{}]*)?\}", "{id}", path.removesuffix(JSON_SUFFIX))


ROUTE_TEMPLATES = {endpoint: route_template(path) for _, path, _, endpoint in API_ROUTES}


def _write_key(request: web.Request, endpoint: str | None) -> str:
    """The request's key in writes_by_endpoint, e.g. "PUT /api/v2/tickets/{id}": its route's
    template or, for a path no route matched (a 404 or 405), the path with its numeric
    segments as {id}, so ids never multiply the keys."""
    template = ROUTE_TEMPLATES.get(endpoint or "")
    if template is None:
        template = re.sub(r"/\d+(?=/|$)", "/{id}", request.path.removesuffix(".json"))
    return f"{request.method} {template}"


# --- Middleware --------------------------------------------------------------------------------


async def _let_in(request: web.Request, state: SimState) -> None:
    """Count the endpoint and the credentials and wait the latency; raise the ApiError of a rate
    limit, an outage, credentials that do not pass (401), a token whose scopes do not reach the
    endpoint (403) or an injected error."""
    config = state.config
    endpoint = request.match_info.route.name
    if endpoint in state.requests_by_endpoint:
        state.requests_by_endpoint[endpoint] += 1
    # Counted before anything can refuse it: a write the account refused was still sent.
    if request.method in WRITE_METHODS and endpoint not in NOT_WRITES:
        state.writes_by_endpoint[_write_key(request, endpoint)] += 1
    identity = identify(request.headers.get("Authorization", ""), config, state.oauth)
    await state.let_through(endpoint)
    require_access(identity, request.method, endpoint)
    request[TOKEN_KEY] = identity.token  # for DELETE /api/v2/oauth/tokens/current
    if config.error_ratio and state.fault_rng.random() < config.error_ratio:
        status = config.error_status
        raise ApiError(status, {"error": error_name(status), "description": "Simulated failure"}, {"Retry-After": "1"})


def _routing_error(request: web.Request, error: web.HTTPException) -> web.Response:
    name = "InvalidEndpoint" if error.status == 404 else error_name(error.status)
    return web.json_response({"error": name, "description": error.reason}, status=error.status)


# Latency, rate limits, outages, auth, random errors and counters for /api/v2.
api_middleware = shared_api_middleware(
    "/api/v2/",
    let_in=_let_in,
    routing_error=_routing_error,
    log=log,
    server_error=lambda: web.json_response({"error": "InternalServerError"}, status=500),
)


WEBHOOKS_KEY = web.AppKey("webhooks", WebhookSender)


# --- Background tasks ----------------------------------------------------------------------------


async def _at_rate(state: SimState, setting: str, act: Callable[[], Any]) -> None:
    """Call ``act`` config.<setting> times per minute (the rate may change at run time)."""
    due = 0.0
    last = time.monotonic()
    while True:
        await asyncio.sleep(0.1)
        now = time.monotonic()
        due += getattr(state.config, setting) / 60 * (now - last)
        last = now
        while due >= 1:
            act()
            due -= 1


async def _revoke_tokens_later(state: SimState, seconds: float) -> None:
    """--revoke-tokens-after: every live token is revoked once, as an admin might at any moment."""
    await asyncio.sleep(seconds)
    revoked = state.oauth.revoke_all()
    log.info("revoked %d access tokens (--revoke-tokens-after)", revoked)


async def _start_background(app: web.Application) -> None:
    state = state_of(app)
    if state.config.revoke_tokens_after > 0:
        app[BACKGROUND_KEY].add(asyncio.create_task(_revoke_tokens_later(state, state.config.revoke_tokens_after)))
    if state.config.outage_seconds > 0:
        state.start_outage(time.monotonic() + state.config.outage_start, state.config.outage_seconds)
    # New tickets arrive, and simulated agents edit tickets, at their rates per minute.
    app[BACKGROUND_KEY].add(asyncio.create_task(_at_rate(state, "arrival_rate", state.add_generated_ticket)))
    app[BACKGROUND_KEY].add(asyncio.create_task(_at_rate(state, "agent_edit_rate", state.random_agent_edit)))
    app[WEBHOOKS_KEY] = WebhookSender(state)
    await app[WEBHOOKS_KEY].start()


async def _stop_background(app: web.Application) -> None:
    await app[WEBHOOKS_KEY].stop()
    tasks = list(app[BACKGROUND_KEY])
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- The application ------------------------------------------------------------------------------


def create_app(config: SimConfig) -> web.Application:
    """Build the simulator's aiohttp application (seeded at once, background tasks on startup)."""
    # Room for oversized tickets (a 1 MB log pasted into a body) so clients can be tested on them.
    app = new_app(SimState(config), api_middleware, client_max_size=16 * 1024 * 1024)
    app[BACKGROUND_KEY] = set()
    for method, path, handler, endpoint in API_ROUTES:
        app.router.add_route(method, path, handler, name=endpoint)
    # https://developer.zendesk.com/api-reference/ticketing/oauth/grant_type_tokens/ (not under
    # /api/v2: the API middleware's bearer auth does not guard it)
    app.router.add_post("/oauth/tokens", handle_token_request)
    add_sim_routes(app, handle_sim_config_post)
    app.router.add_post("/_sim/oauth/revoke", handle_sim_revoke)
    app.router.add_post("/_sim/tickets", handle_sim_tickets_post)
    app.router.add_get(r"/_sim/tickets/{ticket_id:\d+}", handle_sim_ticket_get)
    app.router.add_post(r"/_sim/tickets/{ticket_id:\d+}/agent_edit", handle_sim_agent_edit)
    app.router.add_get("/_sim/history", handle_sim_history)
    app.router.add_post("/_sim/agents/finish", handle_sim_agents_finish)
    app.on_startup.append(_start_background)
    app.on_cleanup.append(_stop_background)
    return app


def state_of(app: web.Application) -> SimState:
    """The in-memory state behind an application made by create_app."""
    return _state_of(app)


def running_simulator(**options: Any) -> AbstractContextManager[RunningSimulator]:
    """Serve a simulator on a free port in a background thread for the ``with`` block.

    ``options`` are SimConfig fields; ``port`` defaults to 0 (a free port).
    """
    return serve_in_thread(create_app, SimConfig, options, "zendesk-sim")


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m sim.zendesk``: serve until SIGTERM or SIGINT."""
    run_command_line(create_app, parse_args(argv), "zendesk simulator")
