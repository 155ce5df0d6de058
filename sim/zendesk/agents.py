"""Agents who finish tickets (POST /_sim/agents/finish), right or wrong at a settable rate.

Each finished ticket gets one update by one of the simulator's agents (its assignee, or one who
takes it), made in the UI as any agent's edit is (``SimState.agent_update``: channel web, the
agent as author, triggers run, the Update Ticket budget used): the agent decides every field of
the default taxonomy, the planted truth or, at ``error_rate`` per field, another value
(``history.answer_with_errors``); sets the priority the decided urgency maps to; replaces the
ticket's taxonomy tags (``ai_bug``, ``ai_high`` ..., the fleet's included) with the decided
values' tags; and solves it with a public reply. What was decided stays on the ticket for
``GET /_sim/tickets/{id}``, so a test can score predictions against what agents decided.

The planted truth is the generator's labels in the taxonomy's words (``history.truth_of``); a
hand-written ticket (POST /_sim/tickets) has none unless the request gives it one.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sim.common import SimConfigError
from sim.zendesk.history import (
    FIELD_VALUES,
    PRIORITY_OF_URGENCY,
    ROOT_CAUSE_OF_CATEGORY,
    SOLVED_REPLY,
    answer_with_errors,
    tag_of,
    truth_of,
)
from sim.zendesk.state import AGENT_IDS, SimState
from sim.zendesk.wire import TicketRecord

REQUEST_FIELDS = ("ticket_ids", "error_rate", "seed", "truth")
FINISHED_STATUSES = ("solved", "closed")
# Every tag a value of the default taxonomy writes: an agent's decision replaces them all.
TAXONOMY_TAGS = frozenset(tag_of(value) for values in FIELD_VALUES.values() for value in values)


@dataclass(frozen=True)
class FinishRequest:
    """A checked POST /_sim/agents/finish body."""

    ticket_ids: tuple[int, ...] | None  # None: every ticket not solved or closed
    error_rate: float | None  # None: the runtime setting agent_error_rate
    seed: int | None  # None: the simulator's own generator for finishing, which goes on
    truth: dict[int, dict[str, str]]  # given truths of hand-written tickets


def _whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _given_truth(raw: Any) -> dict[int, dict[str, str]]:
    """The body's ``truth``: ticket id -> a value for every field of the default taxonomy."""
    if raw is None:
        return {}
    shape = '{"<ticket id>": {"root_cause": ..., "urgency": ..., "sentiment": ...}}'
    if not isinstance(raw, dict):
        raise SimConfigError(f"truth must be an object like {shape}")
    truths = {}
    for key, truth in raw.items():
        if not (isinstance(key, str) and key.isdigit()):
            raise SimConfigError(f"truth must map ticket ids to truths, like {shape}; not {key!r}")
        if not isinstance(truth, dict) or set(truth) != set(FIELD_VALUES):
            raise SimConfigError(f"truth of ticket {key} must name exactly {', '.join(FIELD_VALUES)}")
        for name, values in FIELD_VALUES.items():
            if truth[name] not in values:
                raise SimConfigError(f"truth of ticket {key}: {name} must be one of {', '.join(values)}")
        truths[int(key)] = {name: truth[name] for name in FIELD_VALUES}
    return truths


def parse_finish_request(payload: dict) -> FinishRequest:
    """Check a POST /_sim/agents/finish body (every field optional); SimConfigError (a 400)
    names the first thing wrong."""
    unknown = [name for name in payload if name not in REQUEST_FIELDS]
    if unknown:
        raise SimConfigError(f"unknown field {unknown[0]}; the body may hold {', '.join(REQUEST_FIELDS)}")
    raw_ids = payload.get("ticket_ids")
    if raw_ids is not None and not (isinstance(raw_ids, list) and all(_whole_number(i) for i in raw_ids)):
        raise SimConfigError("ticket_ids must be a list of ticket ids (whole numbers)")
    error_rate = payload.get("error_rate")
    if error_rate is not None and (
        isinstance(error_rate, bool) or not isinstance(error_rate, (int, float)) or not 0 <= error_rate <= 1
    ):
        raise SimConfigError("error_rate must be a number between 0 and 1")
    seed = payload.get("seed")
    if seed is not None and not _whole_number(seed):
        raise SimConfigError("seed must be a whole number")
    return FinishRequest(
        ticket_ids=None if raw_ids is None else tuple(dict.fromkeys(raw_ids)),
        error_rate=None if error_rate is None else float(error_rate),
        seed=seed,
        truth=_given_truth(payload.get("truth")),
    )


