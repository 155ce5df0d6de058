"""What the Zendesk API says: its vocabulary, limits, timestamps and error bodies, and tickets.

``TicketRecord`` holds one ticket with its comments and audits and shows it the way the API
does; ``make_comment`` and the audit builders shape what the ticket's history looks like.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from sim.common import ApiError
from sim.ticketgen import GeneratedTicket

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
STATUS_RANK = {status: rank for rank, status in enumerate(STATUSES)}
PRIORITIES = ("low", "normal", "high", "urgent")
# A ticket without priority sorts below "low", so raising it from nothing is a raise.
PRIORITY_RANK = {None: 0, "low": 1, "normal": 2, "high": 3, "urgent": 4}

SEARCH_RESULT_LIMIT = 1000
MAX_SEARCH_PER_PAGE = 100
MAX_EXPORT_PAGE_SIZE = 1000
DEFAULT_EXPORT_PAGE_SIZE = 100  # the size Zendesk recommends
EXPORT_FILTER_TYPES = ("ticket", "user", "organization", "group")
MAX_BULK_ITEMS = 100
MAX_SHOW_MANY_IDS = 100
# https://developer.zendesk.com/api-reference/ticketing/ticket-management/incremental_exports/
# (the cursor-based ticket export pages up to 1,000 tickets, its default too)
MAX_INCREMENTAL_PER_PAGE = 1000
# https://developer.zendesk.com/api-reference/introduction/pagination/ (offset pages and cursor
# pages of list endpoints such as a ticket's audits hold at most 100 records)
MAX_LIST_PAGE_SIZE = 100

# The route names (sim.zendesk.app) of the webhooks and triggers APIs.
WEBHOOK_ENDPOINTS = (
    "webhooks_list",
    "webhook_create",
    "webhook_show",
    "webhook_update",
    "webhook_patch",
    "webhook_delete",
    "webhook_secret_show",
    "webhook_secret_reset",
)
TRIGGER_ENDPOINTS = (
    "triggers_list",
    "trigger_create",
    "trigger_show",
    "trigger_update",
    "trigger_delete",
    "triggers_update_many",
    "trigger_categories_list",
    "trigger_category_create",
    "trigger_category_show",
)
ENDPOINTS = (
    "search",
    "export",
    "ticket_get",
    "show_many",
    "ticket_update",
    "ticket_delete",
    "update_many",
    "job_status",
    "comments",
    "tags",
    "incremental",
    "audits",
    "users_me",
    "oauth_token_revoke",
    *WEBHOOK_ENDPOINTS,
    *TRIGGER_ENDPOINTS,
)

UPDATE_CONFLICT = {
    "error": "UpdateConflict",
    "description": "Safe Update prevented the update due to outdated ticket data. "
    "Please fetch the latest ticket data and try again.",
}
SEARCH_LIMIT_EXCEEDED = {
    "error": "invalid",
    "description": "Invalid search: Requested response size was greater than Search Response Limits",
}
# https://developer.zendesk.com/api-reference/ticketing/ticket-management/search/#export-search-results
# "searches with type in the query string will result in an error": the type goes in filter[type].
EXPORT_TYPE_IN_QUERY = {
    "error": "InvalidSearchParameter",
    "description": "Searches with type in the query string are not supported by the export; "
    "pass the type in filter[type]",
}
EXPORT_CURSOR_EXPIRED = {
    "error": "InvalidPaginationParameter",
    "description": "The pagination cursor has expired; start the export again",
}
EXPORT_NO_BACKWARD_PAGING = {
    "error": "InvalidPaginationParameter",
    "description": "page[before] is not supported: the export pages forward only",
}
INVALID_CURSOR = {"error": "InvalidPaginationParameter", "description": "The pagination cursor is invalid"}
# The users the account knows by id: the API user (author of what the API writes, creator of
# webhooks and triggers) was created long before any simulated ticket.
API_USER_ID = 1_000_001
API_USER_CREATED_AT = 1_577_836_800  # 2020-01-01
JOB_STATUS_ACTIVE = ("queued", "working")


# --- Small helpers ----------------------------------------------------------------------


def format_timestamp(epoch_seconds: float) -> str:
    """ISO 8601 UTC with second precision, the way Zendesk writes timestamps."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch_seconds))


