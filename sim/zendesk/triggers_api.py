"""The /api/v2 handlers of ticket triggers and trigger categories (the rules: ``sim.zendesk.triggers``).

https://developer.zendesk.com/api-reference/ticketing/business-rules/triggers/ : offset pages
(``per_page`` at most 100, ``next_page``, ``previous_page``, ``count``) or cursor pages
(``page[size]``, ``page[after]``, ``meta``, ``links``), filtered by ``active`` and
``category_id``, in position order; create 201, show 200, update 200, delete 204, update_many 200.
Validation errors are 422 RecordInvalid.
https://developer.zendesk.com/api-reference/ticketing/business-rules/trigger_categories/ :
cursor pages; create 200; errors in the ``{"errors": [{"code", "title"}]}`` shape of that API.
"""

from __future__ import annotations

from aiohttp import web

from sim.common import ApiError
from sim.zendesk.cursors import cursor_page, cursor_page_size
from sim.zendesk.handlers import base_url, read_json_object, request_state
from sim.zendesk.state import SimState
from sim.zendesk.triggers import Trigger, TriggerCategory
from sim.zendesk.wire import MAX_LIST_PAGE_SIZE, bad_request, not_found


def _webhook_kind(state: SimState):
    """For trigger validation: None when no webhook has the id, else whether it serves triggers."""

    def kind(webhook_id: str) -> bool | None:
        webhook = state.webhook_book.get(webhook_id)
        return None if webhook is None else webhook.conditional

    return kind


def _trigger_or_404(request: web.Request) -> Trigger:
    trigger = request_state(request).trigger_book.triggers.get(int(request.match_info["trigger_id"]))
    if trigger is None:
        raise not_found()
    return trigger


async def _trigger_fields(request: web.Request) -> dict:
    payload = await read_json_object(request)
    fields = payload.get("trigger")
    if not isinstance(fields, dict):
        raise bad_request('The body must be {"trigger": {...}}')
    return fields


def _offset_page(request: web.Request, triggers: list[Trigger]) -> dict:
    params = request.query
    try:
        per_page = min(int(params.get("per_page", MAX_LIST_PAGE_SIZE)), MAX_LIST_PAGE_SIZE)
        page = int(params.get("page", 1))
    except ValueError:
        raise bad_request("per_page and page must be integers") from None
    if per_page < 1 or page < 1:
        raise bad_request("per_page and page must be at least 1")
    start = (page - 1) * per_page
    base = base_url(request)
    return {
        "triggers": [trigger.to_json(base) for trigger in triggers[start : start + per_page]],
        "next_page": str(request.url.update_query(page=page + 1)) if start + per_page < len(triggers) else None,
        "previous_page": str(request.url.update_query(page=page - 1)) if page > 1 else None,
        "count": len(triggers),
    }


async def handle_triggers_list(request: web.Request) -> web.Response:
    """GET /api/v2/triggers: every trigger (or the active or inactive ones, of one category).
    (https://developer.zendesk.com/api-reference/ticketing/business-rules/triggers/#list-ticket-triggers)"""
    state = request_state(request)
    params = request.query
    book = state.trigger_book
    triggers = book.ordered()
    if "active" in params:
        if params["active"] not in ("true", "false"):
            raise bad_request("active must be true or false")
        triggers = [trigger for trigger in triggers if trigger.active == (params["active"] == "true")]
    if "category_id" in params:
        triggers = [trigger for trigger in triggers if trigger.category_id == params["category_id"]]
    if not any(name in params for name in ("page[size]", "page[after]", "page[before]")):
        return web.json_response(_offset_page(request, triggers))
    size = cursor_page_size(params, MAX_LIST_PAGE_SIZE)
    page, meta, links = cursor_page(
        state.cursor_key, "trigger", triggers, book.sort_key, (int, int, int), params, request.url, size
    )
    base = base_url(request)
    return web.json_response({"triggers": [trigger.to_json(base) for trigger in page], "meta": meta, "links": links})


