"""The Webhooks API of the Zendesk simulator: webhooks, their signing secrets, and their validation.

https://developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/ (the JSON format,
list/create/show/update/patch/delete, the signing secret) and
https://developer.zendesk.com/documentation/webhooks/creating-and-monitoring-webhooks/ (a webhook
either serves triggers and automations, ``["conditional_ticket_events"]``, or subscribes to
Zendesk events, which need POST and JSON; "You can't change an existing webhook's connection
method"). Its paths take no ``.json`` suffix (an observed difference from the older APIs,
https://github.com/blakmatrix/node-zendesk/pull/389: the suffixed path is a 404). Errors come in
the JSON:API shape of Zendesk's newer APIs, ``{"errors": [{"code", "title", "detail",
"source"}]}``: the docs list the statuses but do not show the body, so the shape is the
simulator's reading. Deleting a webhook a trigger still names is allowed; the trigger then calls
nothing (docs silent).

``WebhookBook`` keeps the account's webhooks; deliveries are ``sim.zendesk.webhooks``'.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from yarl import URL

from sim.common import STATE_KEY, ApiError
from sim.zendesk.cursors import cursor_page, cursor_page_size
from sim.zendesk.wire import API_USER_ID, format_timestamp

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
REQUEST_FORMATS = ("json", "xml", "form_encoded")
WEBHOOK_STATUSES = ("active", "inactive")
CONDITIONAL_TICKET_EVENTS = "conditional_ticket_events"
EVENT_TYPE_PREFIX = "zen:event-type:"
TICKET_CREATED_EVENT = "zen:event-type:ticket.created"
# https required (docs silent on http endpoints: less forgiving reading), except to the hosts of
# --http-webhook-hosts (the loopback ones by default): the simulator's one concession, so a demo on
# one machine (or one compose network) can receive its webhooks without TLS.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
REQUIRED_FIELDS = ("name", "endpoint", "http_method", "request_format", "status", "subscriptions")
# Documented fields the simulator does not model, and the read-only ones: accepted and ignored,
# so a client may send back what it read. Any other field is refused (docs silent: less
# forgiving reading).
UNMODELLED_FIELDS = ("authentication", "custom_headers", "external_source", "signing_secret")
READ_ONLY_FIELDS = ("id", "created_at", "created_by", "updated_at", "updated_by")
IGNORED_FIELDS = (*UNMODELLED_FIELDS, *READ_ONLY_FIELDS)
DEFAULT_PAGE_SIZE = 20  # the list's default page[size]
CROCKFORD_BASE32 = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_webhook_id() -> str:
    """A 26-character ULID like Zendesk's webhook ids ("01FMJQSY40HZBCBVPZB9212S8V"): 48 bits
    of milliseconds, then 80 random bits, in Crockford's base32."""
    value = (int(time.time() * 1000) << 80) | secrets.randbits(80)
    return "".join(CROCKFORD_BASE32[(value >> shift) & 31] for shift in range(125, -1, -5))


def new_signing_secret() -> str:
    return secrets.token_urlsafe(32)


# --- Errors --------------------------------------------------------------------------------------


def json_api_error(status: int, code: str, title: str, detail: str, pointer: str | None = None) -> ApiError:
    """An error of the newer APIs: ``{"errors": [{"code", "title", "detail", "source"}]}``."""
    error: dict[str, Any] = {"code": code, "title": title, "detail": detail}
    if pointer is not None:
        error["source"] = {"pointer": pointer}
    return ApiError(status, {"errors": [error]})


def invalid_input(problems: list[tuple[str, str]]) -> ApiError:
    """The 400 listing every (field, what is wrong) of a webhook."""
    return ApiError(
        400,
        {
            "errors": [
                {
                    "code": "InvalidInput",
                    "title": "Invalid input",
                    "detail": detail,
                    "source": {"pointer": f"/webhook/{name}" if name else "/webhook"},
                }
                for name, detail in problems
            ]
        },
    )


def webhook_not_found(webhook_id: str) -> ApiError:
    return json_api_error(404, "WebhookNotFound", "Webhook not found", f"No webhook with id {webhook_id}")


def as_json_api(error: ApiError) -> ApiError:
    """A classic ``{"error", "description"}`` 400 (a bad cursor or page size) in the JSON:API shape."""
    body = error.body
    return json_api_error(
        error.status, body.get("error", "InvalidInput"), "Invalid pagination parameter", body.get("description", "")
    )


# --- Webhooks ------------------------------------------------------------------------------------