def planted_truth(record: TicketRecord) -> dict[str, str] | None:
    """The ticket's truth in the default taxonomy's words: the generator's labels, or the one
    POST /_sim/agents/finish gave a hand-written ticket; None when it has neither."""
    if record.given_truth is not None:
        return record.given_truth
    generated = record.generated
    if generated is None or generated.category not in ROOT_CAUSE_OF_CATEGORY:
        return None  # hand-written: nobody labelled it
    return truth_of(generated)


def finished_tags(tags: list[str], decision: dict[str, str]) -> list[str]:
    """The tags after the agent's decision: every taxonomy value's tag gone, the decided ones in."""
    kept = [tag for tag in tags if tag not in TAXONOMY_TAGS]
    return list(dict.fromkeys([*kept, *(tag_of(decision[name]) for name in FIELD_VALUES)]))


def finish_ticket(state: SimState, record: TicketRecord, agent_id: int, decision: dict[str, str]) -> dict[str, str]:
    """One agent's update that finishes the ticket as ``decision`` says; what was decided,
    the priority included."""
    changes: dict[str, Any] = {}
    if record.assignee_id is None:
        changes["assignee_id"] = agent_id  # the agent takes it
    tags = finished_tags(record.tags, decision)
    if set(tags) != set(record.tags):  # tags are a set: a new order alone is no change
        changes["tags"] = tags
        # What the agent removed or added is what people decided (the stats' protected tags).
        record.protected_tags -= set(record.tags) - set(tags)
        record.protected_tags |= set(tags) - set(record.tags)
    priority = PRIORITY_OF_URGENCY[decision["urgency"]]
    changes["priority"] = priority  # a Change event only when it differs (SimState._write_audit)
    changes["status"] = "solved"
    state.agent_update(record, agent_id, changes, (SOLVED_REPLY, True))
    record.agent_decision = {**decision, "priority": priority}
    record.finished_by = agent_id
    state.agent_finished_total += 1
    return record.agent_decision


def _why_skipped(state: SimState, ticket_id: int, given: dict[int, dict[str, str]]) -> str | None:
    record = state.tickets.get(ticket_id)
    if record is None:
        return "not found"
    if record.status in FINISHED_STATUSES:
        return f"already {record.status}"
    if planted_truth(record) is None and ticket_id not in given:
        return "no truth (a hand-written ticket: give one in truth)"
    return None


def finish_tickets(state: SimState, request: FinishRequest) -> dict:
    """POST /_sim/agents/finish: agents finish the tickets; the answer names what each decided.

    Checked whole before anything changes: a given truth for a ticket that has a planted one
    is a SimConfigError. Tickets are finished in id order, so a seed always decides the same.
    """
    for ticket_id in request.truth:
        record = state.tickets.get(ticket_id)
        if record is not None and record.given_truth is None and planted_truth(record) is not None:
            raise SimConfigError(f"truth: ticket {ticket_id} has a planted truth already (a generated ticket)")
    if request.ticket_ids is None:
        ids = sorted(i for i, record in state.tickets.items() if record.status not in FINISHED_STATUSES)
    else:
        ids = sorted(request.ticket_ids)
    error_rate = state.config.agent_error_rate if request.error_rate is None else request.error_rate
    rng = state.finish_rng if request.seed is None else random.Random(f"{state.config.seed}:finish:{request.seed}")
    decisions, truths, agents, skipped = {}, {}, {}, {}
    for ticket_id in ids:
        why = _why_skipped(state, ticket_id, request.truth)
        if why is not None:
            skipped[str(ticket_id)] = why
            continue
        record = state.tickets[ticket_id]
        if ticket_id in request.truth:
            record.given_truth = request.truth[ticket_id]
        truth = planted_truth(record)
        assert truth is not None  # _why_skipped saw to that
        # The ticket's assignee finishes it; an unassigned one, an agent who takes it.
        assignee = record.assignee_id
        agent_id = assignee if assignee is not None and assignee in AGENT_IDS else rng.choice(AGENT_IDS)
        decision = answer_with_errors(rng, truth, error_rate)
        decisions[str(ticket_id)] = finish_ticket(state, record, agent_id, decision)
        truths[str(ticket_id)] = truth
        agents[str(ticket_id)] = agent_id
    return {
        "finished": len(decisions),
        "skipped": [int(ticket_id) for ticket_id in skipped],
        "skipped_why": skipped,
        "error_rate": error_rate,
        "decisions": decisions,
        "truth": truths,
        "agents": agents,
    }
