"""The /_sim endpoints of the Zendesk simulator: runtime configuration and backdoors.

Unauthenticated and never counted: they create tickets, make agents edit and finish them
(``sim.zendesk.agents``) and show whole ticket records (ground truth included) and the planted
facts of the solved history for demos, tests and benchmarks (POST /_sim/oauth/revoke, revoking
every token, is in ``sim.zendesk.oauth``). GET /_sim/stats and GET /_sim/config come from
``sim.common``. A SimConfigError raised here is answered 400 by the middleware
(``sim.common.sim_request``).
"""

from __future__ import annotations

import json
import time
from typing import Any

from aiohttp import web

from sim.common import ApiError, SimConfigError, checked_changes
from sim.zendesk.agents import finish_tickets, parse_finish_request, planted_truth
from sim.zendesk.config import RUNTIME_SETTINGS
from sim.zendesk.handlers import base_url, public, read_json_object, request_state
from sim.zendesk.wire import PRIORITIES, STATUSES, describe_error, normalize_tags, parse_timestamp


async def handle_sim_config_post(request: web.Request) -> web.Response:
    """Change runtime settings; all-or-nothing, 400 naming the first bad value."""
    state = request_state(request)
    payload = await _read_sim_json(request)
    settings = checked_changes(payload, RUNTIME_SETTINGS, handled_elsewhere=("outage_seconds", "fail_updates"))
    outage = payload.get("outage_seconds")
    if outage is not None and (isinstance(outage, bool) or not isinstance(outage, (int, float)) or outage < 0):
        raise SimConfigError("outage_seconds must be a number >= 0")
    failures = _parse_fail_updates(payload.get("fail_updates"))
    for name, value in settings.items():
        setattr(state.config, name, value)
    if outage is not None:
        state.start_outage(time.monotonic(), outage)
    if failures is not None:
        state.fail_updates = failures
    return web.json_response(state.config_view())


def _parse_fail_updates(raw: Any) -> dict[int, int] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise SimConfigError('fail_updates must be an object like {"12": 422}')
    try:
        failures = {int(ticket_id): int(status) for ticket_id, status in raw.items()}
    except (TypeError, ValueError):
        raise SimConfigError("fail_updates maps ticket ids to HTTP statuses") from None
    if not all(400 <= status <= 599 for status in failures.values()):
        raise SimConfigError("fail_updates statuses must be between 400 and 599")
    return failures


async def _read_sim_json(request: web.Request) -> dict:
    """The body, a JSON object; otherwise a 400 with the API's error body."""
    try:
        return await read_json_object(request)
    except ApiError as error:
        raise web.HTTPBadRequest(text=json.dumps(error.body), content_type="application/json") from None


def _sim_ticket_fields(spec: Any) -> tuple[str, str, list[str], str | None, str, int | None]:
    """Validate one ticket of POST /_sim/tickets (an optional past ``created_at`` backdates it)."""
    if not isinstance(spec, dict):
        raise SimConfigError("every ticket must be an object")
    subject, description = spec.get("subject"), spec.get("description")
    if not isinstance(subject, str) or not isinstance(description, str):
        raise SimConfigError("subject and description are required strings")
    try:
        tags = normalize_tags(spec.get("tags", []), "tags")
    except ApiError as error:
        raise SimConfigError(describe_error(error.body)) from None
    priority, status = spec.get("priority"), spec.get("status", "new")
    if priority is not None and priority not in PRIORITIES:
        raise SimConfigError(f"priority must be one of {PRIORITIES} or null")
    if status not in STATUSES:
        raise SimConfigError(f"status must be one of {STATUSES}")
    created_at = None
    if spec.get("created_at") is not None:
        moment = parse_timestamp(spec["created_at"]) if isinstance(spec["created_at"], str) else None
        if moment is None or moment > time.time():
            raise SimConfigError("created_at must be an ISO 8601 timestamp that is not in the future")
        created_at = int(moment)
    return subject, description, tags, priority, status, created_at