def parse_timestamp(text: str) -> float | None:
    """Epoch seconds for an ISO 8601 timestamp or date (naive means UTC); None if unparseable."""
    try:
        parsed = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def error_name(status: int) -> str:
    """Zendesk-style error name for a status without a more specific one ("ServiceUnavailable")."""
    try:
        return HTTPStatus(status).phrase.replace(" ", "").replace("-", "")
    except ValueError:
        return "Error"


def record_invalid(field_name: str, description: str) -> dict:
    """Body of a 422 RecordInvalid answer about one field."""
    return {
        "error": "RecordInvalid",
        "description": "Record validation errors",
        "details": {field_name: [{"description": description}]},
    }


def injected_failure_body(status: int) -> dict:
    """Body for an injected per-ticket update failure with the given status."""
    if status == 422:
        return record_invalid("base", "Simulated failure")
    if status == 409:
        return dict(UPDATE_CONFLICT)
    if status == 404:
        return {"error": "RecordNotFound", "description": "Not found"}
    return {"error": error_name(status), "description": "Simulated failure"}


def too_recent_start_time(delay: float) -> dict:
    """Body of the 422 for an incremental export start_time within the excluded last moments.

    The wording is Zendesk's (clients match on its "Too recent start_time." prefix).
    """
    span = "one minute" if delay == 60 else f"{delay:g} seconds"
    return {"error": "InvalidValue", "description": f"Too recent start_time. Use a start_time older than {span}."}


def not_found() -> ApiError:
    """Zendesk's 404 for a ticket, job or page that does not exist."""
    return ApiError(404, {"error": "RecordNotFound", "description": "Not found"})


def bad_request(description: str, error: str = "InvalidValue") -> ApiError:
    """A 400 with Zendesk's error shape."""
    return ApiError(400, {"error": error, "description": description})


def normalize_tags(value: Any, field_name: str) -> list[str]:
    """Zendesk tags: lower case, whitespace separates tags, no duplicates, order kept."""
    if isinstance(value, str):
        pieces = value.split()
    elif isinstance(value, list) and all(isinstance(tag, str) for tag in value):
        pieces = [piece for tag in value for piece in tag.split()]
    else:
        raise ApiError(422, record_invalid(field_name, f"{field_name} must be a list of strings"))
    return list(dict.fromkeys(piece.lower() for piece in pieces))


def describe_error(body: dict) -> str:
    """One line of text from an error body, for job results."""
    details = body.get("details") or {}
    texts = [item["description"] for entries in details.values() for item in entries]
    return "; ".join(texts) or body.get("description") or body.get("error", "")


def validated_changes(fields: dict) -> tuple[dict, tuple[str, bool] | None]:
    """Check the writable fields of an update; return the changes and the comment, if any.

    Unknown fields are ignored, as Zendesk ignores them. Raises ApiError(422) when invalid.
    """
    changes: dict[str, Any] = {}
    for name in ("tags", "additional_tags", "remove_tags"):
        if name in fields:
            changes[name] = normalize_tags(fields[name], name)
    if "priority" in fields:
        if fields["priority"] not in PRIORITIES:
            raise ApiError(422, record_invalid("priority", f"Priority: {fields['priority']!r} is not valid"))
        changes["priority"] = fields["priority"]
    if "status" in fields:
        if fields["status"] not in STATUSES:
            raise ApiError(422, record_invalid("status", f"Status: {fields['status']!r} is not valid"))
        changes["status"] = fields["status"]
    if "subject" in fields:
        if not isinstance(fields["subject"], str) or not fields["subject"].strip():
            raise ApiError(422, record_invalid("subject", "Subject: cannot be blank"))
        changes["subject"] = fields["subject"]
    comment = None
    if "comment" in fields:
        raw = fields["comment"]
        body = raw.get("body") if isinstance(raw, dict) else None
        public = raw.get("public", True) if isinstance(raw, dict) else None
        if not isinstance(body, str) or not body.strip() or not isinstance(public, bool):
            raise ApiError(422, record_invalid("comment", "Comment: body is required and public must be a boolean"))
        comment = (body, public)
    return changes, comment


