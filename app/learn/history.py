"""Labels from the account's own history (`python -m app train --from-zendesk`), and the agent
override rate: how often people changed what the fleet wrote.

The solved and closed tickets changed in the last DAYS days come through the Incremental Ticket
Export (its own 10-a-minute limit and the account's, both through the shared limiter). Per field:
- what people set is a label: the priority, read back through the taxonomy's priority map, and a
  drop-down custom field a taxonomy field names (`zendesk_field_id`);
- on a ticket the fleet triaged (it carries the processed tag), its audits say who wrote what:
  the fleet's answer is the tag it added for the field in its own audit (author: the API user,
  `users/me`); a person who later changed that field (its tag, the priority, the custom field)
  corrected it. A correction is the label, and counts twice in training (PERSON_WEIGHT); a field
  nobody changed keeps the fleet's answer as its label.
Each triaged ticket costs one audits request; a ticket the fleet never saw costs nothing more.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from app.clients.zendesk import ZendeskClient
from app.domain.taxonomy import Taxonomy
from app.learn.audits import PRIORITY, SOLVED, AuditReader, Setting, changed_tickets, patiently
from app.learn.training import Example

log = logging.getLogger(__name__)

DAY = 24 * 3600
PERSON_WEIGHT = 2.0  # a person's correction outweighs the fleet's own answer


@dataclass
class FieldOverride:
    fleet_answers: int = 0
    changed_by_people: int = 0

    @property
    def rate(self) -> float | None:
        return round(self.changed_by_people / self.fleet_answers, 4) if self.fleet_answers else None


@dataclass
class HistoryReport:
    """The examples, and what reading them found."""

    examples: list[Example] = field(default_factory=list)
    tickets_read: int = 0
    solved: int = 0
    fleet_triaged: int = 0
    unlabelled: int = 0
    overrides: dict[str, FieldOverride] = field(default_factory=dict)

    @property
    def override(self) -> dict[str, Any]:
        """The agent override rate per field, as the model card and the report carry it."""
        return {
            "fleet_triaged": self.fleet_triaged,
            "fields": {
                name: {"fleet_answers": o.fleet_answers, "changed_by_people": o.changed_by_people, "rate": o.rate}
                for name, o in self.overrides.items()
            },
        }

    def lines(self) -> list[str]:
        out = [
            f"{self.tickets_read} tickets changed in the period, {self.solved} solved or closed; "
            f"{len(self.examples)} with labels ({self.fleet_triaged} triaged by the fleet, "
            f"{self.unlabelled} without any label skipped)",
            "agent override rate (people changed what the fleet wrote):",
        ]
        for name, override in self.overrides.items():
            rate = f"{override.rate:.1%}" if override.rate is not None else "n/a"
            out.append(f"  {name}: {rate} ({override.changed_by_people} of {override.fleet_answers})")
        return out


class _Labeller:
    """Reads one ticket's labels for every taxonomy field."""

    def __init__(self, taxonomy: Taxonomy, fleet_user: int) -> None:
        self.taxonomy = taxonomy
        self.reader = AuditReader(taxonomy, fleet_user)
        self.lookup = self.reader.lookup
        self.priority_field = taxonomy.priority.field if taxonomy.priority else None
        self.custom_fields = self.reader.custom_fields

    def people_labels(self, ticket: dict[str, Any]) -> dict[str, str]:
        """What people set on a ticket the fleet never wrote: the priority and mapped custom fields."""
        labels = {}
        if self.priority_field and (value := self.taxonomy.value_for_priority(ticket.get("priority"))):
            labels[self.priority_field] = value
        for item in ticket.get("custom_fields") or []:
            name = self.custom_fields.get(str(item.get("id")))
            if name and (value := self.lookup[name].get(str(item.get("value") or "").lower())):
                labels[name] = value
        return labels

    def from_audits(self, audits: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
        """(the fleet's answers, people's later changes) per field, from a triaged ticket's audits.
        The priority stands for the taxonomy's priority field, read back through its map; triggers'
        and automations' changes are nobody's (app.learn.audits)."""
        fleet: dict[str, str] = {}
        people: dict[str, str] = {}
        for setting in self.reader.read(audits).settings:
            if setting.author == "rule":
                continue  # a trigger's or an automation's: nobody's answer
            if setting.author == "person" and not fleet:
                continue  # before the fleet wrote: nothing to correct yet
            name, value = self._label(setting)
            if value is None:
                continue
            if setting.author == "fleet":
                fleet.setdefault(name, value)
            else:
                people[name] = value
        return fleet, people

    def _label(self, setting: Setting) -> tuple[str, str | None]:
        if setting.field != PRIORITY:
            return setting.field, setting.value
        if self.priority_field is None:
            return PRIORITY, None
        return self.priority_field, self.taxonomy.value_for_priority(setting.value)


def read_history(client: ZendeskClient, taxonomy: Taxonomy, since_days: int, now: float | None = None) -> HistoryReport:
    """Labelled examples from the solved tickets changed in the last `since_days` days."""
    start = int((now or time.time()) - since_days * DAY)
    labeller = _Labeller(taxonomy, int(patiently(client.me)["id"]))
    report = HistoryReport(overrides={name: FieldOverride() for name in taxonomy.fields})
    for ticket in changed_tickets(client, start):
        _label_ticket(client, taxonomy, labeller, ticket, report)
    return report


def _label_ticket(
    client: ZendeskClient, taxonomy: Taxonomy, labeller: _Labeller, ticket: dict[str, Any], report: HistoryReport
) -> None:
    report.tickets_read += 1
    if ticket.get("status") not in SOLVED:
        return
    report.solved += 1
    labels, weights = labeller.people_labels(ticket), {}
    if taxonomy.processed_tag in (ticket.get("tags") or []):
        report.fleet_triaged += 1
        audits = patiently(lambda: client.ticket_audits(int(ticket["id"])))
        fleet, people = labeller.from_audits(audits)
        labels = {}
        for name, answer in fleet.items():
            report.overrides[name].fleet_answers += 1
            changed = people.get(name)
            if changed is not None and changed != answer:
                report.overrides[name].changed_by_people += 1
                labels[name], weights[name] = changed, PERSON_WEIGHT
            else:
                labels[name] = answer
    if not labels:
        report.unlabelled += 1
        return
    report.examples.append(Example(ticket.get("subject") or "", ticket.get("description") or "", labels, weights))
