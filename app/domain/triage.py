"""What the fleet writes back to Zendesk for a ticket and its analysis; pure functions. The writes
themselves, exactly once, are app.fleet.writeback's.

`plan_update`: tags, priority and the private note for an analysis. Priorities are written one of
two ways (PRIORITY_MODE): by Zendesk itself, through the triggers `python -m app zendesk setup`
installs, which act on the fleet's own update when it carries PENDING_TAG (no request of the
fleet's Update Ticket share is spent, and the trigger sees the ticket as it stands at that update,
so an agent's higher priority is never lowered); or by the fleet, one safe_update PUT each. Tags,
the priority map and the note's fields come from the taxonomy, and how much of it is written from
the modes (taxonomy.Modes): a field in suggest mode is named in the note only, one in shadow mode
not at all, and a ticket in shadow mode gets no write.
"""

from __future__ import annotations

from app.domain.models import Analysis, Ticket, TicketUpdate
from app.domain.note_text import NOTE_TEXT
from app.domain.taxonomy import Modes, Taxonomy

PRIORITY_RANK = {"low": 0, "normal": 1, "high": 2, "urgent": 3}
CLOSED_STATUSES = {"solved", "closed"}
# The fleet's write asks its priority triggers to act (they remove the tag again in the same update);
# a priority an agent changed by hand carries BY_HAND_TAG, and the triggers leave it alone for good.
PENDING_TAG = "ai_priority_pending"
BY_HAND_TAG = "ai_priority_by_hand"


def triage_tags(analysis: Analysis, taxonomy: Taxonomy, modes: Modes | None = None) -> list[str]:
    """The processed tag, one tag per field value in tag mode, and the fallback tag when the rules
    stood in; none at all for a ticket handled in suggest or shadow mode (it changes nothing)."""
    modes = modes or taxonomy.modes()
    if modes.ticket != "live":
        return []
    tagged = {name: value for name, value in analysis.values.items() if modes.fields.get(name) == "tag"}
    tags = taxonomy.tags_for(tagged)
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


def format_note(
    analysis: Analysis, taxonomy: Taxonomy, run_id: str, modes: Modes | None = None, language: str = "en"
) -> str:
    """The private note; built from redacted text only, worded in `language` ("en", "de" or "fr",
    see app.domain.note_text; values, tags and the "Run:" line are the same in each). A field in
    suggest mode reads "Suggested <field>: value"; one in shadow mode is left out."""
    modes = modes or taxonomy.modes()
    text = NOTE_TEXT.get(language, NOTE_TEXT["en"])
    lines = [text["heading"], "", text["summary"].format(summary=analysis.summary)]
    for name, spec in taxonomy.fields.items():
        mode = modes.fields.get(name, "tag")
        if mode == "shadow":
            continue
        confidence = analysis.confidence.get(name)
        suffix = f" ({confidence:.0%})" if confidence is not None else ""
        label = spec.labels.get(language, _label(name))
        line = text["suggested_field" if mode == "suggest" else "field"]
        lines.append(line.format(label=label, label_lower=label.lower(), value=analysis.values.get(name, "?")) + suffix)
    wanted_priority = taxonomy.priority_for(analysis.values)
    if modes.priority == "suggest" and wanted_priority:
        lines.append(text["suggested_priority"].format(value=wanted_priority))
    if analysis.language:
        lines.append(text["language"].format(value=analysis.language))
    suggested = [name for name, mode in modes.record().items() if mode == "suggest"]
    mode_line = text["mode_suggest"] if modes.ticket == "suggest" else text["mode"].format(mode=modes.ticket)
    if modes.ticket == "live" and suggested:
        mode_line += text["suggested_only"].format(names=", ".join(suggested))
    lines += ["", "---", mode_line, text["model"].format(value=analysis.model)]
    if analysis.is_fallback:
        fallback = "fallback_rules" if analysis.provider == "rules" else "fallback_local"
        lines.append(text[fallback].format(model=analysis.model, reason=analysis.fallback_reason))
    if analysis.rules_fields:
        lines.append(text["rules"].format(names=", ".join(analysis.rules_fields)))
    if analysis.gate == "skipped_llm":
        lines.append(text["gate"])
    if analysis.prompt_version:
        lines.append(text["prompt_version"].format(value=analysis.prompt_version))
    if analysis.prompt_tokens or analysis.completion_tokens:
        lines.append(text["tokens"].format(prompt=analysis.prompt_tokens, completion=analysis.completion_tokens))
    lines.append(f"Run: {run_id}")  # read back by app.fleet.writeback.note_written: never translated
    return "\n".join(lines)


def plan_update(
    analysis: Analysis,
    taxonomy: Taxonomy,
    current_priority: str | None,
    updated_stamp: str | None,
    run_id: str,
    by_trigger: bool = False,
    modes: Modes | None = None,
    note_language: str = "en",
) -> TicketUpdate:
    """Tags, note and priority for one ticket. `by_trigger`: no priority field; the pending tag asks
    the priority triggers to raise it in the same update. `modes` (default: the taxonomy's own)
    leaves out what is only suggested; a ticket in shadow mode has no update (ValueError).
    `note_language`: the note's wording (app.domain.note_text.note_language); tags never change."""
    modes = modes or taxonomy.modes()
    if modes.ticket == "shadow":
        raise ValueError("a ticket handled in shadow mode is not written")
    tags = triage_tags(analysis, taxonomy, modes)
    note = format_note(analysis, taxonomy, run_id, modes, note_language)
    wanted = taxonomy.priority_for(analysis.values) if modes.priority == "write" else None
    if by_trigger:
        if wanted:
            tags.append(PENDING_TAG)
        return TicketUpdate(additional_tags=tags, private_note=note, updated_stamp=updated_stamp)
    return TicketUpdate(
        additional_tags=tags,
        private_note=note,
        priority=priority_to_set(wanted, current_priority),
        updated_stamp=updated_stamp,
    )


def expected_trigger_priority(
    analysis: Analysis, taxonomy: Taxonomy, ticket: Ticket, modes: Modes | None = None
) -> str | None:
    """The priority the fleet's triggers will set on `ticket` (as read just before the write), or
    None: they leave a priority as high or higher, and one an agent set by hand."""
    if BY_HAND_TAG in ticket.tags or (modes or taxonomy.modes()).priority != "write":
        return None
    return priority_to_set(taxonomy.priority_for(analysis.values), ticket.priority)
