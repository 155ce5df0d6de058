"""The Zendesk simulator's aiohttp application: its middleware, routes and background tasks.

``create_app`` builds it, ``running_simulator`` serves it for tests, ``main`` for the CLI.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import time
from typing import Any, Callable, ContextManager

from aiohttp import BasicAuth, web

from sim.common import ApiError, RunningSimulator, add_sim_routes, new_app, run_command_line, serve_in_thread
from sim.common import api_middleware as shared_api_middleware
from sim.common import state_of as _state_of
from sim.zendesk.backdoors import (
    handle_sim_agent_edit,
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
from sim.zendesk.state import SimState
from sim.zendesk.webhooks import WebhookSender
from sim.zendesk.wire import error_name

TICKET_PATH = r"/api/v2/tickets/{ticket_id:\d+}"
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
)


# --- Middleware --------------------------------------------------------------------------------

def _authorized(request: web.Request, config: SimConfig) -> bool:
    header = request.headers.get("Authorization", "")
    try:
        credentials = BasicAuth.decode(header)
    except ValueError:
        return False
    # Constant-time comparison of bytes (compare_digest refuses non-ASCII str).
    return (hmac.compare_digest(credentials.login.encode(), f"{config.email}/token".encode())
            and hmac.compare_digest(credentials.password.encode(), config.token.encode()))


async def _let_in(request: web.Request, state: SimState) -> None:
    """Count the endpoint and wait the latency; raise the ApiError of a rate limit, an outage,
    wrong credentials or an injected error."""
    config = state.config
    endpoint = request.match_info.route.name
    if endpoint in state.requests_by_endpoint:
        state.requests_by_endpoint[endpoint] += 1
    if config.latency_ms > 0:
        # asyncio.sleep, not time.sleep: concurrent requests wait side by side.
        await asyncio.sleep(config.latency_ms / 1000)
    now = time.monotonic()
    state.admit(now, endpoint)
    outage = state.outage_remaining(now)
    if outage:
        raise ApiError(503, {"error": "ServiceUnavailable", "description": "Simulated outage"},
                       {"Retry-After": str(max(1, math.ceil(outage)))})
    if not _authorized(request, config):
        raise ApiError(401, {"error": "Couldn't authenticate you"},
                       {"WWW-Authenticate": 'Basic realm="Web Password"'})
    if config.error_ratio and state.fault_rng.random() < config.error_ratio:
        status = config.error_status
        raise ApiError(status, {"error": error_name(status), "description": "Simulated failure"},
                       {"Retry-After": "1"})


def _routing_error(request: web.Request, error: web.HTTPException) -> web.Response:
    name = "InvalidEndpoint" if error.status == 404 else error_name(error.status)
    return web.json_response({"error": name, "description": error.reason}, status=error.status)


# Latency, rate limits, outages, auth, random errors and counters for /api/v2.
api_middleware = shared_api_middleware(
    "/api/v2/", let_in=_let_in, routing_error=_routing_error, log=log,
    server_error=lambda: web.json_response({"error": "InternalServerError"}, status=500))


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


async def _start_background(app: web.Application) -> None:
    state = state_of(app)
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
    add_sim_routes(app, handle_sim_config_post)
    app.router.add_post("/_sim/tickets", handle_sim_tickets_post)
    app.router.add_get(r"/_sim/tickets/{ticket_id:\d+}", handle_sim_ticket_get)
    app.router.add_post(r"/_sim/tickets/{ticket_id:\d+}/agent_edit", handle_sim_agent_edit)
    app.router.add_get("/_sim/history", handle_sim_history)
    app.on_startup.append(_start_background)
    app.on_cleanup.append(_stop_background)
    return app


def state_of(app: web.Application) -> SimState:
    """The in-memory state behind an application made by create_app."""
    return _state_of(app)


def running_simulator(**options: Any) -> ContextManager[RunningSimulator]:
    """Serve a simulator on a free port in a background thread for the ``with`` block.

    ``options`` are SimConfig fields; ``port`` defaults to 0 (a free port).
    """
    return serve_in_thread(create_app, SimConfig, options, "zendesk-sim")


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m sim.zendesk``: serve until SIGTERM or SIGINT."""
    run_command_line(create_app, parse_args(argv), "zendesk simulator")
