"""Ticket triggers in the Zendesk simulator: categories, triggers, their validation and how they run.

https://developer.zendesk.com/api-reference/ticketing/business-rules/triggers/ (the trigger
object; conditions and actions; updating either replaces both),
https://developer.zendesk.com/api-reference/ticketing/business-rules/trigger_categories/ and
https://support.zendesk.com/hc/en-us/articles/4408886797466 (how triggers run): on every ticket
creation and update, never on a closed ticket, every active trigger is checked in order
(category position, then trigger position, then id) on the ticket as it then stands; a trigger
fires at most once per update; after one fires and changes the ticket, the check starts again
from the top; it ends after a full pass in which nothing fired that changed the ticket.

The real engine knows many more condition fields and actions; the simulator supports the few
below and refuses the rest with a 422 naming them (less forgiving than Zendesk, on purpose: a
trigger the simulator accepts is one it really runs).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sim.common import ApiError
from sim.zendesk.wire import (
    PRIORITIES,
    PRIORITY_RANK,
    STATUS_RANK,
    STATUSES,
    TicketRecord,
    format_timestamp,
    normalize_tags,
    record_invalid,
)

# https://developer.zendesk.com/documentation/ticketing/reference-guides/via-types
VIA_WEB_FORM, VIA_EMAIL, VIA_WEB_SERVICE, VIA_RULE = "0", "4", "5", "8"
DEFAULT_CATEGORY_ID = "10001"

# Condition field -> operator -> what its value must be: "priority", "status" (a value or
# "" for none), "none" (null or absent), "tags", "via", "update_type".
_ORDERED = ("is", "is_not", "less_than", "greater_than")
CONDITIONS: dict[str, dict[str, str]] = {
    "update_type": {"is": "update_type"},
    "current_tags": {"includes": "tags", "not_includes": "tags"},
    "priority": {
        **dict.fromkeys(_ORDERED, "priority"),
        "changed": "none",
        "not_changed": "none",
        "value": "priority",
        "value_previous": "priority",
    },
    "status": {**dict.fromkeys(_ORDERED, "status"), "changed": "none"},
    "via_id": {"is": "via", "is_not": "via"},
    "current_via_id": {"is": "via", "is_not": "via"},
}
# Statuses a trigger may set: the action offers open, pending, on-hold and solved (a ticket is
# never set back to new, and only automations close tickets). The actions reference
# (https://developer.zendesk.com/documentation/ticketing/reference-guides/actions-reference/)
# was not at hand in full: docs silent: less forgiving reading.
TRIGGER_STATUSES = ("open", "pending", "hold", "solved")
TAG_ACTIONS = ("current_tags", "remove_tags", "set_tags")
PLACEHOLDER_RE = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


def invalid(field_name: str, description: str) -> ApiError:
    return ApiError(422, record_invalid(field_name, description))


# --- Categories and triggers ---------------------------------------------------------------------


@dataclass
class TriggerCategory:
    id: str
    name: str
    position: int
    created_at: str
    updated_at: str

    def to_json(self) -> dict:
        """Every field, in the order declared: the category as the API shows it."""
        return asdict(self)


@dataclass
class Trigger:
    id: int
    title: str
    description: str | None
    active: bool
    position: int
    category_id: str
    conditions: dict[str, list[dict]]
    actions: list[dict]
    created_at: str
    updated_at: str

    def to_json(self, base: str) -> dict:
        return {
            "id": self.id,
            "url": f"{base}/api/v2/triggers/{self.id}.json",
            "title": self.title,
            "raw_title": self.title,
            "description": self.description,
            "active": self.active,
            "position": self.position,
            "category_id": self.category_id,
            "conditions": {"all": list(self.conditions["all"]), "any": list(self.conditions["any"])},
            "actions": list(self.actions),
            "default": False,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


# --- Validation ----------------------------------------------------------------------------------


def _check_condition(condition: Any) -> None:
    if not isinstance(condition, dict) or not isinstance(condition.get("field"), str):
        raise invalid("conditions", "Every condition must be an object with field, operator and value")
    name, operator, value = condition["field"], condition.get("operator"), condition.get("value")
    operators = CONDITIONS.get(name)
    if operators is None:
        raise invalid(
            "conditions",
            f"The simulator does not support the condition field {name!r} (supported: {', '.join(CONDITIONS)})",
        )
    kind = operators.get(operator) if isinstance(operator, str) else None
    if kind is None:
        raise invalid(
            "conditions", f"{name} does not take the operator {operator!r} (supported: {', '.join(operators)})"
        )
    allowed = {"priority": ("", *PRIORITIES), "status": STATUSES, "update_type": ("Create", "Change")}
    if kind in allowed and value not in allowed[kind]:
        raise invalid("conditions", f"{name} {operator} takes one of {list(allowed[kind])}, not {value!r}")
    if kind == "none" and value is not None:
        raise invalid("conditions", f"{name} {operator} takes no value")
    if kind == "tags" and (not isinstance(value, str) or not value.split()):
        raise invalid("conditions", f"{name} {operator} takes space-separated tags")
    if kind == "via" and (not isinstance(value, str) or not value.isdigit()):
        raise invalid("conditions", f"{name} {operator} takes a via id, a string of digits")


def _checked_conditions(conditions: Any) -> dict[str, list[dict]]:
    if not isinstance(conditions, dict) or set(conditions) - {"all", "any"}:
        raise invalid("conditions", 'Conditions must be an object {"all": [...], "any": [...]}')
    checked = {"all": conditions.get("all") or [], "any": conditions.get("any") or []}
    if not all(isinstance(group, list) for group in checked.values()):
        raise invalid("conditions", "Conditions all and any must be lists")
    if not checked["all"]:
        raise invalid("conditions", "A trigger needs at least one condition in all")
    for condition in checked["all"] + checked["any"]:
        _check_condition(condition)
    return {group: [dict(condition) for condition in items] for group, items in checked.items()}


def _checked_actions(actions: Any, webhook_kind: Callable[[str], bool | None]) -> list[dict]:
    """``webhook_kind(id)``: None when no such webhook, else whether it serves triggers."""
    if not isinstance(actions, list) or not actions:
        raise invalid("actions", "A trigger needs at least one action")
    for action in actions:
        if not isinstance(action, dict) or not isinstance(action.get("field"), str):
            raise invalid("actions", "Every action must be an object with field and value")
        name, value = action["field"], action.get("value")
        if name == "priority" and value not in PRIORITIES:
            raise invalid("actions", f"priority takes one of {list(PRIORITIES)}, not {value!r}")
        elif name == "status" and value not in TRIGGER_STATUSES:
            raise invalid("actions", f"status takes one of {list(TRIGGER_STATUSES)}, not {value!r}")
        elif name in TAG_ACTIONS and (not isinstance(value, str) or (name != "set_tags" and not value.split())):
            raise invalid("actions", f"{name} takes space-separated tags")
        elif name == "notification_webhook":
            if not isinstance(value, list) or len(value) != 2 or not all(isinstance(part, str) for part in value):
                raise invalid("actions", "notification_webhook takes [webhook_id, body]")
            kind = webhook_kind(value[0])
            if kind is None:
                raise invalid("actions", f"notification_webhook names no webhook: {value[0]!r}")
            if not kind:
                raise invalid(
                    "actions",
                    f"webhook {value[0]} is subscribed to Zendesk events; a "
                    "trigger needs one subscribed to conditional_ticket_events",
                )
        elif name not in ("priority", "status", "notification_webhook", *TAG_ACTIONS):
            raise invalid("actions", f"The simulator does not support the action {name!r}")
    return [dict(action) for action in actions]


# --- The account's triggers ----------------------------------------------------------------------


class TriggerBook:
    """The account's trigger categories and triggers, and what firing them did (for /_sim/stats)."""

    def __init__(self) -> None:
        created = format_timestamp(time.time())
        self.categories: dict[str, TriggerCategory] = {
            DEFAULT_CATEGORY_ID: TriggerCategory(DEFAULT_CATEGORY_ID, "General", 1, created, created)
        }
        self.triggers: dict[int, Trigger] = {}
        self._next_category_id = int(DEFAULT_CATEGORY_ID) + 1
        self._next_trigger_id = 360_000_001
        self.fired: dict[str, int] = {}  # title -> times fired
        self.priority_changes = 0
        self.raised_tickets: set[int] = set()

    def create_category(self, name: str, position: int | None) -> TriggerCategory:
        if position is None:
            position = max((category.position for category in self.categories.values()), default=0) + 1
        now = format_timestamp(time.time())
        category = TriggerCategory(str(self._next_category_id), name, position, now, now)
        self._next_category_id += 1
        self.categories[category.id] = category
        return category

    def sort_key(self, trigger: Trigger) -> tuple[int, int, int]:
        """Where a trigger runs and lists: its category's position, its position, its id."""
        category = self.categories.get(trigger.category_id)
        return (category.position if category else 0), trigger.position, trigger.id

    def ordered(self) -> list[Trigger]:
        return sorted(self.triggers.values(), key=self.sort_key)

    def _checked_scalars(self, fields: dict) -> dict:
        """title, description, active, position and category_id of a create or update."""
        checked: dict[str, Any] = {}
        if "title" in fields:
            if not isinstance(fields["title"], str) or not fields["title"].strip():
                raise invalid("title", "Title: cannot be blank")
            checked["title"] = fields["title"]
        if "description" in fields:
            if fields["description"] is not None and not isinstance(fields["description"], str):
                raise invalid("description", "Description: must be a string")
            checked["description"] = fields["description"]
        if "active" in fields:
            if not isinstance(fields["active"], bool):
                raise invalid("active", "Active: must be true or false")
            checked["active"] = fields["active"]
        if "position" in fields:
            if isinstance(fields["position"], bool) or not isinstance(fields["position"], int):
                raise invalid("position", "Position: must be an integer")
            checked["position"] = fields["position"]
        if "category_id" in fields:
            if fields["category_id"] is None:
                raise invalid("category_id", "Category: is required")
            # The docs type category_id as a string: a number is refused (less forgiving reading).
            category_id = fields["category_id"]
            if not isinstance(category_id, str) or category_id not in self.categories:
                raise invalid("category_id", f"Category: {fields['category_id']!r} is not a trigger category")
            checked["category_id"] = category_id
        return checked

    def create(self, fields: dict, webhook_kind: Callable[[str], bool | None]) -> Trigger:
        checked = self._checked_scalars(fields)
        if "title" not in checked:
            raise invalid("title", "Title: cannot be blank")
        # Docs ambiguous on whether category_id is required; every example sends it (docs
        # silent: less forgiving reading).
        if "category_id" not in checked:
            raise invalid("category_id", "Category: is required")
        conditions = _checked_conditions(fields.get("conditions"))
        actions = _checked_actions(fields.get("actions"), webhook_kind)
        # "new triggers are added last" unless a position is given.
        position = checked.get("position", max((trigger.position for trigger in self.triggers.values()), default=0) + 1)
        now = format_timestamp(time.time())
        trigger = Trigger(
            id=self._next_trigger_id,
            title=checked["title"],
            description=checked.get("description"),
            active=checked.get("active", True),
            position=position,
            category_id=checked["category_id"],
            conditions=conditions,
            actions=actions,
            created_at=now,
            updated_at=now,
        )
        self._next_trigger_id += 1
        self.triggers[trigger.id] = trigger
        return trigger

    def update(self, trigger: Trigger, fields: dict, webhook_kind: Callable[[str], bool | None]) -> None:
        """A partial update, except that conditions or actions replace both arrays: "Updating a
        condition or action updates both the conditions and actions arrays, clearing all existing
        values of both arrays"."""
        checked = self._checked_scalars(fields)
        if "conditions" in fields or "actions" in fields:
            checked["conditions"] = _checked_conditions(fields.get("conditions", {}))
            checked["actions"] = _checked_actions(fields.get("actions", []), webhook_kind)
        for name, value in checked.items():
            setattr(trigger, name, value)
        trigger.updated_at = format_timestamp(time.time())

    def update_many(self, items: Any) -> list[Trigger]:
        """PUT /triggers/update_many: position, active and category_id of each; "Any additional
        properties are ignored". All or nothing, an unknown id a 404 (docs silent: less
        forgiving reading)."""
        if not isinstance(items, list) or not items or not all(isinstance(item, dict) for item in items):
            raise ApiError(
                400, {"error": "InvalidValue", "description": 'The body must be {"triggers": [{"id": ...}, ...]}'}
            )
        changes = []
        for item in items:
            trigger = self.triggers.get(item.get("id")) if isinstance(item.get("id"), int) else None
            if trigger is None:
                raise ApiError(404, {"error": "RecordNotFound", "description": "Not found"})
            kept = {name: item[name] for name in ("position", "active", "category_id") if name in item}
            changes.append((trigger, self._checked_scalars(kept)))
        for trigger, checked in changes:
            for name, value in checked.items():
                setattr(trigger, name, value)
            trigger.updated_at = format_timestamp(time.time())
        return [trigger for trigger, _ in changes]

    # Running -------------------------------------------------------------------------------------

    def run(self, record: TicketRecord, update: UpdateFacts) -> list[Firing]:
        """Run the active triggers on ``record`` (changing it) for one update; what fired, in order."""
        fired: set[int] = set()
        firings: list[Firing] = []
        while record.status != "closed":
            changed = False
            for trigger in (trigger for trigger in self.ordered() if trigger.active):
                if trigger.id in fired or not _matches(trigger, record, update):
                    continue
                fired.add(trigger.id)
                firing = _apply(trigger, record)
                firings.append(firing)
                self._count(firing, record)
                if firing.changes:
                    changed = True
                    break  # start again from the top, on the ticket as it now stands
            if not changed:
                break
        return firings

    def _count(self, firing: Firing, record: TicketRecord) -> None:
        title = firing.trigger.title
        self.fired[title] = self.fired.get(title, 0) + 1
        for name, value, previous in firing.changes:
            if name == "priority":
                self.priority_changes += 1
                if PRIORITY_RANK[value] > PRIORITY_RANK[previous]:
                    self.raised_tickets.add(record.id)


