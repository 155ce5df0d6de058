"""Webhook intake: claim and dispatch the tickets the receiver (app.intake.webhook) recorded."""

from __future__ import annotations

import logging

from celery import Task as CeleryTask

from app import services
from app.celery import app
from app.clients.zendesk import ZendeskError
from app.errors import retry_countdown
from app.fleet.dispatch import start_announced_run
from app.names import Task
from app.settings import get_settings

log = logging.getLogger(__name__)


@app.task(name=str(Task.INTAKE), bind=True, ignore_result=True, max_retries=None)
def intake_task(self: CeleryTask) -> None:
    """Take every ticket waiting in `intake:pending` and start one run for them. Zendesk unreadable:
    the tickets wait again and this task comes back (the sweep is the net if it never does)."""
    try:
        start_announced_run(services.fleet())
    except ZendeskError as e:
        countdown = retry_countdown(
            e, min(self.request.retries, 5), get_settings().workers.retry_max_countdown, prompt=True
        )
        log.warning("intake: %s; tickets wait, retrying in %.0fs", e, countdown)
        raise self.retry(countdown=countdown) from e
