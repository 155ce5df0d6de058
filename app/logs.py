"""Daily log files under LOG_DIR: `triage.log`, rolled over at midnight UTC into
`triage.log.YYYY-MM-DD`, the last LOG_RETENTION_DAYS kept; plain text or JSON lines (LOG_FORMAT).

Every worker child, beat and the CLI write to the same file, so the handler is
concurrent-log-handler's (file locks, safe across fork) rather than the standard library's,
whose rollover assumes one process. Lines carry ids, outcomes and timings only: ticket text never
reaches a log call, and settings never get logged (secrets are SecretStr).
"""

from __future__ import annotations

import logging
from pathlib import Path

from concurrent_log_handler import ConcurrentTimedRotatingFileHandler
from pythonjsonlogger.json import JsonFormatter

from app.settings import Settings

LOG_FILE_NAME = "triage.log"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(processName)s] %(message)s"
# Per-ticket lines add ticket_id, run_id, status, stage, seconds (see app.fleet.outcome).
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(processName)s %(message)s"
# Every module logs under its own name (logging.getLogger(__name__)), so the fleet's lines all sit
# below these two package loggers: one per ticket outcome, sweeps, runs, retries, LLM fallbacks,
# breakers and alerts reach the file.
FILE_LOGGERS = ("app", "workers")
HANDLER_NAME = "triage-file"


def log_file_handler(settings: Settings) -> logging.Handler:
    """The daily, retained, multi-process-safe file handler for LOG_DIR."""
    log_dir = Path(settings.operators.log_dir)
    log_dir.mkdir(parents=True, exist_ok=True)
    handler = ConcurrentTimedRotatingFileHandler(
        str(log_dir / LOG_FILE_NAME),
        when="midnight",
        utc=True,
        backupCount=settings.operators.log_retention_days,
        encoding="utf-8",
    )
    if settings.operators.log_format == "json":
        handler.setFormatter(JsonFormatter(JSON_FIELDS, timestamp=False))
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.setLevel(logging.INFO)
    handler.set_name(HANDLER_NAME)
    return handler


def setup_file_logging(settings: Settings) -> logging.Handler:
    """Attach one file handler to the fleet's package loggers, once per process; returns it."""
    loggers = [logging.getLogger(name) for name in FILE_LOGGERS]
    existing = next((h for h in loggers[0].handlers if h.get_name() == HANDLER_NAME), None)
    if existing is not None:
        return existing
    handler = log_file_handler(settings)
    for logger in loggers:
        logger.addHandler(handler)
        if logger.level == logging.NOTSET or logger.level > logging.INFO:
            logger.setLevel(logging.INFO)
    return handler
