"""The small pydantic payloads that travel between tasks and the records a run is made of.

Only ids, redacted text and analysis results cross task boundaries; `TicketInput` (raw text) is
the single exception and exists only inside the redact task's message.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

RootCause = Literal["bug", "feature", "refund", "other"]
Urgency = Literal["high", "medium", "low"]
Sentiment = Literal["positive", "neutral", "negative"]
Outcome = Literal["success", "fallback", "failed", "skipped"]


class Ticket(BaseModel):
    """The part of a Zendesk ticket the fleet reads."""

    id: int
    subject: str = ""
    description: str = ""
    status: str = "new"
    priority: str | None = None
    tags: list[str] = Field(default_factory=list)
    updated_at: str | None = None


class TicketInput(BaseModel):
    """First message of a chain: the raw ticket text, shown in Flower and logs as its id only."""

    run_id: str
    ticket_id: int
    subject: str = ""
    description: str = ""
    priority: str | None = None
    updated_at: str | None = None
    dry_run: bool = False
    enqueued_at: float


class Analysis(BaseModel):
    """What the classifier says about one ticket (the seed's schema)."""

    summary: str = Field(max_length=100)
    root_cause: RootCause
    urgency: Urgency
    sentiment: Sentiment
    model: str
    prompt_version: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class TicketWork(BaseModel):
    """State handed from one stage to the next; carries the outcome once a stage gives up."""

    run_id: str
    ticket_id: int
    priority: str | None = None
    updated_at: str | None = None
    dry_run: bool = False
    enqueued_at: float
    started_at: float | None = None
    redacted_subject: str = ""
    redacted_description: str = ""
    redacted_counts: dict[str, int] = Field(default_factory=dict)
    analysis: Analysis | None = None
    failed_stage: str | None = None
    error: str | None = None


class TicketResult(BaseModel):
    """One ticket's terminal record, the element of the run summary's `results` (seed shape)."""

    ticket_id: int
    status: Outcome
    processing_time: float
    analysis: dict | None = None
    tags_added: list[str] = Field(default_factory=list)
    priority_set: str | None = None
    stage: str | None = None
    error: str | None = None
    tokens: int = 0
    cost_usd: float = 0.0