@dataclass
class Webhook:
    """One webhook of the account; ``sequence`` orders them in the list."""

    id: str
    sequence: int
    name: str
    description: str | None
    status: str
    endpoint: str
    http_method: str
    request_format: str
    subscriptions: list[str]
    created_at: str
    updated_at: str
    signing_secret: str = field(default_factory=new_signing_secret)

    @property
    def conditional(self) -> bool:
        """Serves triggers and automations (rather than Zendesk events)."""
        return self.subscriptions == [CONDITIONAL_TICKET_EVENTS]

    def to_json(self) -> dict:
        """The webhook as show and list answer it: never with its signing secret."""
        return {
            "id": self.id,
            **self.editable(),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "created_by": str(API_USER_ID),
            "updated_by": str(API_USER_ID),
        }

    def editable(self) -> dict:
        """The fields a PATCH merges into."""
        return {
            "name": self.name,
            "description": self.description,
            "status": self.status,
            "endpoint": self.endpoint,
            "http_method": self.http_method,
            "request_format": self.request_format,
            "subscriptions": list(self.subscriptions),
        }


def _endpoint_problem(endpoint: Any, http_hosts: tuple[str, ...]) -> str | None:
    if not isinstance(endpoint, str) or not endpoint.strip():
        return "endpoint is required"
    try:
        url = URL(endpoint)
    except ValueError:
        return "endpoint must be an absolute URL"
    if not url.is_absolute() or url.scheme not in ("http", "https") or not url.host:
        return "endpoint must be an absolute http(s) URL"
    if url.scheme == "http" and url.host not in http_hosts:
        return "endpoint must use https"
    return None


def _subscription_problems(fields: dict) -> list[tuple[str, str]]:
    subscriptions = fields.get("subscriptions")
    if (
        not isinstance(subscriptions, list)
        or not subscriptions
        or not all(isinstance(item, str) for item in subscriptions)
    ):
        return [("subscriptions", "subscriptions must be a non-empty list of strings")]
    if len(set(subscriptions)) != len(subscriptions):
        return [("subscriptions", "subscriptions must not repeat an entry")]
    if CONDITIONAL_TICKET_EVENTS in subscriptions:
        if subscriptions != [CONDITIONAL_TICKET_EVENTS]:
            return [("subscriptions", f"{CONDITIONAL_TICKET_EVENTS} must be the only subscription")]
        return []
    problems = [
        ("subscriptions", f"{item!r} is neither {CONDITIONAL_TICKET_EVENTS} nor a {EVENT_TYPE_PREFIX}... event type")
        for item in subscriptions
        if not item.startswith(EVENT_TYPE_PREFIX) or len(item) == len(EVENT_TYPE_PREFIX)
    ]
    # Zendesk events are sent only as JSON POSTs.
    if fields.get("http_method") != "POST":
        problems.append(("http_method", "a webhook subscribed to Zendesk events must use POST"))
    if fields.get("request_format") != "json":
        problems.append(("request_format", "a webhook subscribed to Zendesk events must use json"))
    return problems


def validated_webhook(fields: dict, http_hosts: tuple[str, ...] = LOOPBACK_HOSTS) -> dict:
    """The webhook's fields when valid (ignored ones dropped); a 400 naming every problem."""
    problems: list[tuple[str, str]] = []
    known = (*REQUIRED_FIELDS, "description", *IGNORED_FIELDS)
    problems += [(name, f"{name} is not a webhook field") for name in fields if name not in known]
    for name in REQUIRED_FIELDS:
        if fields.get(name) is None:
            problems.append((name, f"{name} is required"))
    name = fields.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        problems.append(("name", "name must be a non-blank string"))
    description = fields.get("description")
    if description is not None and not isinstance(description, str):
        problems.append(("description", "description must be a string"))
    if fields.get("endpoint") is not None:
        problem = _endpoint_problem(fields["endpoint"], http_hosts)
        if problem:
            problems.append(("endpoint", problem))
    for name, allowed in (
        ("http_method", HTTP_METHODS),
        ("request_format", REQUEST_FORMATS),
        ("status", WEBHOOK_STATUSES),
    ):
        if fields.get(name) is not None and fields[name] not in allowed:
            problems.append((name, f"{name} must be one of {', '.join(allowed)}"))
    if fields.get("subscriptions") is not None:
        problems += _subscription_problems(fields)
    if problems:
        raise invalid_input(problems)
    return {name: fields.get(name) for name in (*REQUIRED_FIELDS, "description")}


