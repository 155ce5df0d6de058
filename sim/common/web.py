"""The aiohttp side both simulators share: error answers, their state, and the /_sim basics.

Each simulator's middleware (``api_middleware``) guards its own API (``/api/v2`` or ``/v1``)
with its own rules and answers through ``answer``; its ``/_sim`` endpoints go through
``sim_request``. Both keep their in-memory state under ``STATE_KEY`` and report it on
``GET /_sim/stats`` and ``GET /_sim/config``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiohttp import web

from sim.common.settings import SimConfigError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An error answer of the API: raised by handlers, turned into JSON by a middleware."""

    def __init__(self, status: int, body: dict, headers: dict[str, str] | None = None):
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> web.Response:
        """The JSON response that carries this error."""
        return web.json_response(self.body, status=self.status, headers=self.headers)


# --- The application and its state ------------------------------------------------------------

# A simulator's state: it has ``config``, ``stats()`` and ``config_view()``.
STATE_KEY = web.AppKey("state", object)


def state_of(app: web.Application) -> Any:
    """The in-memory state behind an application made by new_app."""
    return app[STATE_KEY]


def new_app(state: Any, middleware: Handler, **options: Any) -> web.Application:
    """An application that holds ``state`` and passes every request through ``middleware``.

    ``options`` go to ``web.Application`` (``client_max_size``, for one).
    """
    app = web.Application(middlewares=[middleware], **options)
    app[STATE_KEY] = state
    return app


def add_sim_routes(app: web.Application, config_post: Handler) -> None:
    """The /_sim endpoints every simulator has: GET /_sim/stats, GET and POST /_sim/config."""
    app.router.add_get("/_sim/stats", handle_sim_stats)
    app.router.add_get("/_sim/config", handle_sim_config_get)
    app.router.add_post("/_sim/config", config_post)


async def handle_sim_stats(request: web.Request) -> web.Response:
    """GET /_sim/stats: the state's figures."""
    return web.json_response(state_of(request.app).stats())


async def handle_sim_config_get(request: web.Request) -> web.Response:
    """GET /_sim/config: the configuration in force, secrets left out."""
    return web.json_response(state_of(request.app).config_view())


# --- Answering ------------------------------------------------------------------------------------


@contextlib.contextmanager
def in_flight(state: Any) -> Iterator[None]:
    """Count a request in ``state.in_flight`` while it lasts, and the most at once in ``max_in_flight``."""
    state.in_flight += 1
    state.max_in_flight = max(state.max_in_flight, state.in_flight)
    try:
        yield
    finally:
        state.in_flight -= 1


async def answer(
    request: web.Request,
    respond: Callable[[], Awaitable[web.StreamResponse]],
    *,
    routing_error: Callable[[web.Request, web.HTTPException], web.StreamResponse],
    server_error: Callable[[], web.StreamResponse],
    log: logging.Logger,
) -> web.StreamResponse:
    """What ``respond()`` answers, or the API's error answer to what it raised.

    An ApiError answers itself; the router's 404 and 405 answer ``routing_error``; anything
    else is a bug, logged and answered ``server_error()``.
    """
    try:
        return await respond()
    except ApiError as error:
        return error.response()
    except web.HTTPException as error:  # the router's 404 and 405
        return routing_error(request, error)
    except Exception:  # a bug in a handler: answer like a server would, and say so in the log
        log.exception("unhandled error in %s %s", request.method, request.path)
        return server_error()


async def sim_request(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A request outside the API (/_sim): no auth, no counting; a SimConfigError is a 400."""
    try:
        return await handler(request)
    except SimConfigError as error:
        return web.json_response({"error": str(error)}, status=400)


class NotAJsonObject(ValueError):
    """A request body that is not a JSON object; the message completes "The request body ..."."""


async def json_object(request: web.Request) -> dict:
    """The request's body, which must be a JSON object (NotAJsonObject otherwise)."""
    try:
        payload = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise NotAJsonObject("is not valid JSON") from None
    if not isinstance(payload, dict):
        raise NotAJsonObject("must be a JSON object")
    return payload


def api_middleware(
    prefix: str,
    *,
    let_in: Callable[[web.Request, Any], Awaitable[None]],
    routing_error: Callable[[web.Request, web.HTTPException], web.StreamResponse],
    server_error: Callable[[], web.StreamResponse],
    log: logging.Logger,
    more_headers: Callable[[float], dict[str, str]] | None = None,
) -> Handler:
    """The middleware of a simulator whose API lives under ``prefix`` (other paths: sim_request).

    An API request counts in the state's ``requests_total`` and ``in_flight``; ``let_in(request,
    state)`` may delay it and raises the ApiError of a refusal (rate limit, credentials, fault);
    then the handler answers (see ``answer``). The response gets the state's rate-limit headers,
    then ``more_headers(started)`` if given (``started`` on the monotonic clock), and its status
    counts in ``responses_by_status``.
    """

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith(prefix):
            return await sim_request(request, handler)
        state = state_of(request.app)
        started = time.monotonic()
        state.requests_total += 1

        async def respond() -> web.StreamResponse:
            await let_in(request, state)
            return await handler(request)

        with in_flight(state):
            response = await answer(request, respond, routing_error=routing_error, server_error=server_error, log=log)
        response.headers.update(state.rate_limit_headers(time.monotonic()))
        if more_headers is not None:
            response.headers.update(more_headers(started))
        state.responses_by_status[str(response.status)] += 1
        return response

    return middleware
