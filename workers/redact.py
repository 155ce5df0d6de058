"""The only tasks that see a ticket's raw text: they redact it and hand on ids and redacted text.
Flower and the logs show their arguments as ids (see `argsrepr` in app.fleet.dispatch)."""

from __future__ import annotations

from typing import Any

from celery import Task as CeleryTask
from kombu.exceptions import OperationalError
from redis.exceptions import RedisError

from app import services
from app.celery import app
from app.domain.models import TicketInput
from app.fleet.dispatch import classify_signature, redact_batch_signature
from app.names import Task
from app.redaction import redact_inputs

# Tickets per spaCy pass in triage.redact_batch: nlp.pipe costs about two thirds of a call per
# ticket from 20 on (bench/redaction_batching.py). A batch's first pass is shorter: every batch
# starts at once, and the LLM should not wait for all of their first passes.
FIRST_REDACT_CHUNK = 5
REDACT_CHUNK = 20


@app.task(name=str(Task.REDACT), bind=True)
def redact_task(self: CeleryTask, payload: dict[str, Any]) -> dict[str, Any]:
    """Raw ticket in, redacted ticket out."""
    return redact_inputs(services.redactor(), [TicketInput.model_validate(payload)])[0].model_dump()


# Adding to the chord needs Redis: a dropped connection retries the pass (classifying a ticket
# twice is harmless, update_batch keeps one result per ticket) instead of failing the batch.
@app.task(
    name=str(Task.REDACT_BATCH),
    bind=True,
    autoretry_for=(RedisError, OperationalError),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=20,
)
def redact_batch_task(
    self: CeleryTask,
    payloads: list[dict[str, Any]],
    run_id: str,
    batch_no: int,
    first: bool = True,
    queue: str | None = None,
) -> list:
    """Large runs: redact the next few tickets of a batch in one spaCy pass and add their
    triage.classify, then the rest of the batch as another triage.redact_batch, to the batch's
    chord; its body, triage.update_batch, waits for them all. The first pass is short so the LLM
    starts early; handing the rest back to the queue frees this worker process meanwhile. `queue`:
    the run's own queue (webhook runs), which the tasks it adds go to as well."""
    size = FIRST_REDACT_CHUNK if first else REDACT_CHUNK
    tickets = [TicketInput.model_validate(p) for p in payloads[:size]]
    for work in redact_inputs(services.redactor(), tickets):
        self.add_to_chord(classify_signature(work, queue))
    if len(payloads) > size:
        self.add_to_chord(redact_batch_signature(payloads[size:], run_id, batch_no, first=False, queue=queue))
    return []  # the chord's results are the classify tasks'; update_batch skips this one