class WebhookBook:
    """The account's webhooks, in the order they were created."""

    def __init__(self, http_hosts: tuple[str, ...] = LOOPBACK_HOSTS) -> None:
        self.webhooks: dict[str, Webhook] = {}
        self._sequence = 0
        self.http_hosts = http_hosts  # hosts an endpoint may reach over plain http

    def get(self, webhook_id: str) -> Webhook | None:
        return self.webhooks.get(webhook_id)

    def subscribed_to(self, event_type: str) -> list[Webhook]:
        """The active webhooks subscribed to a Zendesk event type."""
        return [
            webhook
            for webhook in self.webhooks.values()
            if webhook.status == "active" and event_type in webhook.subscriptions
        ]

    def create(self, fields: dict) -> Webhook:
        valid = validated_webhook(fields, self.http_hosts)
        self._sequence += 1
        now = format_timestamp(time.time())
        webhook = Webhook(id=new_webhook_id(), sequence=self._sequence, created_at=now, updated_at=now, **valid)
        self.webhooks[webhook.id] = webhook
        return webhook

    def update(self, webhook: Webhook, fields: dict) -> None:
        """Replace the webhook's fields with ``fields`` (checked whole, as a create is)."""
        valid = validated_webhook(fields, self.http_hosts)
        if (valid["subscriptions"] == [CONDITIONAL_TICKET_EVENTS]) != webhook.conditional:
            raise invalid_input([("subscriptions", "You can't change an existing webhook's connection method")])
        for name, value in valid.items():
            setattr(webhook, name, value)
        webhook.updated_at = format_timestamp(time.time())


# --- Handlers ------------------------------------------------------------------------------------


def _book(request: web.Request) -> WebhookBook:
    return request.app[STATE_KEY].webhook_book


def _webhook_or_404(request: web.Request) -> Webhook:
    webhook_id = request.match_info["webhook_id"]
    webhook = _book(request).get(webhook_id)
    if webhook is None:
        raise webhook_not_found(webhook_id)
    return webhook


async def _webhook_fields(request: web.Request) -> dict:
    """The ``webhook`` object of the body (PATCH may come as application/merge-patch+json)."""
    try:
        payload = await request.json()
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        payload = None
    fields = payload.get("webhook") if isinstance(payload, dict) else None
    if not isinstance(fields, dict):
        raise invalid_input([("", 'The body must be a JSON object {"webhook": {...}}')])
    return fields


async def handle_webhooks_list(request: web.Request) -> web.Response:
    """GET /api/v2/webhooks: cursor pages (page[size] 20 by default, at most 100), filtered by
    filter[name_contains] (any case) and filter[status].
    (https://developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/#list-webhooks)"""
    params = request.query
    status = params.get("filter[status]")
    if status is not None and status not in WEBHOOK_STATUSES:
        raise json_api_error(400, "InvalidInput", "Invalid input", "filter[status] must be active or inactive")
    contains = params.get("filter[name_contains]", "").lower()
    webhooks = [
        webhook
        for webhook in _book(request).webhooks.values()
        if contains in webhook.name.lower() and status in (None, webhook.status)
    ]
    try:
        size = cursor_page_size(params, DEFAULT_PAGE_SIZE)
        page, meta, links = cursor_page(
            request.app[STATE_KEY].cursor_key,
            "webhook",
            webhooks,
            lambda webhook: (webhook.sequence,),
            (int,),
            params,
            request.url,
            size,
        )
    except ApiError as error:
        raise as_json_api(error) from None
    return web.json_response({"webhooks": [webhook.to_json() for webhook in page], "meta": meta, "links": links})


async def handle_webhook_create(request: web.Request) -> web.Response:
    """POST /api/v2/webhooks: 201 with the webhook (its signing secret made with it).
    (https://developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/#create-or-clone-webhook)"""
    webhook = _book(request).create(await _webhook_fields(request))
    return web.json_response({"webhook": webhook.to_json()}, status=201)


async def handle_webhook_show(request: web.Request) -> web.Response:
    return web.json_response({"webhook": _webhook_or_404(request).to_json()})


async def handle_webhook_update(request: web.Request) -> web.Response:
    """PUT /api/v2/webhooks/{id}: a full replacement, 204 without a body.
    (https://developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/#update-webhook)"""
    webhook = _webhook_or_404(request)
    _book(request).update(webhook, await _webhook_fields(request))
    return web.Response(status=204)


async def handle_webhook_patch(request: web.Request) -> web.Response:
    """PATCH /api/v2/webhooks/{id}: the fields given replace those of the webhook, 204."""
    webhook = _webhook_or_404(request)
    _book(request).update(webhook, {**webhook.editable(), **await _webhook_fields(request)})
    return web.Response(status=204)


async def handle_webhook_delete(request: web.Request) -> web.Response:
    webhook = _webhook_or_404(request)
    del _book(request).webhooks[webhook.id]
    return web.Response(status=204)


def _secret_json(webhook: Webhook) -> dict:
    return {"signing_secret": {"algorithm": "SHA256", "secret": webhook.signing_secret}}


async def handle_webhook_secret_show(request: web.Request) -> web.Response:
    """GET /api/v2/webhooks/{id}/signing_secret.
    (https://developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/#show-webhook-signing-secret)"""
    return web.json_response(_secret_json(_webhook_or_404(request)))


async def handle_webhook_secret_reset(request: web.Request) -> web.Response:
    """POST /api/v2/webhooks/{id}/signing_secret: a new secret, 201; deliveries sign with it."""
    webhook = _webhook_or_404(request)
    webhook.signing_secret = new_signing_secret()
    return web.json_response(_secret_json(webhook), status=201)
