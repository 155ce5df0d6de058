"""`python -m app zendesk setup|check`: the Zendesk objects the fleet relies on, made and verified.

Setup makes, idempotently (each object found by its name or title, then created or brought back to
what setup makes):
- the webhook Zendesk calls with each new ticket (a trigger webhook, `conditional_ticket_events`),
  and its signing secret, written to an env file for the receiver (never printed);
- a trigger category of the fleet's own, holding its triggers in this order:
  1. announce: on creation, notify the webhook with `{"ticket_id": "{{ticket.id}}"}`;
  2. a priority an agent changes by hand (an update not made through the API) gets the tag
     `ai_priority_by_hand`, so the fleet's priority triggers never touch that ticket again;
  3. per priority the taxonomy maps to: when the fleet's own write adds `ai_priority_pending`
     and the tag of a value mapped to it, and the ticket is not marked by hand, raise a lower
     priority (or none: "no priority" is lower than low) to it. A trigger is checked on the ticket
     as it stands at that update, so an agent's higher priority is never lowered;
  4. remove `ai_priority_pending`, so the fleet's triggers act in the fleet's own update only.

With 3 and 4 installed the fleet writes tags and notes in update_many jobs and spends no Update
Ticket request on priorities (app.domain.triage: PriorityWrites). `check` compares what is there
with what setup would make and names each object missing, inactive, changed or out of order.

Triggers use `priority is_not` rather than `less_than`, so a ticket without a priority is raised
whatever Zendesk makes of comparing a blank priority.
"""

from __future__ import annotations

import hmac
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from app.clients.zendesk_admin import ZendeskAdmin
from app.domain.taxonomy import Taxonomy, ZendeskPriority
from app.domain.triage import PRIORITY_RANK

WEBHOOK_NAME = "Triage Fleet: new tickets"
CATEGORY_NAME = "Triage Fleet"
TITLE = "Triage Fleet: "
ANNOUNCE_TITLE = TITLE + "announce new tickets"
BY_HAND_TITLE = TITLE + "remember a priority set by hand"
DONE_TITLE = TITLE + "priority done"
# The trigger body DESIGN names; the receiver also takes Zendesk's event webhooks.
ANNOUNCE_BODY = '{"ticket_id": "{{ticket.id}}"}'
PENDING_TAG = "ai_priority_pending"
BY_HAND_TAG = "ai_priority_by_hand"
# Via ids (https://developer.zendesk.com/documentation/ticketing/reference-guides/via-types):
# 5 is "Web service (API)", how the fleet's own writes come in.
VIA_API = "5"
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


class SetupError(Exception):
    """Setup cannot go on (a taxonomy it cannot express, a webhook it may not change)."""


def priority_title(priority: str) -> str:
    return f"{TITLE}priority {priority}"


def _condition(field_name: str, operator: str, value: str | None) -> dict[str, Any]:
    return {"field": field_name, "operator": operator, "value": value}


def priority_triggers(taxonomy: Taxonomy) -> list[dict[str, Any]]:
    """The triggers that raise priorities for the fleet, in the order they must run: by hand
    first, one per target priority (highest first), then the one that ends the fleet's turn."""
    if taxonomy.priority is None:
        return []
    field_values = taxonomy.fields[taxonomy.priority.field].values
    other_tags = {
        value.tag
        for name, spec in taxonomy.fields.items()
        if name != taxonomy.priority.field
        for value in spec.values.values()
    } | {taxonomy.processed_tag, taxonomy.fallback_tag}
    targets: dict[ZendeskPriority, list[str]] = {}
    for value, priority in taxonomy.priority.map.items():
        tag = field_values[value].tag
        if tag in other_tags or tag in (PENDING_TAG, BY_HAND_TAG):
            raise SetupError(
                f"the tag {tag!r} of {taxonomy.priority.field}={value} is also another field's or "
                "the fleet's own: a priority trigger on it would fire for the wrong tickets"
            )
        targets.setdefault(priority, []).append(tag)
    ranks = sorted(PRIORITY_RANK, key=PRIORITY_RANK.__getitem__)
    made = [
        {
            "title": BY_HAND_TITLE,
            "conditions": {
                "all": [
                    _condition("update_type", "is", "Change"),
                    _condition("priority", "changed", None),
                    _condition("current_via_id", "is_not", VIA_API),
                ],
                "any": [],
            },
            "actions": [{"field": "current_tags", "value": BY_HAND_TAG}],
        }
    ]
    for priority in sorted(targets, key=PRIORITY_RANK.__getitem__, reverse=True):
        as_high = [p for p in ranks if PRIORITY_RANK[p] >= PRIORITY_RANK[priority]]
        made.append(
            {
                "title": priority_title(priority),
                "conditions": {
                    "all": [
                        _condition("current_tags", "includes", PENDING_TAG),
                        _condition("current_tags", "includes", " ".join(sorted(targets[priority]))),
                        _condition("current_tags", "not_includes", BY_HAND_TAG),
                        *(_condition("priority", "is_not", p) for p in as_high),
                    ],
                    "any": [],
                },
                "actions": [{"field": "priority", "value": priority}],
            }
        )
    made.append(
        {
            "title": DONE_TITLE,
            "conditions": {"all": [_condition("current_tags", "includes", PENDING_TAG)], "any": []},
            "actions": [{"field": "remove_tags", "value": PENDING_TAG}],
        }
    )
    return made