# --- Tickets ------------------------------------------------------------------------------


@dataclass
class TicketRecord:
    """One ticket with its comments and the bookkeeping behind /_sim/stats."""

    id: int
    subject: str
    description: str
    status: str
    priority: str | None
    type: str | None
    tags: list[str]
    requester_id: int
    assignee_id: int | None
    organization_id: int | None
    group_id: int | None
    created_at: int
    updated_at: int
    comments: list[dict] = field(default_factory=list)
    audits: list[dict] = field(default_factory=list)  # oldest first, as the Audits API lists them
    api_updates: list[dict] = field(default_factory=list)
    # What people set (seeding, /_sim/tickets, agent edits): the fleet must never lose a
    # protected tag nor lower the priority below the protected one.
    protected_tags: set[str] = field(default_factory=set)
    protected_priority: str | None = None
    # An agent set the priority by hand (agent_edit); overridden: an API write or a trigger
    # changed it afterwards, which a correct fleet never does.
    hand_priority: bool = False
    hand_priority_overridden: bool = False
    # What triggers changed, oldest first: {"at", "trigger_id", "title", "field", "value", "previous"}.
    trigger_changes: list[dict] = field(default_factory=list)
    api_private_notes: int = 0
    generated: GeneratedTicket | None = None
    # Epoch seconds, for latency benchmarks: when it was created, and when the API first wrote it.
    created_precise: float = 0.0
    first_api_write_at: float | None = None
    # POST /_sim/agents/finish: the truth a hand-written ticket was given there (generated tickets
    # carry theirs in ``generated``), and what the agent who finished the ticket decided
    # (root_cause, urgency, sentiment, priority) and who that was.
    given_truth: dict[str, str] | None = None
    agent_decision: dict[str, str] | None = None
    finished_by: int | None = None

    def touch(self) -> None:
        """Advance updated_at to now, and always past its old value so stamps stay exact."""
        self.updated_at = max(int(time.time()), self.updated_at + 1)

    def to_json(self) -> dict:
        """The ticket as the API shows it; "url" is a path the handler prefixes with the host."""
        return {
            "id": self.id,
            "url": f"/api/v2/tickets/{self.id}.json",
            "external_id": None,
            "type": self.type,
            "subject": self.subject,
            "raw_subject": self.subject,
            "description": self.description,
            "priority": self.priority,
            "status": self.status,
            "requester_id": self.requester_id,
            "submitter_id": self.requester_id,
            "assignee_id": self.assignee_id,
            "organization_id": self.organization_id,
            "group_id": self.group_id,
            "tags": list(self.tags),
            "custom_fields": [],
            "created_at": format_timestamp(self.created_at),
            "updated_at": format_timestamp(self.updated_at),
        }


def make_comment(comment_id: int, author_id: int, body: str, public: bool, created_at: int) -> dict:
    """A comment as the API shows it (plain and HTML body)."""
    paragraphs = html.escape(body).replace("\n", "<br>")
    return {
        "id": comment_id,
        "type": "Comment",
        "author_id": author_id,
        "body": body,
        "html_body": f'<div class="zd-comment" dir="auto"><p dir="auto">{paragraphs}</p></div>',
        "plain_body": body,
        "public": public,
        "created_at": format_timestamp(created_at),
        "attachments": [],
    }


