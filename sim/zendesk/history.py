"""The account's solved history (``--solved N``): what the fleet once wrote and what people changed.

``plan_solved_ticket`` draws one solved ticket and the updates it went through, in order:

* the customer created it (the Create audit comes from ``SimState``);
* about 60% of the history was triaged by the fleet: the API user added ``ai_processed`` and
  one ``ai_<value>`` tag per field of the default taxonomy (each field wrong with probability
  0.25), a private "AI Analysis:" note, and a higher priority when its urgency called for one;
* an agent corrected about 70% of the fields the fleet got wrong: urgency by setting the
  priority the truth calls for, root cause and sentiment by swapping the fleet's tag for the
  true value's (one tags change);
* the tickets the fleet never saw got their priority from an agent, except about 10% that never
  had one;
* finally the agent solved it.

The truth comes from the generator's labels mapped onto the default taxonomy
(app/taxonomies/default.yaml, copied here: the simulator never imports the fleet). Everything
is drawn from the ``random.Random`` given, so a seed always plants the same history.
"""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from typing import Any

from sim.ticketgen import GeneratedTicket, generate_ticket
from sim.zendesk.wire import PRIORITY_RANK

DAY = 24 * 3600
MIN_AGE, MAX_AGE = DAY, 180 * DAY  # the history was created between 1 and 180 days ago

# The default taxonomy's fields and values, and how its urgency maps to a priority.
FIELD_VALUES: dict[str, tuple[str, ...]] = {
    "root_cause": ("refund", "bug", "feature", "other"),
    "urgency": ("high", "medium", "low"),
    "sentiment": ("negative", "neutral", "positive"),
}
PRIORITY_OF_URGENCY = {"high": "high", "medium": "normal", "low": "low"}
PROCESSED_TAG = "ai_processed"
# The generator's labels in the taxonomy's words.
ROOT_CAUSE_OF_CATEGORY = {"bug": "bug", "feature_request": "feature", "billing": "refund", "question": "other"}
URGENCY_OF_GENERATED = {"high": "high", "normal": "medium", "low": "low"}

FLEET_SHARE = 0.6  # of the history, triaged by the fleet
FLEET_ERROR = 0.25  # per field, the fleet's answer is another value
CORRECTED_SHARE = 0.7  # of the fleet's wrong fields, an agent corrected
NO_PRIORITY_SHARE = 0.1  # of the tickets the fleet never saw, no priority ever

SOLVED_REPLY = "Glad we could sort this out! I'm marking the ticket as solved; just reply if anything comes up again."


@dataclass(frozen=True)
class Step:
    """One update of the ticket after its creation: an audit to write."""

    author_id: int
    at: int  # epoch seconds
    channel: str  # "api" for the fleet, "web" for agents
    changes: dict[str, Any]  # property -> new value (tags: the whole list)
    comment: tuple[str, bool] | None = None  # (body, public)


@dataclass(frozen=True)
class PlannedTicket:
    """A solved ticket of the history: as the customer created it, its later updates, its labels."""

    generated: GeneratedTicket  # status "new", priority as the customer created it
    created_at: int
    steps: tuple[Step, ...]
    priority: str | None  # the priority it was solved with
    truth: dict[str, str]
    fleet: dict[str, str] | None  # the fleet's answer; None when it never triaged the ticket
    corrected: tuple[str, ...]  # fields an agent's update actually changed back to the truth

    def report(self) -> dict:
        """The ticket's entry in GET /_sim/history."""
        return {"truth": self.truth, "fleet": self.fleet, "corrected": list(self.corrected)}


def truth_of(generated: GeneratedTicket) -> dict[str, str]:
    """The generator's labels as values of the default taxonomy."""
    return {
        "root_cause": ROOT_CAUSE_OF_CATEGORY[generated.category],
        "urgency": URGENCY_OF_GENERATED[generated.urgency],
        "sentiment": generated.sentiment,
    }


def tag_of(value: str) -> str:
    """The default taxonomy's tag for a value (ai_bug, ai_high, ai_negative ...)."""
    return f"ai_{value}"


def answer_with_errors(rng: random.Random, truth: dict[str, str], error_rate: float) -> dict[str, str]:
    """The truth, except that each field is, with probability ``error_rate``, another of its
    values (drawn uniformly among the others)."""
    answer = {}
    for name, values in FIELD_VALUES.items():
        wrong = rng.random() < error_rate
        answer[name] = rng.choice([v for v in values if v != truth[name]]) if wrong else truth[name]
    return answer


def fleet_answer(rng: random.Random, truth: dict[str, str]) -> dict[str, str]:
    """The truth, except that each field is another value with probability FLEET_ERROR."""
    return answer_with_errors(rng, truth, FLEET_ERROR)


def fleet_note(generated: GeneratedTicket, answer: dict[str, str]) -> str:
    """The private note the fleet wrote, shaped like its own (it starts "AI Analysis:")."""
    labels = [f"{name.replace('_', ' ').title()}: {answer[name]}" for name in FIELD_VALUES]
    return "\n".join(
        ["AI Analysis:", "", f"Summary: {generated.subject[:100]}", *labels, "", "---", "Model: gpt-4o-mini"]
    )