def announce_trigger(webhook_id: str) -> dict[str, Any]:
    return {
        "title": ANNOUNCE_TITLE,
        "conditions": {"all": [_condition("update_type", "is", "Create")], "any": []},
        "actions": [{"field": "notification_webhook", "value": [webhook_id, ANNOUNCE_BODY]}],
    }


def webhook_spec(endpoint: str) -> dict[str, Any]:
    return {
        "name": WEBHOOK_NAME,
        "endpoint": endpoint,
        "http_method": "POST",
        "request_format": "json",
        "status": "active",
        "subscriptions": ["conditional_ticket_events"],
        "description": "Announces each new ticket to Triage Fleet (python -m app webhook). "
        "Made by python -m app zendesk setup.",
    }


def check_webhook_url(url: str) -> str | None:
    """None when `url` is one Zendesk can call, else why not; a warning for plain http."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return "--webhook-url must be an absolute http(s) URL, e.g. https://triage.example.com/zendesk/webhook"
    if not parsed.path.rstrip("/").endswith("/zendesk/webhook"):
        return "--webhook-url must end in /zendesk/webhook, the path `python -m app webhook` serves"
    return None


# -- comparing ----------------------------------------------------------------------------------------


def _normal_conditions(conditions: Any) -> dict[str, list[tuple[str, str, str]]]:
    """Conditions as comparable tuples: a missing value and null are the same, as are tag lists in
    another order."""
    conditions = conditions if isinstance(conditions, dict) else {}

    def one(item: dict[str, Any]) -> tuple[str, str, str]:
        value = item.get("value")
        text = (
            ""
            if value is None
            else " ".join(sorted(str(value).split()))
            if item.get("field") == "current_tags"
            else str(value)
        )
        return str(item.get("field")), str(item.get("operator")), text

    return {
        key: sorted(one(item) for item in conditions.get(key) or [] if isinstance(item, dict)) for key in ("all", "any")
    }


def _normal_actions(actions: Any) -> list[tuple[str, str]]:
    return sorted((str(a.get("field")), repr(a.get("value"))) for a in actions or [] if isinstance(a, dict))


def trigger_differences(have: dict[str, Any], want: dict[str, Any], category_id: str | None) -> list[str]:
    """What keeps an existing trigger from being the one setup makes (empty: it is)."""
    problems = []
    if not have.get("active"):
        problems.append("inactive")
    if _normal_conditions(have.get("conditions")) != _normal_conditions(want["conditions"]):
        problems.append("its conditions differ")
    if _normal_actions(have.get("actions")) != _normal_actions(want["actions"]):
        problems.append("its actions differ")
    if category_id is not None and str(have.get("category_id")) != str(category_id):
        problems.append(f"not in the {CATEGORY_NAME!r} trigger category")
    return problems


WEBHOOK_FIELDS = ("endpoint", "http_method", "request_format", "status", "subscriptions")


def webhook_differences(have: dict[str, Any], endpoint: str | None) -> list[str]:
    want = webhook_spec(endpoint or str(have.get("endpoint")))
    problems = []
    if have.get("status") != "active":
        problems.append("inactive")
    for name in WEBHOOK_FIELDS:
        if name != "status" and have.get(name) != want[name]:
            problems.append(f"{name} is {have.get(name)!r}, not {want[name]!r}")
    return problems


# -- reading the account ------------------------------------------------------------------------------


@dataclass
class Account:
    """What the account holds of the fleet's objects."""

    webhook: dict[str, Any] | None
    duplicate_webhooks: int
    category: dict[str, Any] | None
    triggers: dict[str, dict[str, Any]]  # by title, the fleet's titles only

    @classmethod
    def read(cls, admin: ZendeskAdmin, webhooks: bool = True) -> Account:
        """The fleet's objects as the account holds them (`webhooks=False`: its triggers only)."""
        found = [w for w in admin.webhooks(WEBHOOK_NAME) if w.get("name") == WEBHOOK_NAME] if webhooks else []
        category = next((c for c in admin.trigger_categories() if c.get("name") == CATEGORY_NAME), None)
        triggers: dict[str, dict[str, Any]] = {}
        for trigger in admin.triggers():
            title = str(trigger.get("title", ""))
            if title.startswith(TITLE) and title not in triggers:
                triggers[title] = trigger
        return cls(found[0] if found else None, max(0, len(found) - 1), category, triggers)


