"""Every ticket's prediction, kept for `python -m app accuracy`: what the fleet answered, how sure it
was, in which mode the ticket was handled and what of it Zendesk got.

One Redis hash per UTC day (`predictions:<YYYY-MM-DD>`, ticket id -> JSON), expiring
PREDICTION_RETENTION_DAYS after that day: reading a window costs one HGETALL per day, and a
ticket triaged again (a requeued dead letter) keeps its latest prediction. Ids, values and
confidences only: never ticket text.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from app.domain.taxonomy import TriageMode
from app.fleet.replies import text

DAY = 24 * 3600


class Prediction(BaseModel):
    """One ticket's answer as recorded when its outcome was known."""

    ticket_id: int
    run_id: str
    at: float  # epoch seconds
    # What reached Zendesk: live (tags and note), suggest (the note only), shadow (nothing).
    mode: TriageMode
    # Per field (and "priority" when the taxonomy maps one): shadow, suggest, tag (priority: write).
    field_modes: dict[str, str] = Field(default_factory=dict)
    values: dict[str, str]
    confidence: dict[str, float] = Field(default_factory=dict)
    provider: str
    model: str = ""
    fallback_reason: str | None = None
    # What Zendesk holds from the fleet: a field's value written as its tag, "priority" when set.
    written: dict[str, str] = Field(default_factory=dict)


def day_of(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%d")


class PredictionStore:
    """The predictions in Redis, by the UTC day they were recorded."""

    def __init__(self, client: Any, prefix: str = "", retention_days: int = 90) -> None:
        self.redis = client
        self.prefix = prefix
        self.retention = retention_days * DAY

    def key(self, day: str) -> str:
        return f"{self.prefix}predictions:{day}"

    def record(self, prediction: Prediction) -> None:
        key = self.key(day_of(prediction.at))
        pipe = self.redis.pipeline(transaction=False)
        pipe.hset(key, str(prediction.ticket_id), prediction.model_dump_json())
        pipe.expire(key, self.retention + DAY)
        pipe.execute()

    def since(self, start: float, now: float | None = None) -> list[Prediction]:
        """The predictions recorded from `start` on, the latest per ticket, oldest first."""
        latest: dict[int, Prediction] = {}
        for prediction in self._read(start, now or time.time()):
            if prediction.at >= start:
                known = latest.get(prediction.ticket_id)
                if known is None or prediction.at >= known.at:
                    latest[prediction.ticket_id] = prediction
        return sorted(latest.values(), key=lambda p: p.at)

    def _read(self, start: float, end: float) -> Iterator[Prediction]:
        first = datetime.fromtimestamp(start, UTC).date()
        last = datetime.fromtimestamp(end, UTC).date()
        days = [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]
        pipe = self.redis.pipeline(transaction=False)
        for day in days:
            pipe.hgetall(self.key(day))
        for entries in pipe.execute():
            for raw in entries.values():
                try:
                    yield Prediction.model_validate_json(text(raw))
                except ValidationError:
                    continue  # a record from a version that wrote another shape: not comparable
