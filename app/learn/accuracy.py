"""How often the fleet's predictions matched what people decided later (`python -m app accuracy`).

The predictions come from Redis (app.fleet.predictions: every handled ticket's, shadow, suggest and
live alike). What people decided comes from Zendesk, read as `train --from-zendesk` reads it
(app.learn.audits): one pass of the Incremental Ticket Export over the window, and one audits
request per predicted ticket that is now solved or closed ("decided"); a ticket not yet solved or
closed is "pending", counted and not measured.

The label of a field on a decided ticket (`decide`), among the settings of that field that are no
rule's (a trigger's, an automation's, Zendesk's own):
- the fleet wrote the field (Prediction.written) and a person set it after the fleet's write: the
  person's last value. Another value than the written one is an OVERRIDE; a person who only took
  the fleet's tag away (or cleared the priority) gave no value: no label, counted as "removed";
- the fleet wrote it and nobody set it after: the written value, accepted as it was;
- the fleet did not write it (shadow, suggest, a priority it did not raise): the value a person set
  last, the requester's own at creation included;
- else no label: the ticket does not count for that field.
A person sets a tag field by adding one of its values' tags (one tag of the field in one update:
two at once say nothing clear), or by its drop-down custom field (`zendesk_field_id`); the priority
(PRIORITY, measured when the taxonomy maps one: the predicted priority is the map's answer, the
label the ticket's final priority, `urgent` included) by setting it.

Per field: accuracy, overrides, the confusion table, accuracy and coverage by confidence band and by
the ticket's mode, and a recommendation (`recommend`). The figures are counts and values only:
never a ticket's text or a person.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, get_args

from app.clients.zendesk import ZendeskNotFound
from app.domain.taxonomy import Taxonomy, ZendeskPriority
from app.learn.audits import PRIORITY, SOLVED, AuditReader, TicketHistory, changed_tickets, patiently
from app.learn.training import Progress, Silent

if TYPE_CHECKING:
    from app.clients.zendesk import ZendeskClient
    from app.fleet.predictions import Prediction

MODES = ("shadow", "suggest", "live")
# Confidence bands, highest first: (name, lowest confidence in it, first confidence above it).
BANDS = (
    (">=0.9", 0.9, math.inf),
    ("0.8-0.9", 0.8, 0.9),
    ("0.7-0.8", 0.7, 0.8),
    ("0.6-0.7", 0.6, 0.7),
    ("<0.6", -math.inf, 0.6),
)
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)  # the confidences a recommendation may name, lowest first
# A field is ready for writing at the lowest threshold whose predictions people found right at
# least READY_ACCURACY of the time, on at least READY_TICKETS tickets. 90%: an agent then undoes at
# most one write in ten; below that, checking every write costs the team more attention than the
# triage saves (a judgement, not a law: the figures are all in the report). 30 tickets is the least
# that says anything: 27 right of 30 still leaves the true rate anywhere from about 74% to 96.5%
# (95% Wilson interval), so read a recommendation made on few tickets as "promising", and measure
# again.
READY_ACCURACY = 0.9
READY_TICKETS = 30


@dataclass(frozen=True)
class Label:
    """What people decided for one field of one ticket; `value` None: no label."""

    value: str | None
    by: Literal["person", "accepted"] | None = None
    override: bool = False  # a person changed the fleet's written value to another one
    removed: bool = False  # a person took the fleet's written value away and set none


def decide(history: TicketHistory, name: str, written: str | None) -> Label:
    """The label of field `name` (a taxonomy field or PRIORITY), by the rules of the module's doc."""
    settings = [s for s in history.settings if s.field == name and s.author != "rule"]
    if written is not None:
        # After the fleet's write: its own last setting of the field, else (a priority raised by
        # the fleet's triggers, in its own update) its last update of the ticket.
        fleet_update = history.last_fleet_audit if history.last_fleet_audit is not None else 0
        since = max((s.audit for s in settings if s.author == "fleet"), default=fleet_update)
        later = [s for s in settings if s.author == "person" and s.audit > since]
        if not later:
            return Label(written, "accepted")
        if later[-1].value is None:
            return Label(None, removed=True)
        return Label(later[-1].value, "person", override=later[-1].value != written)
    people = [s for s in settings if s.author == "person"]
    if people and people[-1].value is not None:
        return Label(people[-1].value, "person")
    return Label(None)