def desired_triggers(taxonomy: Taxonomy, webhook_id: str | None) -> list[dict[str, Any]]:
    """Every trigger setup makes, in order; the announce trigger only once the webhook has an id."""
    return ([announce_trigger(webhook_id)] if webhook_id else []) + priority_triggers(taxonomy)


def order_problems(account: Account, wanted: list[dict[str, Any]]) -> list[str]:
    """The fleet's priority triggers must run in the order setup made them (by hand first, done last)."""
    present = [account.triggers[t["title"]] for t in wanted if t["title"] in account.triggers]
    positions = [(int(t.get("position") or 0), int(t.get("id") or 0)) for t in present]
    if positions != sorted(positions):
        return [f"the fleet's triggers run out of order (expected: {', '.join(t['title'] for t in wanted)})"]
    return []


# -- check --------------------------------------------------------------------------------------------


@dataclass
class Finding:
    """One object that is not as setup makes it."""

    kind: str
    name: str
    problem: str

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r}: {self.problem}"


def check(
    admin: ZendeskAdmin, taxonomy: Taxonomy, webhook_secret: str | None = None, only_priorities: bool = False
) -> list[Finding]:
    """Each of the fleet's objects that is missing, inactive, changed or out of order (empty: all
    as setup makes them). `webhook_secret` (ZENDESK_WEBHOOK_SECRET) is compared with the webhook's
    own signing secret, in constant time; `only_priorities` checks the priority triggers alone."""
    account = Account.read(admin, webhooks=not only_priorities)
    findings: list[Finding] = []
    webhook_id = None
    if not only_priorities:
        if account.webhook is None:
            findings.append(Finding("webhook", WEBHOOK_NAME, "missing"))
        else:
            webhook_id = str(account.webhook["id"])
            findings += [Finding("webhook", WEBHOOK_NAME, p) for p in webhook_differences(account.webhook, None)]
            if webhook_secret is not None:
                if not hmac.compare_digest(admin.signing_secret(webhook_id).encode(), webhook_secret.encode()):
                    findings.append(
                        Finding(
                            "webhook",
                            WEBHOOK_NAME,
                            "its signing secret is not ZENDESK_WEBHOOK_SECRET (every delivery would be refused)",
                        )
                    )
    if account.category is None:
        findings.append(Finding("trigger category", CATEGORY_NAME, "missing"))
    category_id = str(account.category["id"]) if account.category else None
    wanted = priority_triggers(taxonomy) if only_priorities else desired_triggers(taxonomy, webhook_id)
    if not only_priorities and webhook_id is None:
        wanted = [announce_trigger("(the webhook)"), *wanted]
    for want in wanted:
        have = account.triggers.get(want["title"])
        if have is None:
            findings.append(Finding("trigger", want["title"], "missing"))
        elif webhook_id is not None or want["title"] != ANNOUNCE_TITLE:
            findings += [Finding("trigger", want["title"], p) for p in trigger_differences(have, want, category_id)]
    findings += [Finding("triggers", CATEGORY_NAME, p) for p in order_problems(account, priority_triggers(taxonomy))]
    return findings


# -- setup --------------------------------------------------------------------------------------------


@dataclass
class Step:
    """One change setup makes (or, in a dry run, would make)."""

    kind: str
    name: str
    action: str
    apply: Callable[[], None] | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{self.kind} {self.name!r}: {self.action}"


@dataclass
class Plan:
    steps: list[Step]
    up_to_date: list[str]
    notes: list[str]

    @property
    def changes(self) -> bool:
        return bool(self.steps)