# --- Evaluation ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class UpdateFacts:
    """What triggers know of the update besides the ticket: its kind, how it and the ticket came
    in, and the ticket's priority and status before it. Before a creation there was nothing,
    so a created ticket's status, and its priority when it has one, have "changed" (docs
    silent)."""

    update_type: str  # "Create" or "Change"
    current_via_id: str
    priority_before: str | None
    status_before: str | None
    via_id: str = VIA_WEB_FORM  # every simulated ticket was created by a customer on the web form


@dataclass
class Firing:
    """A trigger that fired: what it changed (field, value, previous) and the webhooks it calls."""

    trigger: Trigger
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)
    notifications: list[tuple[str, str]] = field(default_factory=list)  # (webhook id, body)


def _compare(operator: str, value: str, current: str | None, before: str | None, rank: dict[Any, int]) -> bool:
    """A priority or status condition; "" stands for none."""
    wanted = value or None
    if operator == "is":
        return current == wanted
    if operator == "is_not":
        return current != wanted
    if operator in ("less_than", "greater_than"):
        # No priority is neither less nor greater than anything (docs silent: less forgiving
        # reading).
        if current is None:
            return False
        return (rank[current] < rank[wanted]) if operator == "less_than" else (rank[current] > rank[wanted])
    if operator == "changed":
        return current != before
    if operator == "not_changed":
        return current == before
    if operator == "value":  # changed to
        return current != before and current == wanted
    return current != before and before == wanted  # value_previous: changed from