# --- Audits --------------------------------------------------------------------------------
# https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_audits/ (one audit per
# update: its author, how it came in and its events) and
# https://developer.zendesk.com/documentation/ticketing/reference-guides/ticket-audit-events-reference
# (Create events for a new ticket's properties, Change events with the previous value, Comment
# events that are the comment itself).

# A new ticket's Create events, in the order Zendesk lists them after the first Comment; unset
# properties still get one (value null). The description is that first Comment, no Create event.
CREATE_EVENT_FIELDS = ("requester_id", "subject", "tags", "priority", "type", "status")


def audit_value(field_name: str, value: Any) -> Any:
    """A property as audit events carry it: ids as strings, tags as a list of their own."""
    if field_name.endswith("_id") and value is not None:
        return str(value)
    return list(value) if isinstance(value, list) else value


def create_event(event_id: int, field_name: str, value: Any) -> dict:
    """A property set on a new ticket."""
    return {"id": event_id, "type": "Create", "field_name": field_name, "value": audit_value(field_name, value)}


def change_event(event_id: int, field_name: str, value: Any, previous: Any) -> dict:
    """A property changed by an update (for tags: whole lists, before and after)."""
    return {
        "id": event_id,
        "type": "Change",
        "field_name": field_name,
        "value": audit_value(field_name, value),
        "previous_value": audit_value(field_name, previous),
    }


def rule_change_event(event_id: int, field_name: str, value: Any, previous: Any, trigger_id: int, title: str) -> dict:
    """A property a trigger changed, in the audit of the update it ran on: its via names the
    trigger (channel "rule", via id 8 in
    https://developer.zendesk.com/documentation/ticketing/reference-guides/via-types)."""
    return {
        **change_event(event_id, field_name, value, previous),
        "via": {
            "channel": "rule",
            "source": {"from": {"id": trigger_id, "title": title, "deleted": False}, "to": {}, "rel": "trigger"},
        },
    }


def comment_event(comment: dict, audit_id: int) -> dict:
    """A comment as its audit lists it: the same id, body and visibility, and the audit's id."""
    event = {name: value for name, value in comment.items() if name != "created_at"}
    event["audit_id"] = audit_id
    return event


def make_audit(
    audit_id: int, ticket_id: int, created_at: int, author_id: int, channel: str, events: list[dict]
) -> dict:
    """An audit as the API shows it; ``channel`` is how the update came in ("web", "api")."""
    return {
        "id": audit_id,
        "ticket_id": ticket_id,
        "created_at": format_timestamp(created_at),
        "author_id": author_id,
        "metadata": {"system": {}, "custom": {}},
        "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
        "events": events,
    }


# --- Users ---------------------------------------------------------------------------------


def make_user(user_id: int, email: str, name: str, role: str, created_at: int) -> dict:
    """A user as the API shows it; "url" is a path the handler prefixes with the host.

    https://developer.zendesk.com/api-reference/ticketing/users/users/ (JSON format)
    """
    stamp = format_timestamp(created_at)
    return {
        "id": user_id,
        "url": f"/api/v2/users/{user_id}.json",
        "name": name,
        "email": email,
        "created_at": stamp,
        "updated_at": stamp,
        "time_zone": "UTC",
        "iana_time_zone": "Etc/UTC",
        "phone": None,
        "locale": "en-US",
        "locale_id": 1,
        "organization_id": None,
        "role": role,
        "role_type": None,
        "custom_role_id": None,
        "verified": True,
        "active": True,
        "suspended": False,
        "restricted_agent": False,
        "moderator": role == "admin",
        "ticket_restriction": None,
        "only_private_comments": False,
        "shared": False,
        "shared_agent": False,
        "two_factor_auth_enabled": None,
        "signature": None,
        "details": "",
        "notes": "",
        "alias": None,
        "external_id": None,
        "tags": [],
        "user_fields": {},
        "photo": None,
        "last_login_at": None,
    }
