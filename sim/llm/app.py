"""The LLM simulator's aiohttp application: its middleware (auth, counters, OpenAI's headers) and routes.

``create_app`` builds it; ``running_simulator`` runs it in a thread, ``main`` as ``python -m sim.llm``.
"""

from __future__ import annotations

import hmac
import logging
import time
import uuid
from contextlib import AbstractContextManager
from typing import Any

from aiohttp import web

from sim.common import ApiError, RunningSimulator, add_sim_routes, new_app, run_command_line, serve_in_thread
from sim.common import api_middleware as shared_api_middleware
from sim.common import state_of as _state_of
from sim.llm.config import SimConfig, parse_args
from sim.llm.errors import injected_error, openai_error
from sim.llm.handlers import (
    handle_chat_completions,
    handle_model,
    handle_models,
    handle_sim_config_post,
    handle_sim_requests,
    handle_sim_reset,
    handle_sim_script,
)
from sim.llm.state import SimState

log = logging.getLogger("sim.llm")


# --- Middleware --------------------------------------------------------------------------------


def _authorized(request: web.Request, config: SimConfig) -> bool:
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    # Constant-time comparison of bytes (compare_digest refuses non-ASCII str).
    return scheme.lower() == "bearer" and hmac.compare_digest(key.strip().encode(), config.api_key.encode())


def _unauthorized(request: web.Request) -> ApiError:
    _, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if not key:
        return openai_error(
            401,
            "You didn't provide an API key. You need to provide your API key in an "
            "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            "invalid_request_error",
        )
    # Like OpenAI, show only enough of the key to recognise it.
    shown = f"{key[:3]}{'*' * max(0, len(key) - 7)}{key[-4:]}" if len(key) > 8 else "*" * len(key)
    return openai_error(
        401,
        f"Incorrect API key provided: {shown}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        code="invalid_api_key",
    )


async def _let_in(request: web.Request, state: SimState) -> None:
    """Refuse (401) a request without the API key."""
    if not _authorized(request, state.config):
        raise _unauthorized(request)


def _routing_error(request: web.Request, error: web.HTTPException) -> web.Response:
    return openai_error(
        error.status, f"Invalid URL ({request.method} {request.path})", "invalid_request_error"
    ).response()


def _more_headers(started: float) -> dict[str, str]:
    return {
        "x-request-id": f"req_{uuid.uuid4().hex}",
        "openai-processing-ms": str(round((time.monotonic() - started) * 1000)),
    }


# Auth, counters and OpenAI's headers for /v1; a 400 for bad /_sim input.
api_middleware = shared_api_middleware(
    "/v1/",
    let_in=_let_in,
    routing_error=_routing_error,
    more_headers=_more_headers,
    log=log,
    server_error=lambda: injected_error(500).response(),
)


# --- The application ------------------------------------------------------------------------------


async def _release_waiters(app: web.Application) -> None:
    state_of(app).stopping.set()


def create_app(config: SimConfig) -> web.Application:
    """Build the simulator's aiohttp application."""
    app = new_app(SimState(config), api_middleware)
    app.router.add_post("/v1/chat/completions", handle_chat_completions)
    app.router.add_get("/v1/models", handle_models)
    app.router.add_get("/v1/models/{model}", handle_model)
    add_sim_routes(app, handle_sim_config_post)
    app.router.add_post("/_sim/script", handle_sim_script)
    app.router.add_get("/_sim/requests", handle_sim_requests)
    app.router.add_post("/_sim/reset", handle_sim_reset)
    # on_shutdown runs before the server waits for open requests, so hangs end first.
    app.on_shutdown.append(_release_waiters)
    return app


def state_of(app: web.Application) -> SimState:
    """The in-memory state behind an application made by create_app."""
    return _state_of(app)


def running_simulator(**options: Any) -> AbstractContextManager[RunningSimulator]:
    """Serve a simulator on a free port in a background thread for the ``with`` block.

    ``options`` are SimConfig fields; ``port`` defaults to 0 (a free port). The SDK's
    base_url is ``simulator.base_url + "/v1"``.
    """
    return serve_in_thread(create_app, SimConfig, options, "llm-sim")


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m sim.llm``: serve until SIGTERM or SIGINT."""
    run_command_line(create_app, parse_args(argv), "llm simulator")
