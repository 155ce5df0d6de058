"""What every worker and beat process does as it starts: log to LOG_DIR/triage.log, keep ticket
text out of Celery's own log lines, and load the models before the pool forks."""

from __future__ import annotations

import gc
import logging
from typing import Any

from celery.signals import after_setup_logger, task_postrun, task_prerun, worker_init, worker_ready

from app import services
from app.fleet import lanes
from app.logs import setup_file_logging
from app.names import Queue
from app.redis_connection import check_redis_database
from app.settings import get_settings

log = logging.getLogger(__name__)

WARM_UP_TEXT = (
    "Hi, I'm Anna Berg (anna@example.org, +44 20 7946 0958, 030 1234567). Card 4111 1111 1111 1111, "
    "IBAN GB82 WEST 1234 5698 7654 32, SSN 123-45-6789, IP 192.0.2.1, 12 Baker Street, London."
)


class HideReturnValues(logging.Filter):
    """Celery logs each task's return value on success; ours carry ticket text (redacted, but
    the logs need ids only), so the value is replaced before the line is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, dict) and "return_value" in record.args:
            record.args = {**record.args, "return_value": "<hidden>"}
        return True


logging.getLogger("celery.app.trace").addFilter(HideReturnValues())


_lane_tokens: dict[str, Any] = {}


@task_prerun.connect
def _enter_lane(task_id: str = "", task: Any = None, **_: Any) -> None:
    """A task from an intake queue runs in the intake lane (app.fleet.lanes)."""
    info = getattr(getattr(task, "request", None), "delivery_info", None) or {}
    _lane_tokens[task_id] = lanes.enter(info.get("routing_key"))


@task_postrun.connect
def _leave_lane(task_id: str = "", **_: Any) -> None:
    token = _lane_tokens.pop(task_id, None)
    if token is not None:
        lanes.leave(token)


@worker_ready.connect
def _say_who_raises_priorities(**_: Any) -> None:
    """Look at the account once at start-up (app.services.priority_mode) and say what was found;
    the workers look again every few minutes. Zendesk out of reach is not a reason not to start."""
    try:
        mode, why = services.priority_mode()
    except Exception as e:
        log.warning("priorities: not looked at yet (%s: %s); the first write looks again", type(e).__name__, e)
        return
    log.warning(
        "priorities: %s (%s)",
        "raised by Zendesk's triggers"
        if mode == "triggers"
        else "one safe PUT each at the fleet's share of Update Ticket",
        why,
    )


@after_setup_logger.connect
def _log_to_daily_files(**_: Any) -> None:
    """Workers and beat also write LOG_DIR/triage.log (app.logs)."""
    setup_file_logging(get_settings())


@worker_init.connect
def _load_models_before_fork(sender: Any = None, **_: Any) -> None:
    """Load spaCy, the local model (and the LLM client's modules) in the worker's parent so every pool child shares
    their pages (copy on write). A worker that takes no redact queue (the I/O worker, `-Q intake_io,classify,zendesk`)
    never redacts, and is spared spaCy's memory.

    One redaction first builds what loads lazily (phonenumbers metadata, regex and vocabulary
    caches) in the parent too; gc.freeze() then keeps the collector from writing to those
    objects in every child, which would give each child its own copy of the pages.
    """
    check_redis_database(get_settings())  # REDIS_URL naming a database Redis lacks stops here
    provider, why = get_settings().llm_choice()
    taxonomy = services.taxonomy()  # a bad taxonomy file stops the worker here, not per ticket
    log.warning("classifier: %s (%s); taxonomy %s@%s", provider, why, taxonomy.name, taxonomy.version)
    consumed = set(sender.app.amqp.queues.consume_from) if sender is not None else {str(Queue.REDACT)}
    if str(Queue.REDACT) in consumed:
        services.redactor().redact_tickets([(WARM_UP_TEXT, WARM_UP_TEXT)] * 2)  # the batch path too
    else:
        log.warning("no redact queue among %s: the spaCy model is not loaded", ",".join(sorted(consumed)))
    services.check_classifier()  # LLM_PROVIDER=local without a model, say, stops the worker here
    local = services.local_classifier()  # shared by the children like spaCy; a bad model stops here
    if local is not None:
        local.classify("warm up", WARM_UP_TEXT)
        log.warning("local model: %s (%s)", local.name, get_settings().learning.model_path)
    if provider == "openai":
        # The OpenAI SDK takes a second or more of CPU to import; imported here, every child has it
        # (and shares its pages) instead of importing it on its first ticket, dozens at once.
        # Nothing that opens a socket is built before the fork.
        import app.clients.llm  # noqa: F401
    gc.freeze()
