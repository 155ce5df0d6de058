"""The handlers of the LLM simulator: /v1 (chat completions, models) and its own /_sim endpoints.

The middleware in ``sim.llm.app`` has already authenticated and counted a /v1 request by
the time it gets here. GET /_sim/stats and GET /_sim/config come from ``sim.common``; a
SimConfigError raised by a /_sim handler is answered 400 (``sim.common.sim_request``).
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import deque
from typing import Any

from aiohttp import web

from sim.common import STATE_KEY, NotAJsonObject, SimConfigError, checked_changes, json_object
from sim.llm.answers import completion_body, compose_answer, parse_outcome, shape_reply
from sim.llm.chat import parse_chat_request, quota_tokens
from sim.llm.config import CAPTURED_REQUESTS, RUNTIME_SETTINGS, check_fault_total
from sim.llm.errors import injected_error, invalid_request
from sim.llm.models import KNOWN_MODELS, MODELS_CREATED, model_not_found, model_spec
from sim.llm.state import SimState


def request_state(request: web.Request) -> SimState:
    """The state of the simulator answering this request."""
    return request.app[STATE_KEY]


# --- /v1 handlers -------------------------------------------------------------------------------------


async def _read_captured_body(request: web.Request, state: SimState) -> Any:
    """The JSON body, captured as received for /_sim/requests (as text when it is not JSON)."""
    raw = await request.text()
    try:
        body = json.loads(raw)
    except json.JSONDecodeError:
        state.captured.append(raw)
        raise invalid_request(
            "We could not parse the JSON body of your request. The OpenAI API "
            "expects a JSON payload, but what was sent was not valid JSON."
        ) from None
    state.captured.append(body)
    return body


async def handle_chat_completions(request: web.Request) -> web.Response:
    """POST /v1/chat/completions: validate, charge the budgets, then answer or fail as drawn."""
    state = request_state(request)
    config = state.config
    body = await _read_captured_body(request, state)
    chat = parse_chat_request(body)
    answer = compose_answer(chat, config.obey_injections)  # an unanswerable schema is a 400 too
    prompt_tokens = chat.prompt_tokens
    state.requests_by_model[chat.model] += 1
    # https://platform.openai.com/docs/guides/rate-limits : the token budget is charged up front,
    # from the request's characters and maximum completion tokens (see quota_tokens).
    outcome = state.admit(time.monotonic(), chat.model, quota_tokens(body))
    if outcome.kind == "error":
        state.faults_injected["error"] += 1
        raise injected_error(outcome.status)
    if outcome.kind == "timeout":
        state.faults_injected["timeout"] += 1
        await state.pause(config.hang_seconds)
        raise injected_error(504)
    await state.pause(state.latency())
    reply, applied = shape_reply(answer, outcome.kind, state.fault_rng, chat.max_tokens)
    if applied:
        state.faults_injected[outcome.kind] += 1
    else:
        state.completions_ok += 1
    body = completion_body(chat, reply, prompt_tokens)
    state.prompt_tokens_total += body["usage"]["prompt_tokens"]
    state.completion_tokens_total += body["usage"]["completion_tokens"]
    return web.json_response(body)


def _model_object(name: str) -> dict:
    return {"id": name, "object": "model", "created": MODELS_CREATED, "owned_by": "system"}


async def handle_models(request: web.Request) -> web.Response:
    """GET /v1/models: every alias and dated snapshot the simulator knows."""
    return web.json_response({"object": "list", "data": [_model_object(name) for name in KNOWN_MODELS]})


async def handle_model(request: web.Request) -> web.Response:
    """GET /v1/models/{model}: one model, or OpenAI's 404 model_not_found."""
    # https://platform.openai.com/docs/api-reference/models/retrieve
    name = request.match_info["model"]
    if model_spec(name) is None:
        raise model_not_found(name)
    return web.json_response(_model_object(name))


# --- /_sim handlers ---------------------------------------------------------------------------------


async def _sim_payload(request: web.Request) -> dict:
    """The body, a JSON object; a SimConfigError (a 400) otherwise."""
    try:
        return await json_object(request)
    except NotAJsonObject as error:
        raise SimConfigError(f"the request body {error}") from None


async def handle_sim_config_post(request: web.Request) -> web.Response:
    """Change runtime settings; all-or-nothing, 400 naming the first bad value."""
    state = request_state(request)
    payload = await _sim_payload(request)
    settings = checked_changes(payload, RUNTIME_SETTINGS)
    check_fault_total({**dataclasses.asdict(state.config), **settings})
    for name, value in settings.items():
        setattr(state.config, name, value)
    return web.json_response(state.config_view())


async def handle_sim_script(request: web.Request) -> web.Response:
    """Replace the fault script: outcomes the next requests take in order ([] clears it)."""
    state = request_state(request)
    outcomes = (await _sim_payload(request)).get("outcomes")
    if not isinstance(outcomes, list):
        raise SimConfigError('send {"outcomes": [...]}')
    state.script = deque(parse_outcome(entry) for entry in outcomes)
    return web.json_response({"queued": len(state.script)})


async def handle_sim_requests(request: web.Request) -> web.Response:
    """GET /_sim/requests?limit=N: the last request bodies as received."""
    captured = request_state(request).captured
    raw = request.query.get("limit", str(CAPTURED_REQUESTS))
    if not raw.isdigit() or int(raw) < 1:
        raise SimConfigError("limit must be a whole number >= 1")
    limit = int(raw)
    return web.json_response({"requests": list(captured)[-limit:]})


async def handle_sim_reset(request: web.Request) -> web.Response:
    """POST /_sim/reset: forget figures, script, captured requests and budgets."""
    state = request_state(request)
    state.reset()
    return web.json_response(state.stats())
