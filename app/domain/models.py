"""The small pydantic payloads that travel between tasks and the records a run is made of.

Only ids, redacted text and analysis results cross task boundaries; `TicketInput` (raw text) is
the single exception and exists only inside the redact task's message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from app.domain.taxonomy import TriageMode

Outcome = Literal["success", "fallback", "failed", "skipped"]
WRITTEN: tuple[Outcome, ...] = ("success", "fallback")  # Zendesk holds the fleet's tags and note


class Ticket(BaseModel):
    """The part of a Zendesk ticket the fleet reads."""

    id: int
    subject: str = ""
    description: str = ""
    status: str = "new"
    priority: str | None = None
    tags: list[str] = Field(default_factory=list)
    updated_at: str | None = None
    created_at: str | None = None  # ISO 8601, as Zendesk writes it


def epoch_seconds(moment: str | None) -> float | None:
    """An ISO 8601 time (Zendesk's `2026-05-01T10:00:00Z`) as epoch seconds; None when absent or unreadable."""
    if not moment:
        return None
    try:
        parsed = datetime.fromisoformat(moment)
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


class TicketInput(BaseModel):
    """First message of a chain: the raw ticket text, shown in Flower and logs as its id only."""

    run_id: str
    ticket_id: int
    subject: str = ""
    description: str = ""
    priority: str | None = None
    updated_at: str | None = None
    dry_run: bool = False
    # TRIAGE_MODE when the ticket was claimed (None: each field's own mode), so a run is handled
    # in one mode even if the setting changes while it runs.
    triage_mode: TriageMode | None = None
    enqueued_at: float
    created_at: float | None = None  # when the ticket was created in Zendesk (epoch seconds)

    @classmethod
    def from_ticket(
        cls, ticket: Ticket, run_id: str, dry_run: bool = False, triage_mode: TriageMode | None = None
    ) -> TicketInput:
        """The chain's first message for a ticket as read from Zendesk, stamped as queued now."""
        return cls(
            run_id=run_id,
            ticket_id=ticket.id,
            subject=ticket.subject,
            description=ticket.description,
            priority=ticket.priority,
            updated_at=ticket.updated_at,
            dry_run=dry_run,
            triage_mode=triage_mode,
            enqueued_at=time.time(),
            created_at=epoch_seconds(ticket.created_at),
        )


class Usage(BaseModel):
    """What classifying one ticket cost: tokens, dollars, time and attempts (all zero for the rules)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    latency_ms: int = 0
    attempts: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    # The seed's flat keys in a ticket's stored record, and the field each stands for.
    FLAT_KEYS: ClassVar[dict[str, str]] = {
        "prompt_tokens": "prompt_tokens",
        "completion_tokens": "completion_tokens",
        "cost_usd": "cost_usd",
        "llm_latency_ms": "latency_ms",
    }

    def as_flat_keys(self) -> dict[str, Any]:
        """`tokens` and the FLAT_KEYS, as a stored record carries them."""
        return {"tokens": self.tokens, **{key: getattr(self, name) for key, name in self.FLAT_KEYS.items()}}

    @classmethod
    def from_flat_keys(cls, record: dict[str, Any]) -> Usage:
        return cls(**{name: record[key] for key, name in cls.FLAT_KEYS.items() if key in record})


class Analysis(Usage):
    """What the classifier says about one ticket, with what it cost. Fields come from the taxonomy."""

    summary: str
    values: dict[str, str]
    confidence: dict[str, float] = Field(default_factory=dict)
    language: str | None = None
    provider: Literal["llm", "rules", "local"]
    model: str
    prompt_version: str | None = None
    cached: bool = False
    fallback_reason: str | None = None
    # The local model's gate (app.clients.llm.Gate): "skipped_llm" when it answered alone,
    # "audited" when it was sure but the ticket was in the sample the LLM still answers; then
    # `gate_agreement` says, per field, whether the model's answer was the LLM's.
    gate: Literal["skipped_llm", "audited"] | None = None
    gate_agreement: dict[str, bool] | None = None
    # With provider "local": the fields the local model has not learned, which the rules answered.
    rules_fields: list[str] | None = None

    @property
    def is_fallback(self) -> bool:
        return self.fallback_reason is not None

    @property
    def usage(self) -> Usage:
        return Usage.model_validate(self.model_dump(include=set(Usage.model_fields)))

    def record(self) -> dict[str, Any]:
        """The seed's flat `analysis` object (summary plus one key per field) and metadata."""
        record: dict[str, Any] = {
            "summary": self.summary,
            **self.values,
            "language": self.language,
            "confidence": self.confidence,
            "provider": self.provider,
            "model": self.model,
            "prompt_version": self.prompt_version,
            "cached": self.cached,
            "fallback_reason": self.fallback_reason,
            "gate": self.gate,
            "gate_agreement": self.gate_agreement,
        }
        if self.rules_fields:  # only for a local model that learned some fields
            record["rules_fields"] = self.rules_fields
        return record


class TicketWork(BaseModel):
    """State handed from one stage to the next; carries the outcome once a stage gives up."""

    run_id: str
    ticket_id: int
    priority: str | None = None
    updated_at: str | None = None
    dry_run: bool = False
    triage_mode: TriageMode | None = None  # TRIAGE_MODE when claimed (see TicketInput)
    enqueued_at: float  # when the sweep claimed the ticket
    created_at: float | None = None  # when it was created in Zendesk (epoch seconds), when known
    redacted_subject: str = ""
    redacted_description: str = ""
    redacted_counts: dict[str, int] = Field(default_factory=dict)
    # The ticket's language as redaction decided it: "en", "de", "fr" or "other" (None before).
    language: str | None = None
    analysis: Analysis | None = None
    failed_stage: str | None = None
    error: str | None = None


class TicketResult(BaseModel):
    """One ticket's terminal record, the element of the run summary's `results` (seed shape: the
    usage appears as flat `tokens`, `prompt_tokens`, `completion_tokens`, `cost_usd` and
    `llm_latency_ms` keys)."""

    ticket_id: int
    status: Outcome
    # What reached Zendesk: live (tags and note), suggest (the note only), shadow (nothing).
    mode: TriageMode = "live"
    # Seconds from the sweep's claim until Zendesk held the tags and note (for a ticket not
    # written: until its outcome was known).
    processing_time: float
    claimed_at: float | None = None
    written_at: float | None = None
    created_at: float | None = None  # in Zendesk, when known: created to written is the ticket's wait
    analysis: dict[str, Any] | None = None
    values: dict[str, str] = Field(default_factory=dict)
    tags_added: list[str] = Field(default_factory=list)
    priority_set: str | None = None
    # A dry run's ticket: the private note it would have written (built from the redacted
    # analysis, like every note); tags_added and priority_set then say what it would have added
    # and set. Absent from the stored record otherwise.
    private_note: str | None = None
    stage: str | None = None
    error: str | None = None
    usage: Usage = Field(default_factory=Usage, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _usage_from_flat_keys(cls, data: Any) -> Any:
        """A stored record (a summary file, Redis) carries the usage as the seed's flat keys."""
        if isinstance(data, dict) and "usage" not in data:
            data = {**data, "usage": Usage.from_flat_keys(data)}
        return data

    @model_serializer(mode="wrap")
    def _usage_as_flat_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data = handler(self)
        if data.get("private_note") is None:  # a run that writes keeps the seed's keys alone
            data.pop("private_note", None)
        return {**data, **self.usage.as_flat_keys()}


class WrittenTicket(BaseModel):
    """A ticket of a batch whose tags and note Zendesk holds (or held already: `already_done`)."""

    tags_added: list[str] = Field(default_factory=list)
    already_done: bool = False
    written_at: float


class BatchProgress(BaseModel):
    """How far a batch's write got; a retried triage.update_batch carries it, so no step is
    repeated. Ticket ids only, no ticket text."""

    written: dict[int, WrittenTicket] = Field(default_factory=dict)
    failed: dict[int, str] = Field(default_factory=dict)
    jobs: int = 0
    # Priority raises done so far: the priority written, or None when it was left as it was.
    priorities: dict[int, str | None] = Field(default_factory=dict)
    # The tickets as last read for their priority raise (stamps only, never text): a resumed batch
    # needs no second read; a stale stamp just meets a 409 and a fresh read.
    stamps: dict[int, Ticket] = Field(default_factory=dict)
    tags_done: bool = False
    # How its priorities are written, fixed at the first attempt: a retry after the fleet's
    # priority triggers appeared (or went) must not skip the raises nor the pending tag's work.
    by_trigger: bool | None = None


@dataclass(frozen=True)
class TicketUpdate:
    """The fields the fleet writes to one ticket, and their place in Zendesk's update bodies; tags
    are added, never replaced. Plain data: app.clients.zendesk sends it."""

    additional_tags: list[str]
    private_note: str
    priority: str | None = None
    updated_stamp: str | None = None

    def payload(self) -> dict[str, Any]:
        """The body of PUT /tickets/{id}: tags, note and priority, guarded by safe_update."""
        ticket: dict[str, Any] = self.additive_fields()
        if self.priority:
            ticket["priority"] = self.priority
        if self.updated_stamp:
            # Zendesk answers 409 if an agent (or another fleet process) wrote the ticket since
            # we read it; the caller re-reads instead of overwriting their priority.
            ticket["safe_update"] = True
            ticket["updated_stamp"] = self.updated_stamp
        return {"ticket": ticket}

    def additive_fields(self) -> dict[str, Any]:
        """Tags added and a private note appended: nothing a person set can be overwritten by these,
        so they are what update_many carries (it ignores safe_update, see app.fleet.writeback)."""
        return {
            "additional_tags": self.additional_tags,
            "comment": {"body": self.private_note, "public": False},
        }