@dataclass
class Tally:
    labelled: int = 0
    correct: int = 0

    def add(self, right: bool) -> None:
        self.labelled += 1
        self.correct += right

    @property
    def accuracy(self) -> float | None:
        return round(self.correct / self.labelled, 4) if self.labelled else None

    def figures(self) -> dict[str, Any]:
        return {"labelled": self.labelled, "correct": self.correct, "accuracy": self.accuracy}


def band_of(confidence: float) -> str:
    return next(name for name, low, high in BANDS if low <= confidence < high)


def recommend(name: str, action: str, scored: Iterable[tuple[float, bool]]) -> dict[str, Any]:
    """The lowest threshold at which the field is ready for `action`, or why none is.

    `scored`: (confidence, right) per labelled prediction. Ready: at least READY_TICKETS of them at
    that confidence or more, at least READY_ACCURACY right. Not ready: the best of the thresholds
    with enough tickets. Too few: not even the lowest threshold has enough."""
    scored = list(scored)
    at = [(t, [right for confidence, right in scored if confidence >= t]) for t in THRESHOLDS]
    enough = [(t, len(rights), sum(rights)) for t, rights in at if len(rights) >= READY_TICKETS]
    if not enough:
        tickets = len(at[0][1])
        where = f" at confidence ≥ {THRESHOLDS[0]}" if tickets < len(scored) else ""
        text = f"too few decided tickets{where} ({tickets} of {READY_TICKETS} needed)"
        return {"ready": False, "threshold": None, "tickets": tickets, "accuracy": None, "text": text}
    ready = [(t, n, k) for t, n, k in enough if k >= READY_ACCURACY * n]
    threshold, tickets, correct = ready[0] if ready else max(enough, key=lambda e: (e[2] / e[1], e[0]))
    right = f"{correct * 100 // tickets}% right"  # rounded down: never shown as the bar when under it
    if ready:
        text = f"{name} at confidence ≥ {threshold}: {right} on {tickets} tickets; ready for `{action}`"
    else:
        text = f"not ready: {right} at best (confidence ≥ {threshold}, {tickets} tickets)"
    return {
        "ready": bool(ready),
        "threshold": threshold,
        "tickets": tickets,
        "accuracy": round(correct / tickets, 4),
        "text": text,
    }


@dataclass
class FieldScore:
    """One field's figures over the decided tickets."""

    name: str
    action: str  # what a ready field may be trusted with: "tag" (a taxonomy field), "write" (PRIORITY)
    values: list[str]  # the declared values, in order: the confusion table's rows and columns
    overall: Tally = field(default_factory=Tally)
    by_person: int = 0
    accepted: int = 0
    written: int = 0
    overrides: int = 0
    removed: int = 0
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    bands: dict[str, Tally] = field(default_factory=lambda: {name: Tally() for name, _, _ in BANDS})
    modes: dict[str, Tally] = field(default_factory=lambda: {mode: Tally() for mode in MODES})
    scored: list[tuple[float, bool]] = field(default_factory=list)

    def add(self, predicted: str, confidence: float, mode: str, written: str | None, label: Label) -> None:
        if written is not None:
            self.written += 1
            self.overrides += label.override
            self.removed += label.removed
        if label.value is None:
            return
        right = predicted == label.value
        self.overall.add(right)
        self.by_person += label.by == "person"
        self.accepted += label.by == "accepted"
        self.confusion[predicted, label.value] += 1
        self.bands[band_of(confidence)].add(right)
        self.modes.setdefault(mode, Tally()).add(right)
        self.scored.append((confidence, right))

    def table_values(self) -> list[str]:
        """The declared values, then any other a prediction or a person used (a taxonomy changed since)."""
        seen = {value for pair in self.confusion for value in pair}
        return self.values + sorted(seen - set(self.values))

    def as_json(self) -> dict[str, Any]:
        values = self.table_values()
        labelled = self.overall.labelled
        return {
            "action": self.action,
            **self.overall.figures(),
            "labels": {"by_person": self.by_person, "accepted": self.accepted},
            "written": self.written,
            "overrides": self.overrides,
            "override_rate": round(self.overrides / self.written, 4) if self.written else None,
            "removed": self.removed,
            "confusion": {p: {d: self.confusion[p, d] for d in values} for p in values},
            "bands": [
                {
                    "band": name,
                    **self.bands[name].figures(),
                    "coverage": round(self.bands[name].labelled / labelled, 4) if labelled else None,
                }
                for name, _, _ in BANDS
            ],
            "modes": {mode: tally.figures() for mode, tally in self.modes.items()},
            "recommendation": recommend(self.name, self.action, self.scored),
        }