async def handle_trigger_create(request: web.Request) -> web.Response:
    """POST /api/v2/triggers: 201 with the trigger.
    (https://developer.zendesk.com/api-reference/ticketing/business-rules/triggers/#create-trigger)"""
    state = request_state(request)
    trigger = state.trigger_book.create(await _trigger_fields(request), _webhook_kind(state))
    return web.json_response({"trigger": trigger.to_json(base_url(request))}, status=201)


async def handle_trigger_show(request: web.Request) -> web.Response:
    return web.json_response({"trigger": _trigger_or_404(request).to_json(base_url(request))})


async def handle_trigger_update(request: web.Request) -> web.Response:
    """PUT /api/v2/triggers/{id}: 200 with the trigger (conditions or actions replace both).
    (https://developer.zendesk.com/api-reference/ticketing/business-rules/triggers/#update-ticket-trigger)"""
    state = request_state(request)
    trigger = _trigger_or_404(request)
    state.trigger_book.update(trigger, await _trigger_fields(request), _webhook_kind(state))
    return web.json_response({"trigger": trigger.to_json(base_url(request))})


async def handle_trigger_delete(request: web.Request) -> web.Response:
    trigger = _trigger_or_404(request)
    del request_state(request).trigger_book.triggers[trigger.id]
    return web.Response(status=204)


async def handle_triggers_update_many(request: web.Request) -> web.Response:
    """PUT /api/v2/triggers/update_many: position, active and category_id of many triggers.
    (https://developer.zendesk.com/api-reference/ticketing/business-rules/triggers/#update-many-ticket-triggers)"""
    payload = await read_json_object(request)
    updated = request_state(request).trigger_book.update_many(payload.get("triggers"))
    base = base_url(request)
    return web.json_response({"triggers": [trigger.to_json(base) for trigger in updated]})


# --- Trigger categories --------------------------------------------------------------------------


def _category_error(status: int, code: str, title: str) -> ApiError:
    return ApiError(status, {"errors": [{"code": code, "title": title}]})


async def handle_trigger_categories_list(request: web.Request) -> web.Response:
    """GET /api/v2/trigger_categories: cursor pages in position order.
    (https://developer.zendesk.com/api-reference/ticketing/business-rules/trigger_categories/#list-ticket-trigger-categories)"""
    state = request_state(request)
    categories = sorted(
        state.trigger_book.categories.values(), key=lambda category: (category.position, int(category.id))
    )
    try:
        size = cursor_page_size(request.query, MAX_LIST_PAGE_SIZE)
        page, meta, links = cursor_page(
            state.cursor_key,
            "trigger_category",
            categories,
            lambda category: (category.position, int(category.id)),
            (int, int),
            request.query,
            request.url,
            size,
        )
    except ApiError as error:
        raise _category_error(400, "InvalidPaginationParameter", error.body.get("description", "")) from None
    return web.json_response(
        {"trigger_categories": [category.to_json() for category in page], "meta": meta, "links": links}
    )


async def handle_trigger_category_create(request: web.Request) -> web.Response:
    """POST /api/v2/trigger_categories: 200 with the category (its position: last, unless given).
    (https://developer.zendesk.com/api-reference/ticketing/business-rules/trigger_categories/#create-ticket-trigger-category)"""
    payload = await read_json_object(request)
    fields = payload.get("trigger_category")
    if not isinstance(fields, dict):
        raise _category_error(400, "InvalidTriggerCategory", 'The body must be {"trigger_category": {...}}')
    name, position = fields.get("name"), fields.get("position")
    if not isinstance(name, str) or not name.strip():
        raise _category_error(400, "InvalidTriggerCategory", "Name cannot be blank")
    if position is not None and (isinstance(position, bool) or not isinstance(position, int)):
        raise _category_error(400, "InvalidTriggerCategory", "Position must be an integer")
    category = request_state(request).trigger_book.create_category(name, position)
    return web.json_response({"trigger_category": category.to_json()})


async def handle_trigger_category_show(request: web.Request) -> web.Response:
    category: TriggerCategory | None = request_state(request).trigger_book.categories.get(
        request.match_info["category_id"]
    )
    if category is None:
        raise _category_error(404, "TriggerCategoryNotFound", "Category can’t be found. Check the ID and try again.")
    return web.json_response({"trigger_category": category.to_json()})
