"""What the fleet writes back to Zendesk for a ticket and its analysis; pure functions. The writes
themselves, exactly once, are app.fleet.writeback's.

`plan_update`: tags, priority and the private note for an analysis. Priorities are written one of
two ways (PRIORITY_MODE): by Zendesk itself, through the triggers `python -m app zendesk setup`
installs, which act on the fleet's own update when it carries PENDING_TAG (no request of the
fleet's Update Ticket share is spent, and the trigger sees the ticket as it stands at that update,
so an agent's higher priority is never lowered); or by the fleet, one safe_update PUT each. Tags,
the priority map and the note's fields come from the taxonomy.
"""

from __future__ import annotations

from app.domain.models import Analysis, Ticket, TicketUpdate
from app.domain.taxonomy import Taxonomy

PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
CLOSED_STATUSES = {"solved", "closed"}
# The fleet's write asks its priority triggers to act (they remove the tag again in the same update);
# a priority an agent changed by hand carries BY_HAND_TAG, and the triggers leave it alone for good.
PENDING_TAG = "ai_priority_pending"
BY_HAND_TAG = "ai_priority_by_hand"


def triage_tags(analysis: Analysis, taxonomy: Taxonomy) -> list[str]:
    """The processed tag, one tag per field value, and the fallback tag when the rules stood in."""
    tags = taxonomy.tags_for(analysis.values)
    if analysis.is_fallback:
        tags.append(taxonomy.fallback_tag)
    return tags


def priority_to_set(wanted: str | None, current: str | None) -> str | None:
    """The priority to write, or None to leave it: never lower one a person already set."""
    if wanted is None:
        return None
    if current is None or PRIORITY_RANK[wanted] > PRIORITY_RANK.get(current, -1):
        return wanted
    return None


def _label(name: str) -> str:
    return name.replace("_", " ").title()


def format_note(analysis: Analysis, taxonomy: Taxonomy, run_id: str) -> str:
    """The private note; built from redacted text only."""
    lines = ["AI Analysis:", "", f"Summary: {analysis.summary}"]
    for name in taxonomy.fields:
        confidence = analysis.confidence.get(name)
        suffix = f" ({confidence:.0%})" if confidence is not None else ""
        lines.append(f"{_label(name)}: {analysis.values.get(name, '?')}{suffix}")
    if analysis.language:
        lines.append(f"Language: {analysis.language}")
    lines += ["", "---", f"Model: {analysis.model}"]
    if analysis.is_fallback:
        answered_by = "rules classifier" if analysis.provider == "rules" else f"local model {analysis.model}"
        lines.append(f"Fallback: {answered_by} ({analysis.fallback_reason})")
    if analysis.rules_fields:
        lines.append(f"Rules: {', '.join(analysis.rules_fields)} (not learned by the local model)")
    if analysis.gate == "skipped_llm":
        lines.append("Gate: the local model was sure of every field; the LLM was not asked")
    if analysis.prompt_version:
        lines.append(f"Prompt Version: {analysis.prompt_version}")
    if analysis.prompt_tokens or analysis.completion_tokens:
        lines.append(f"Tokens Used: {analysis.prompt_tokens} prompt + {analysis.completion_tokens} completion")
    lines.append(f"Run: {run_id}")
    return "\n".join(lines)


def plan_update(
    analysis: Analysis,
    taxonomy: Taxonomy,
    current_priority: str | None,
    updated_stamp: str | None,
    run_id: str,
    by_trigger: bool = False,
) -> TicketUpdate:
    """Tags, note and priority for one ticket. `by_trigger`: no priority field; the pending tag asks
    the priority triggers to raise it in the same update."""
    tags = triage_tags(analysis, taxonomy)
    if by_trigger:
        if taxonomy.priority_for(analysis.values):
            tags.append(PENDING_TAG)
        return TicketUpdate(
            additional_tags=tags, private_note=format_note(analysis, taxonomy, run_id), updated_stamp=updated_stamp
        )
    return TicketUpdate(
        additional_tags=tags,
        private_note=format_note(analysis, taxonomy, run_id),
        priority=priority_to_set(taxonomy.priority_for(analysis.values), current_priority),
        updated_stamp=updated_stamp,
    )


def expected_trigger_priority(analysis: Analysis, taxonomy: Taxonomy, ticket: Ticket) -> str | None:
    """The priority the fleet's triggers will set on `ticket` (as read just before the write), or
    None: they leave a priority as high or higher, and one an agent set by hand."""
    if BY_HAND_TAG in ticket.tags:
        return None
    return priority_to_set(taxonomy.priority_for(analysis.values), ticket.priority)