def fields_of(taxonomy: Taxonomy) -> dict[str, FieldScore]:
    """An empty score per taxonomy field, and PRIORITY's when the taxonomy maps one."""
    scores = {name: FieldScore(name, "tag", list(spec.values)) for name, spec in taxonomy.fields.items()}
    if taxonomy.priority is not None:
        scores[PRIORITY] = FieldScore(PRIORITY, "write", list(get_args(ZendeskPriority)))
    return scores


def predicted(prediction: Prediction, name: str, taxonomy: Taxonomy) -> tuple[str, float] | None:
    """A field's predicted value and its confidence (PRIORITY: the map's answer, at the confidence
    of the field it maps); None when the prediction has none."""
    if name == PRIORITY:
        source = taxonomy.priority.field if taxonomy.priority is not None else ""
        value = taxonomy.priority_for(prediction.values)
    else:
        source, value = name, prediction.values.get(name)
    if value is None:
        return None
    return value, float(prediction.confidence.get(source, 0.0))


def score(
    predictions: Iterable[Prediction], histories: dict[int, TicketHistory], taxonomy: Taxonomy
) -> dict[str, FieldScore]:
    """Every field's figures over the predictions whose ticket is decided (has a history)."""
    scores = fields_of(taxonomy)
    for prediction in predictions:
        history = histories.get(prediction.ticket_id)
        if history is None:
            continue
        for name, figures in scores.items():
            answer = predicted(prediction, name, taxonomy)
            if answer is None:
                continue
            written = prediction.written.get(name)
            figures.add(*answer, prediction.mode, written, decide(history, name, written))
    return scores


@dataclass
class Decisions:
    """What Zendesk says of the predicted tickets: the audits of the decided ones, and the rest counted."""

    histories: dict[int, TicketHistory] = field(default_factory=dict)
    pending: int = 0
    not_found: int = 0


def read_decisions(
    client: ZendeskClient,
    taxonomy: Taxonomy,
    predictions: list[Prediction],
    start: float,
    progress: Progress | None = None,
) -> Decisions:
    """The decided tickets' histories: one pass of the Incremental Ticket Export from `start` (every
    predicted ticket that changed since: its prediction was recorded after `start`), then one
    audits request per predicted ticket now solved or closed. A predicted ticket the export does
    not list has not changed since `start`: still open, pending. Deleted ones (status "deleted" in
    the export, or gone before their audits were read) are not found."""
    progress = progress or Silent()
    wanted = {prediction.ticket_id for prediction in predictions}
    reader = AuditReader(taxonomy, int(patiently(client.me)["id"]))
    moment = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%d %H:%M UTC")
    progress.phase(f"reading the tickets changed since {moment} (Incremental Ticket Export)")
    status: dict[int, str] = {}
    for ticket in changed_tickets(client, int(start)):
        if ticket.get("id") in wanted:
            status[int(ticket["id"])] = str(ticket.get("status") or "")  # the latest listing wins
    decided = sorted(ticket_id for ticket_id, now in status.items() if now in SOLVED)
    decisions = Decisions(not_found=sum(now == "deleted" for now in status.values()))
    progress.phase(f"reading the audits of {len(decided)} solved or closed tickets", len(decided))
    for ticket_id in decided:
        try:
            audits = patiently(partial(client.ticket_audits, ticket_id))
        except ZendeskNotFound:
            decisions.not_found += 1  # deleted since the export listed it
            continue
        finally:
            progress.advance()
        decisions.histories[ticket_id] = reader.read(audits)
    decisions.pending = len(wanted) - len(decisions.histories) - decisions.not_found
    return decisions


