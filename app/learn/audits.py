"""Who set what on a ticket, read from Zendesk: shared by `train --from-zendesk` (app.learn.history)
and `accuracy` (app.learn.accuracy).

The tickets changed since a moment come from the Incremental Ticket Export, one pass, page by page
(`changed_tickets`); a ticket's audits say who changed what. An audit is one update: its author,
how it came in (`via`) and its events
(https://developer.zendesk.com/api-reference/ticketing/tickets/ticket_audits/). Three kinds of
author are told apart (`AuditReader.author`):
- a rule: a trigger's changes sit in the audit of the update that fired them, each event with a
  `via` of its own, channel "rule" and `source.rel` "trigger"; an automation's say "automation"
  (the Via object reference,
  https://developer.zendesk.com/documentation/ticketing/reference-guides/via-object-reference, and
  channel "rule" is via id 8 in .../reference-guides/via-types). Zendesk itself writes as author
  -1 ("system"): no person either;
- the fleet: its own user, the one its credential acts as (`users/me`);
- a person: anyone else, the requester's Create audit included (the priority they chose).
Both readers call Zendesk through `patiently`: the fleet's shared quota and Zendesk's 429s are
waited out, up to QUOTA_PATIENCE seconds a call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from app.errors import waiting_out
from app.learn.training import value_lookup

if TYPE_CHECKING:
    from app.clients.zendesk import ZendeskClient
    from app.domain.taxonomy import Taxonomy

T = TypeVar("T")
QUOTA_PATIENCE = 900.0  # seconds a single call may wait for the shared quota before giving up
SOLVED = frozenset({"solved", "closed"})
# The key the ticket's own priority goes under, beside the taxonomy's fields (as Prediction.written
# and Prediction.field_modes name it).
PRIORITY = "priority"
RULES = frozenset({"trigger", "automation"})
Author = Literal["rule", "fleet", "person"]


def patiently(call: Callable[[], T]) -> T:
    """Run `call`, waiting out the shared quota and Zendesk's 429s up to QUOTA_PATIENCE seconds a call."""
    return waiting_out(call, QUOTA_PATIENCE)


def changed_tickets(client: ZendeskClient, start: int) -> Iterator[dict[str, Any]]:
    """Every ticket changed since `start` (Unix seconds), as the Incremental Ticket Export lists
    them (raw JSON; a ticket changed again later in the stream comes again, later)."""
    tickets, after = patiently(lambda: client.changed_tickets_page(start_time=start))
    while True:
        yield from tickets
        if after is None:
            return
        tickets, after = patiently(partial(client.changed_tickets_page, after_url=after))


@dataclass(frozen=True)
class Setting:
    """One field set by one audit: a taxonomy field's value (by its tag or its drop-down custom
    field), or PRIORITY's Zendesk priority. `value` None: the field's tag was removed, or the
    priority or custom field cleared, and nothing of the field put in its place."""

    audit: int  # the audit's place in the ticket's history, oldest first
    author: Author
    field: str
    value: str | None


@dataclass
class TicketHistory:
    """What a ticket's audits set, in order, and where the fleet last wrote."""

    settings: list[Setting] = field(default_factory=list)
    last_fleet_audit: int | None = None


class AuditReader:
    """Reads the taxonomy's fields (and the priority) out of a ticket's audits."""

    def __init__(self, taxonomy: Taxonomy, fleet_user: int) -> None:
        self.taxonomy = taxonomy
        self.fleet_user = fleet_user
        self.lookup = value_lookup(taxonomy)
        self.tag_values = {
            name: {spec.tag: value for value, spec in f.values.items()} for name, f in taxonomy.fields.items()
        }
        self.custom_fields = {
            str(f.zendesk_field_id): name for name, f in taxonomy.fields.items() if f.zendesk_field_id
        }

    def read(self, audits: list[dict[str, Any]]) -> TicketHistory:
        history = TicketHistory()
        for position, audit in enumerate(audits):
            if audit.get("author_id") == self.fleet_user:
                history.last_fleet_audit = position
            for event in audit.get("events") or []:
                author = self.author(audit, event)
                for name, value in self.changes(event).items():
                    history.settings.append(Setting(position, author, name, value))
        return history

    def author(self, audit: dict[str, Any], event: dict[str, Any]) -> Author:
        """Who made an event: a rule (a trigger or automation, or Zendesk itself), the fleet, a person."""
        for via in (event.get("via"), audit.get("via")):
            if isinstance(via, dict) and (
                via.get("channel") in ("rule", 8) or (via.get("source") or {}).get("rel") in RULES
            ):
                return "rule"
        author_id = audit.get("author_id")
        if not isinstance(author_id, int) or author_id <= 0:
            return "rule"
        return "fleet" if author_id == self.fleet_user else "person"

    def changes(self, event: dict[str, Any]) -> dict[str, str | None]:
        """The fields an audit event sets: taxonomy fields by their tags or custom field, PRIORITY."""
        if event.get("type") not in ("Create", "Change"):
            return {}
        name, value = str(event.get("field_name") or ""), event.get("value")
        if name == "tags" and isinstance(value, list):
            return self._tag_changes(set(event.get("previous_value") or []), set(value))
        if name == "priority":
            return {PRIORITY: value if isinstance(value, str) and value else None}
        if name in self.custom_fields:
            field_name = self.custom_fields[name]
            if value in (None, ""):
                return {field_name: None}
            found = self.lookup[field_name].get(str(value).lower())
            return {field_name: found} if found else {}  # an option outside the taxonomy: not comparable
        return {}

    def _tag_changes(self, before: set[str], after: set[str]) -> dict[str, str | None]:
        """Per field, the value whose tag was added (one, or the change says nothing clear), or None
        when a tag of the field was removed and none added."""
        added, removed = after - before, before - after
        changes: dict[str, str | None] = {}
        for field_name, tags in self.tag_values.items():
            matched = [tags[tag] for tag in added if tag in tags]
            if len(matched) == 1:
                changes[field_name] = matched[0]
            elif not matched and any(tag in tags for tag in removed):
                changes[field_name] = None
        return changes
