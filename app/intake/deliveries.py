"""What a webhook delivery names: the ticket id, from either body Zendesk sends.

- A trigger or automation with the README's body: `{"ticket_id": "{{ticket.id}}"}` (placeholders
  render as strings, so "123" and 123 are both taken).
- An event webhook: `{"type": "zen:event-type:ticket.created", "detail": {"id": "123", ...}}`
  (https://developer.zendesk.com/api-reference/webhooks/event-types/ticket-events/). Other ticket
  events are answered but start nothing: a webhook subscribed to more events than creation must not
  look failing to Zendesk, which pauses webhooks that fail.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

TICKET_CREATED = "zen:event-type:ticket.created"
MAX_BODY_BYTES = 1024 * 1024


class BadDelivery(Exception):
    """The body cannot name a ticket; the message says why (no ticket text in it)."""


@dataclass(frozen=True)
class Delivery:
    """A delivery's meaning: the ticket it names, or why it asks for nothing."""

    ticket_id: int | None
    ignored: str | None = None


def _ticket_id(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise BadDelivery("ticket id is not a number")
    text = str(value).strip()
    if not text.isdigit() or int(text) <= 0:
        raise BadDelivery("ticket id is not a positive whole number")
    return int(text)


def parse_delivery(body: bytes) -> Delivery:
    """The ticket a delivery names. Raises BadDelivery for a body that is not JSON or names none."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BadDelivery("body is not JSON") from e
    if not isinstance(data, dict):
        raise BadDelivery("body is not a JSON object")
    if "ticket_id" in data:
        return Delivery(_ticket_id(data["ticket_id"]))
    event = data.get("type")
    if isinstance(event, str) and event.startswith("zen:event-type:"):
        if event != TICKET_CREATED:
            return Delivery(None, ignored=f"event {event} is not handled")
        detail = data.get("detail")
        if not isinstance(detail, dict) or "id" not in detail:
            raise BadDelivery("ticket.created event without detail.id")
        return Delivery(_ticket_id(detail["id"]))
    raise BadDelivery("no ticket_id and no Zendesk event type")