def build_report(
    predictions: list[Prediction], decisions: Decisions, taxonomy: Taxonomy, since: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """The whole report as one JSON-ready object (its fields are documented in docs/classification.md)."""
    scores = score(predictions, decisions.histories, taxonomy)
    return {
        "since": since,
        "from": start.astimezone(UTC).isoformat(timespec="seconds"),
        "to": end.astimezone(UTC).isoformat(timespec="seconds"),
        "ready_when": {"accuracy": READY_ACCURACY, "tickets": READY_TICKETS, "thresholds": list(THRESHOLDS)},
        "totals": {
            "predictions": len(predictions),
            "decided": len(decisions.histories),
            "pending": decisions.pending,
            "not_found": decisions.not_found,
        },
        "fields": {name: figures.as_json() for name, figures in scores.items()},
    }


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _field_lines(name: str, figures: dict[str, Any]) -> list[str]:
    labels = figures["labels"]
    out = [
        f"{name} ({figures['action']}): {figures['labelled']} labelled, {_percent(figures['accuracy'])} right "
        f"({labels['by_person']} set by people, {labels['accepted']} written by the fleet and kept)",
        f"  {figures['recommendation']['text']}",
    ]
    if figures["written"]:
        out.append(
            f"  overrides: {figures['overrides']} of {figures['written']} written "
            f"({_percent(figures['override_rate'])}); {figures['removed']} taken away without another value"
        )
    if not figures["labelled"]:
        return out
    out.append(f"  {'confidence':<12}{'labelled':>9}{'coverage':>10}{'right':>8}")
    for band in figures["bands"]:
        out.append(
            f"  {band['band']:<12}{band['labelled']:>9}{_percent(band['coverage']):>10}{_percent(band['accuracy']):>8}"
        )
    out.append(f"  {'mode':<12}{'labelled':>9}{'':>10}{'right':>8}")
    for mode, tally in figures["modes"].items():
        out.append(f"  {mode:<12}{tally['labelled']:>9}{'':>10}{_percent(tally['accuracy']):>8}")
    values = list(figures["confusion"])
    width = max(len(v) for v in values) + 2
    cells = [max(len(v), 5) + 2 for v in values]
    out.append("  confusion (rows: what the fleet predicted; columns: what people decided)")
    out.append(f"  {'':<{width}}" + "".join(f"{v:>{c}}" for v, c in zip(values, cells, strict=True)))
    for row in values:
        counts = figures["confusion"][row]
        out.append(f"  {row:<{width}}" + "".join(f"{counts[v]:>{c}}" for v, c in zip(values, cells, strict=True)))
    return out


def lines(report: dict[str, Any]) -> list[str]:
    """The report as text: the totals, then per field its figures and tables."""
    totals = report["totals"]
    out = [
        f"{totals['predictions']} predictions recorded in the last {report['since']} "
        f"({report['from']} to {report['to']}): {totals['decided']} decided (solved or closed), "
        f"{totals['pending']} pending, {totals['not_found']} not found in Zendesk (deleted)",
        f"ready: at least {READY_ACCURACY:.0%} right on at least {READY_TICKETS} decided tickets, "
        f"at the lowest confidence that does it ({', '.join(str(t) for t in THRESHOLDS)})",
    ]
    for name, figures in report["fields"].items():
        out += ["", *_field_lines(name, figures)]
    return out