def _holds(condition: dict, record: TicketRecord, update: UpdateFacts) -> bool:
    name, operator, value = condition["field"], condition["operator"], condition.get("value")
    if name == "update_type":
        return update.update_type == value
    if name == "current_tags":
        present = bool(set(value.lower().split()) & set(record.tags))
        return present if operator == "includes" else not present
    if name == "priority":
        return _compare(operator, value or "", record.priority, update.priority_before, PRIORITY_RANK)
    if name == "status":
        return _compare(operator, value or "", record.status, update.status_before, {None: -1, **STATUS_RANK})
    via = update.via_id if name == "via_id" else update.current_via_id
    return (via == value) if operator == "is" else (via != value)


def _matches(trigger: Trigger, record: TicketRecord, update: UpdateFacts) -> bool:
    conditions = trigger.conditions
    return all(_holds(condition, record, update) for condition in conditions["all"]) and (
        not conditions["any"] or any(_holds(c, record, update) for c in conditions["any"])
    )


def _apply(trigger: Trigger, record: TicketRecord) -> Firing:
    """Apply a trigger's actions to the ticket, in order."""
    firing = Firing(trigger)

    def change(name: str, value: Any) -> None:
        previous = getattr(record, name)
        if value != previous:
            firing.changes.append(
                (
                    name,
                    list(value) if isinstance(value, list) else value,
                    list(previous) if isinstance(previous, list) else previous,
                )
            )
            setattr(record, name, value)

    for action in trigger.actions:
        name, value = action["field"], action["value"]
        if name in ("priority", "status"):
            change(name, value)
        elif name == "current_tags":
            change("tags", list(dict.fromkeys([*record.tags, *normalize_tags(value, name)])))
        elif name == "remove_tags":
            removed = set(normalize_tags(value, name))
            change("tags", [tag for tag in record.tags if tag not in removed])
        elif name == "set_tags":
            change("tags", normalize_tags(value, name))
        elif name == "notification_webhook":
            firing.notifications.append((value[0], value[1]))
    return firing


def render_placeholders(template: str, record: TicketRecord) -> str:
    """A webhook body with its placeholders filled from the ticket as saved.

    https://support.zendesk.com/hc/en-us/articles/4408886858138 (placeholders, case sensitive)
    and https://support.zendesk.com/hc/en-us/articles/203662116 ("If a placeholder references a
    field that doesn't have a value, the placeholder is blank"). Values are inserted as they
    are, not escaped for JSON (docs silent); status and priority read as the agent interface
    shows them, "Open", "High" (docs silent: less forgiving reading, a receiver must not expect
    the API's lower-case values). Unknown placeholders render empty.
    """
    values = {
        "ticket.id": str(record.id),
        "ticket.title": record.subject,
        "ticket.status": record.status.capitalize(),
        "ticket.priority": (record.priority or "").capitalize(),
        "ticket.tags": " ".join(record.tags),
        "ticket.via": "Web Form",
    }
    return PLACEHOLDER_RE.sub(lambda match: values.get(match.group(1), ""), template)