class Setup:
    """Reads the account and plans the changes; each step of the plan makes one (`Step.apply`)."""

    def __init__(self, admin: ZendeskAdmin, taxonomy: Taxonomy, webhook_url: str) -> None:
        problem = check_webhook_url(webhook_url)
        if problem:
            raise SetupError(problem)
        priority_triggers(taxonomy)  # a taxonomy it cannot express stops here, before any change
        self.admin = admin
        self.taxonomy = taxonomy
        self.webhook_url = webhook_url
        self.account = Account.read(admin)
        self.webhook_id: str | None = str(self.account.webhook["id"]) if self.account.webhook else None
        self.category_id: str | None = str(self.account.category["id"]) if self.account.category else None

    def plan(self) -> Plan:
        steps: list[Step] = []
        fine: list[str] = []
        notes: list[str] = []
        if urlparse(self.webhook_url).scheme != "https" and urlparse(self.webhook_url).hostname not in LOOPBACK_HOSTS:
            notes.append("warning: Zendesk calls webhooks over HTTPS; put the receiver behind TLS")
        webhook = self.account.webhook
        if webhook is None:
            steps.append(Step("webhook", WEBHOOK_NAME, f"create (POST {self.webhook_url})", self._create_webhook))
        else:
            if webhook.get("subscriptions") != ["conditional_ticket_events"]:
                raise SetupError(
                    f"the webhook {WEBHOOK_NAME!r} is subscribed to events, and Zendesk cannot change a "
                    "webhook's connection method: delete it (or rename it) and run setup again"
                )
            differences = webhook_differences(webhook, self.webhook_url)
            if differences:
                steps.append(
                    Step("webhook", WEBHOOK_NAME, "update (" + "; ".join(differences) + ")", self._replace_webhook)
                )
            else:
                fine.append(f"webhook {WEBHOOK_NAME!r}")
            if self.account.duplicate_webhooks:
                notes.append(f"{self.account.duplicate_webhooks} more webhook(s) named {WEBHOOK_NAME!r} left alone")
        if self.account.category is None:
            steps.append(Step("trigger category", CATEGORY_NAME, "create", self._create_category))
        else:
            fine.append(f"trigger category {CATEGORY_NAME!r}")
        category = self.category_id or "(the new category)"
        for want in desired_triggers(self.taxonomy, self.webhook_id or "(the new webhook)"):
            title = want["title"]
            have = self.account.triggers.get(title)
            if have is None:
                steps.append(Step("trigger", title, "create", self._creator(title)))
                continue
            differences = (
                trigger_differences(have, want, category)
                if self.webhook_id or title != ANNOUNCE_TITLE
                else ["its webhook is new"]
            )
            if differences:
                steps.append(
                    Step(
                        "trigger",
                        title,
                        "update (" + "; ".join(differences) + ")",
                        self._updater(title, int(have["id"])),
                    )
                )
            else:
                fine.append(f"trigger {title!r}")
        changed = any(step.kind == "trigger" for step in steps)
        if changed and self.account.triggers:  # new triggers go last: they may land before an old one
            steps.append(Step("triggers", CATEGORY_NAME, "check their order after the changes", self._reorder))
        elif order_problems(self.account, priority_triggers(self.taxonomy)):
            steps.append(Step("triggers", CATEGORY_NAME, "reorder", self._reorder))
        return Plan(steps, fine, notes)

    def secret(self) -> str:
        assert self.webhook_id is not None, "the webhook exists once run() made it"
        return self.admin.signing_secret(self.webhook_id)

    # the steps ------------------------------------------------------------------------------------

    def _create_webhook(self) -> None:
        self.webhook_id = str(self.admin.create_webhook(webhook_spec(self.webhook_url))["id"])

    def _replace_webhook(self) -> None:
        assert self.webhook_id is not None
        self.admin.replace_webhook(self.webhook_id, webhook_spec(self.webhook_url))

    def _create_category(self) -> None:
        self.category_id = str(self.admin.create_trigger_category(CATEGORY_NAME)["id"])

    def _body(self, title: str) -> dict[str, Any]:
        want = next(t for t in desired_triggers(self.taxonomy, self.webhook_id) if t["title"] == title)
        return {**want, "active": True, "category_id": self.category_id}

    def _creator(self, title: str) -> Callable[[], None]:
        def create() -> None:
            self.account.triggers[title] = self.admin.create_trigger(self._body(title))

        return create

    def _updater(self, title: str, trigger_id: int) -> Callable[[], None]:
        def update() -> None:
            self.account.triggers[title] = self.admin.update_trigger(trigger_id, self._body(title))

        return update

    def _reorder(self) -> None:
        """Give the fleet's triggers the positions they already hold among themselves, in setup's
        order, so no other trigger of the account moves."""
        ours = [
            self.account.triggers[t["title"]]
            for t in desired_triggers(self.taxonomy, self.webhook_id)
            if t["title"] in self.account.triggers
        ]
        slots = sorted(int(t.get("position") or 0) for t in ours)
        if len(set(slots)) < len(slots):  # positions shared: spread them after the highest
            slots = [max(slots) + 1 + i for i in range(len(slots))]
        wanted = {int(t["id"]): slot for t, slot in zip(ours, slots)}
        if any(int(t.get("position") or 0) != wanted[int(t["id"])] for t in ours):
            self.admin.set_positions(wanted)
            for trigger in ours:
                trigger["position"] = wanted[int(trigger["id"])]


def write_env_secret(path: Path, secret: str, name: str = "ZENDESK_WEBHOOK_SECRET") -> None:
    """Set `name=secret` in an env file (replacing the line, keeping the rest), readable by its owner
    only (mode 0600), written whole or not at all."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    kept = [line for line in lines if not line.strip().startswith(f"{name}=")]
    kept.append(f"{name}={secret}")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("\n".join(kept) + "\n")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
