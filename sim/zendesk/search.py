"""Zendesk search in the simulator: an index that lags behind the live tickets, and the query engine.

``SearchIndex`` holds snapshots of tickets that become visible ``index_lag`` seconds after a
change; ``compile_query`` turns Zendesk's query syntax into a predicate over them.
"""

from __future__ import annotations

import heapq
import itertools
import operator
import re
from collections.abc import Callable
from typing import Any, NamedTuple

from sim.zendesk.wire import PRIORITY_RANK, STATUS_RANK, TicketRecord, parse_timestamp

WORD_RE = re.compile(r"\w+")


class SearchDocument(NamedTuple):
    """A ticket as the search index saw it at one moment."""

    ticket_id: int
    version: int  # orders snapshots of one ticket, so a late older one never wins
    ticket: dict  # ticket JSON with a path-only "url"
    words: frozenset[str]
    text: str  # lower-cased subject and description, for quoted phrases
    created_at: int  # epoch seconds: the export's order (with the ticket id for ties)

    @property
    def export_key(self) -> tuple[int, int]:
        """Where the ticket stands in the export: created_at, then id."""
        return self.created_at, self.ticket_id


class SearchIndex:
    """The search index: snapshots of tickets that become visible index_lag after a change."""

    def __init__(self) -> None:
        self.visible: dict[int, SearchDocument] = {}
        self._pending: list[tuple[float, int, int, SearchDocument | None]] = []
        self._versions = itertools.count(1)

    def publish(self, record: TicketRecord | None, ticket_id: int, visible_at: float) -> None:
        """Schedule the ticket's current state (None: its deletion) to be searchable at visible_at."""
        version = next(self._versions)
        document = None
        if record is not None:
            text = f"{record.subject}\n{record.description}".lower()
            document = SearchDocument(
                ticket_id, version, record.to_json(), frozenset(WORD_RE.findall(text)), text, record.created_at
            )
        heapq.heappush(self._pending, (visible_at, version, ticket_id, document))

    def refresh(self, now: float) -> None:
        """Apply every snapshot whose time has come."""
        while self._pending and self._pending[0][0] <= now:
            _, version, ticket_id, document = heapq.heappop(self._pending)
            current = self.visible.get(ticket_id)
            # The lag can shrink at run time, so an older snapshot may come due after a newer one.
            if current is not None and current.version > version:
                continue
            if document is None:
                self.visible.pop(ticket_id, None)
            else:
                self.visible[ticket_id] = document

    @property
    def pending(self) -> int:
        """Snapshots not yet visible."""
        return len(self._pending)


# --- Search queries ------------------------------------------------------------------------


class SearchError(ValueError):
    """The query uses syntax the simulator does not understand."""


TERM_RE = re.compile(r'(-?)(?:([A-Za-z_]+)(<=|>=|:|<|>))?("[^"]*"|\S+)')
ORED_FIELDS = {"type", "status", "priority", "ticket_type"}  # single-valued: equal terms OR
Predicate = Callable[[SearchDocument], bool]


COMPARISONS = {":": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _ranked(op: str, rank: dict, wanted: str | None, attribute: str) -> Predicate:
    """A comparison of an ordered property (status or priority) against one value."""
    if wanted not in rank:
        return lambda doc: False
    target, compare = rank[wanted], COMPARISONS[op]
    return lambda doc: compare(rank[doc.ticket[attribute]], target)


def _date_range(op: str, value: str, attribute: str) -> Predicate:
    """created/updated against a date (the whole day) or a timestamp (that second)."""
    start = parse_timestamp(value)
    if start is None:
        raise SearchError(f"cannot read the date {value!r}")
    is_whole_day = len(value) == len("2025-11-05")
    end = start + (86400 if is_whole_day else 1)

    def matches(doc: SearchDocument) -> bool:
        moment = parse_timestamp(doc.ticket[attribute])
        return {
            ":": start <= moment < end,
            "<": moment < start,
            "<=": moment < end,
            ">": moment >= end,
            ">=": moment >= start,
        }[op]

    return matches


def _term_predicate(field_name: str | None, op: str, value: str) -> Predicate:
    quoted = len(value) >= 2 and value.startswith('"') and value.endswith('"')
    value = value.strip('"')
    if field_name is None:
        if quoted:
            phrase = value.lower()
            return lambda doc: phrase in doc.text
        wanted = set(WORD_RE.findall(value.lower()))
        return lambda doc: wanted <= doc.words
    name = field_name.lower()
    lowered = value.lower()
    if name == "type":
        # Only tickets are indexed: users, organizations and the rest never match.
        return lambda doc: lowered == "ticket"
    if name == "status":
        return _ranked(op, STATUS_RANK, lowered, "status")
    if name == "priority":
        return _ranked(op, PRIORITY_RANK, None if lowered == "none" else lowered, "priority")
    if name == "ticket_type" and op == ":":
        return lambda doc: doc.ticket["type"] == lowered
    if name in ("tags", "tag") and op == ":":
        return lambda doc: lowered in doc.ticket["tags"]
    if name in ("created", "updated"):
        return _date_range(op, value, f"{name}_at")
    raise SearchError(f"unsupported search term {field_name}{op}{value}")


def compile_query(query: str) -> Predicate:
    """Turn a Zendesk search query into a predicate over indexed documents.

    Supported: ``type:ticket``, ``status`` and ``priority`` with ``: < <= > >=``,
    ``ticket_type:``, ``tags:``, ``created``/``updated`` with a date, plain words (all
    must occur in subject or description), ``"quoted phrases"`` and ``-`` to negate any
    term. Equality terms on the same single-valued property are ORed, everything else ANDed.
    """
    groups: dict[str, list[Predicate]] = {}
    for position, match in enumerate(TERM_RE.finditer(query)):
        negated, field_name, op, value = match.groups()
        predicate = _term_predicate(field_name, op or ":", value)
        if negated:
            predicate = (lambda inner: lambda doc: not inner(doc))(predicate)
        ored = not negated and op == ":" and (field_name or "").lower() in ORED_FIELDS
        key = field_name.lower() if ored else f"#{position}"
        groups.setdefault(key, []).append(predicate)
    alternatives = list(groups.values())
    return lambda doc: all(any(p(doc) for p in group) for group in alternatives)


def names_a_type(query: str) -> bool:
    """Whether the query has a ``type`` term (any case, any operator, negated or not)."""
    return any((field_name or "").lower() == "type" for _, field_name, _, _ in TERM_RE.findall(query))


SORT_KEYS: dict[str, Callable[[SearchDocument], Any]] = {
    "created_at": lambda doc: (doc.ticket["created_at"], doc.ticket_id),
    "updated_at": lambda doc: (doc.ticket["updated_at"], doc.ticket_id),
    "priority": lambda doc: (PRIORITY_RANK[doc.ticket["priority"]], doc.ticket_id),
    "status": lambda doc: (STATUS_RANK[doc.ticket["status"]], doc.ticket_id),
}