async def handle_sim_tickets_post(request: web.Request) -> web.Response:
    """POST /_sim/tickets: create hand-written tickets ({"tickets": [...]}) or N generated ones."""
    state = request_state(request)
    payload = await _read_sim_json(request)
    if "tickets" in payload:
        if not isinstance(payload["tickets"], list):
            raise SimConfigError("tickets must be a list")
        specs = [_sim_ticket_fields(spec) for spec in payload["tickets"]]
        records = [state.add_ticket(*spec) for spec in specs]
    else:
        count = payload.get("count")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= 100_000:
            raise SimConfigError('send {"tickets": [...]} or {"count": N} with 0 <= N <= 100000')
        records = [state.add_generated_ticket() for _ in range(count)]
    return web.json_response({"ids": [record.id for record in records]})


async def handle_sim_agent_edit(request: web.Request) -> web.Response:
    """POST /_sim/tickets/{id}/agent_edit: an agent edits the ticket in the UI."""
    state = request_state(request)
    record = state.tickets.get(int(request.match_info["ticket_id"]))
    if record is None:
        return web.json_response({"error": "RecordNotFound"}, status=404)
    edit = await _read_sim_json(request)
    problems = []
    if "priority" in edit and edit["priority"] not in PRIORITIES:
        problems.append(f"priority must be one of {PRIORITIES}")
    if "status" in edit and edit["status"] not in STATUSES:
        problems.append(f"status must be one of {STATUSES}")
    if "comment" in edit and not isinstance(edit["comment"], str):
        problems.append("comment must be a string")
    try:
        normalize_tags(edit.get("additional_tags", []), "additional_tags")
    except ApiError:
        problems.append("additional_tags must be a list of strings")
    if problems:
        return web.json_response({"error": "; ".join(problems)}, status=400)
    state.agent_edit(record, edit)
    return web.json_response({"ticket": public(record.to_json(), base_url(request))})


async def handle_sim_agents_finish(request: web.Request) -> web.Response:
    """POST /_sim/agents/finish: agents finish tickets, right or wrong at a rate (sim.zendesk.agents)."""
    state = request_state(request)
    finish = parse_finish_request(await _read_sim_json(request))
    return web.json_response(finish_tickets(state, finish))


async def handle_sim_ticket_get(request: web.Request) -> web.Response:
    """GET /_sim/tickets/{id}: the whole record, comments, updates and ground truth included."""
    record = request_state(request).tickets.get(int(request.match_info["ticket_id"]))
    if record is None:
        return web.json_response({"error": "RecordNotFound"}, status=404)
    generated = record.generated
    return web.json_response(
        {
            "ticket": public(record.to_json(), base_url(request)),
            "comments": record.comments,
            "updates": record.api_updates,
            "protected_tags": sorted(record.protected_tags),
            "protected_priority": record.protected_priority,
            # Whether an agent set the priority by hand, and whether the API or a trigger changed it since.
            "hand_priority": record.hand_priority,
            "hand_priority_overridden": record.hand_priority_overridden,
            "trigger_changes": record.trigger_changes,
            "api_private_notes": record.api_private_notes,
            # The planted truth in the default taxonomy's words (null for a hand-written ticket
            # not given one), and what the agent who finished it decided (POST /_sim/agents/finish):
            # root_cause, urgency, sentiment and priority, or null while no agent has.
            "truth": planted_truth(record),
            "agent_decision": record.agent_decision,
            "finished_by": record.finished_by,
            # Epoch seconds: creation, and the API's first write (the fleet's tags and note).
            "timing": {"created": record.created_precise, "first_api_write": record.first_api_write_at},
            # Ground truth of generated tickets, for benchmarks that score the triage.
            "generated": None
            if generated is None
            else {
                "category": generated.category,
                "language": generated.language,
                "urgency": generated.urgency,
                "sentiment": generated.sentiment,
                "pii": list(generated.pii),
            },
        }
    )


async def handle_sim_history(request: web.Request) -> web.Response:
    """GET /_sim/history: the solved history's totals and, per ticket id, its truth, the fleet's
    answer (null where the fleet never triaged it) and the fields an agent corrected."""
    return web.json_response(request_state(request).history_report())
