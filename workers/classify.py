"""Classification: a redacted ticket in, its analysis attached."""

from __future__ import annotations

from typing import Any

from celery import Task as CeleryTask

from app import services
from app.celery import app
from app.domain.models import TicketWork
from app.errors import TryLater, retry_countdown
from app.fleet import lanes
from app.fleet.dispatch import ticket_repr
from app.fleet.stages import classify_ticket
from app.names import Task
from app.settings import get_settings
from workers.retry import STORE_UNAVAILABLE, retry_when_store_returns


# max_retries=None: waits that always pass (the LLM's quota, a configuration fault) are unbounded.
@app.task(name=str(Task.CLASSIFY), bind=True, max_retries=None)
def classify_task(self: CeleryTask, work_data: dict[str, Any]) -> dict[str, Any]:
    """A ticket waiting for the LLM's quota, or for an operator to fix a configuration fault, keeps
    its place (a countdown retry, so the worker process is free meanwhile); the rules answer only
    when the LLM is down or cannot answer this ticket."""
    work = TicketWork.model_validate(work_data)
    try:
        return classify_ticket(services.fleet(), work)
    except TryLater as e:
        countdown = retry_countdown(
            e, self.request.retries, get_settings().workers.retry_max_countdown, lanes.in_intake()
        )
        raise self.retry(countdown=countdown, **ticket_repr(work.ticket_id)) from e
    except STORE_UNAVAILABLE as e:
        retry_when_store_returns(self, e, f"ticket {work.ticket_id}", ticket_repr(work.ticket_id))
