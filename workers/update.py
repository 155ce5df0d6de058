"""Writing to Zendesk: one ticket (triage.update) or a batch (triage.update_batch). Both always
return records (app.fleet.outcome), so the run's chord always reaches its summary."""

from __future__ import annotations

import logging
from typing import Any

from celery import Task as CeleryTask

from app import services
from app.celery import app
from app.clients.zendesk import ZendeskError
from app.domain.models import BatchProgress, TicketWork
from app.fleet.dispatch import batch_repr, ticket_repr
from app.fleet.outcome import finish
from app.fleet.stages import batch_works, finish_batch, update_batch, update_ticket
from app.fleet.writeback import BatchInterrupted
from app.names import Task
from workers.retry import STORE_UNAVAILABLE, retry_or_give_up, retry_when_store_returns

log = logging.getLogger(__name__)


# max_retries=None: Celery's default of 3 would end a chain with an exception (and the chord with
# it); the tasks keep their own budget (UPDATE_MAX_RETRIES) for what does not always pass.
@app.task(name=str(Task.UPDATE), bind=True, max_retries=None)
def update_task(self: CeleryTask, work_data: dict[str, Any], failures: int = 0) -> dict[str, Any]:
    """Write tags, priority and the private note once, or record why not."""
    work = TicketWork.model_validate(work_data)
    fleet = services.fleet()
    try:
        return update_ticket(fleet, work)
    except ZendeskError as e:
        reason = retry_or_give_up(self, e, failures, f"ticket {work.ticket_id}", ticket_repr(work.ticket_id))
        return finish(fleet, work, "failed", stage="update", error=reason)
    except STORE_UNAVAILABLE as e:  # a write that landed before it is found on the retry's re-read
        retry_when_store_returns(self, e, f"ticket {work.ticket_id}", ticket_repr(work.ticket_id))
    except Exception as e:
        log.exception("ticket %s: update failed unexpectedly", work.ticket_id)
        return finish(fleet, work, "failed", stage="update", error=f"unexpected {type(e).__name__}")


@app.task(name=str(Task.UPDATE_BATCH), bind=True, max_retries=None)
def update_batch_task(
    self: CeleryTask,
    works_data: list[Any],
    run_id: str,
    batch_no: int,
    failures: int = 0,
    progress: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Chord body of one batch: one record per ticket. A retry carries what is done in `progress`."""
    works = batch_works(works_data)
    fleet = services.fleet()
    try:
        carried = BatchProgress.model_validate(progress) if progress else None
        return update_batch(fleet, works, run_id, batch_no, carried)
    except BatchInterrupted as e:
        reason = retry_or_give_up(
            self,
            e.error,
            failures,
            f"run {run_id} batch {batch_no}",
            batch_repr(run_id, batch_no, len(works)),
            progress=e.progress.model_dump(mode="json"),
        )
        return finish_batch(fleet, works, e.progress, reason)
    except STORE_UNAVAILABLE as e:  # the retry's re-reads find what this pass already wrote
        retry_when_store_returns(self, e, f"run {run_id} batch {batch_no}", batch_repr(run_id, batch_no, len(works)))
    except Exception as e:
        log.exception("run %s batch %s: update failed unexpectedly", run_id, batch_no)
        return finish_batch(fleet, works, BatchProgress(), f"unexpected {type(e).__name__}")