def _fleet_step(
    generated: GeneratedTicket, answer: dict[str, str], tags: list[str], priority: str | None, at: int, api_user: int
) -> Step:
    """The fleet's update: its tags added, its note, and a priority only when it is higher."""
    added = [PROCESSED_TAG, *(tag_of(answer[name]) for name in FIELD_VALUES)]
    changes: dict[str, Any] = {"tags": list(dict.fromkeys([*tags, *added]))}
    wanted = PRIORITY_OF_URGENCY[answer["urgency"]]
    if PRIORITY_RANK[wanted] > PRIORITY_RANK[priority]:
        changes["priority"] = wanted
    return Step(api_user, at, "api", changes, (fleet_note(generated, answer), False))


def _corrections(
    fields: list[str], truth: dict[str, str], answer: dict[str, str], tags: list[str], priority: str | None
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """An agent's corrections of ``fields`` and the fields they really change.

    Urgency is corrected through the priority (a no-op when it is already the truth's); root
    cause and sentiment by replacing the fleet's tag with the true value's in one tags change.
    """
    changes: dict[str, Any] = {}
    changed = []
    swaps = {tag_of(answer[name]): tag_of(truth[name]) for name in fields if name != "urgency"}
    if swaps:
        changes["tags"] = [swaps.get(tag, tag) for tag in tags]
        changed += [name for name in fields if name != "urgency"]
    wanted = PRIORITY_OF_URGENCY[truth["urgency"]]
    if "urgency" in fields and wanted != priority:
        changes["priority"] = wanted
        changed.append("urgency")
    return changes, tuple(name for name in FIELD_VALUES if name in changed)


def plan_solved_ticket(rng: random.Random, created_at: int, api_user: int, agents: tuple[int, ...]) -> PlannedTicket:
    """Draw one solved ticket of the history and the updates it went through.

    ``api_user`` is the fleet's user; one of ``agents`` corrects (if anyone does) and solves it.
    """
    generated = dataclasses.replace(generate_ticket(rng, non_english_share=0), status="new")
    truth = truth_of(generated)
    agent = rng.choice(agents)
    tags, priority = list(generated.tags), generated.priority
    at = created_at
    steps: list[Step] = []
    answer, corrected = None, ()
    if rng.random() < FLEET_SHARE:
        answer = fleet_answer(rng, truth)
        at += rng.randint(60, 15 * 60)  # the fleet answers within minutes
        steps.append(_fleet_step(generated, answer, tags, priority, at, api_user))
        tags = steps[-1].changes["tags"]
        priority = steps[-1].changes.get("priority", priority)
        wrong = [name for name in FIELD_VALUES if answer[name] != truth[name]]
        chosen = [name for name in wrong if rng.random() < CORRECTED_SHARE]
        changes, corrected = _corrections(chosen, truth, answer, tags, priority)
        if changes:
            at += rng.randint(10 * 60, 4 * 3600)
            steps.append(Step(agent, at, "web", changes))
        priority = changes.get("priority", priority)
    elif rng.random() < NO_PRIORITY_SHARE:
        generated = dataclasses.replace(generated, priority=None)  # nobody ever set one
        priority = None
    else:
        at += rng.randint(10 * 60, 4 * 3600)
        priority = PRIORITY_OF_URGENCY[truth["urgency"]]
        steps.append(Step(agent, at, "web", {"priority": priority}))
    at += rng.randint(30 * 60, 12 * 3600)
    steps.append(Step(agent, at, "web", {"status": "solved"}, (SOLVED_REPLY, True)))
    return PlannedTicket(generated, created_at, _assigned(steps, agent), priority, truth, answer, corrected)


def _assigned(steps: list[Step], agent: int) -> tuple[Step, ...]:
    """The steps with the agent's first update assigning the ticket (and opening it, unless
    that update solves it)."""
    first = next(index for index, step in enumerate(steps) if step.author_id == agent)
    step = steps[first]
    opened = {} if "status" in step.changes else {"status": "open"}
    assigned = dataclasses.replace(step, changes={"assignee_id": agent, **opened, **step.changes})
    return (*steps[:first], assigned, *steps[first + 1 :])


def ages(rng: random.Random, count: int) -> list[float]:
    """Seconds since each ticket of the history was created, oldest first (ids follow creation)."""
    return sorted((rng.uniform(MIN_AGE, MAX_AGE) for _ in range(count)), reverse=True)


def history_report(planned: list[tuple[int, PlannedTicket]]) -> dict:
    """GET /_sim/history: the totals, and per ticket id its truth, the fleet's answer and the
    fields an agent corrected."""
    triaged = [ticket for _, ticket in planned if ticket.fleet is not None]
    fields = {
        name: {
            "fleet_wrong": sum(ticket.fleet[name] != ticket.truth[name] for ticket in triaged),
            "agent_corrected": sum(name in ticket.corrected for ticket in triaged),
        }
        for name in FIELD_VALUES
    }
    return {
        "solved": len(planned),
        "fleet_triaged": len(triaged),
        "fields": fields,
        "without_priority": sum(ticket.priority is None for _, ticket in planned),
        "tickets": {str(ticket_id): ticket.report() for ticket_id, ticket in planned},
    }
