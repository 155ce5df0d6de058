"""Daily log files under LOG_DIR: one line per ticket outcome, text or JSON, old days deleted."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from app.logs import LOG_FILE_NAME, log_file_handler
from app.settings import OperatorSettings, Settings, ZendeskSettings

ZENDESK = {"url": "http://127.0.0.1:9", "email": "bot@example.com", "api_token": "t"}


def settings_with(**operators: object) -> Settings:
    return Settings(zendesk=ZendeskSettings(**ZENDESK), operators=OperatorSettings(**operators))


@pytest.fixture
def file_logger():
    logger = logging.getLogger("triage.test-logs")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    handlers = []

    def attach(settings: Settings) -> logging.Logger:
        handler = log_file_handler(settings)
        handlers.append(handler)
        logger.addHandler(handler)
        return logger

    yield attach
    for handler in handlers:
        logger.removeHandler(handler)
        handler.close()


def test_text_lines_go_to_the_daily_file(tmp_path: Path, file_logger):
    logger = file_logger(settings_with(log_dir=tmp_path))
    logger.info("ticket %s success in %.2fs", 42, 1.5, extra={"ticket_id": 42, "status": "success"})
    line = (tmp_path / LOG_FILE_NAME).read_text().splitlines()[-1]
    assert line.endswith("ticket 42 success in 1.50s") and " INFO triage.test-logs " in line


def test_json_lines_carry_the_outcome_fields(tmp_path: Path, file_logger):
    logger = file_logger(settings_with(log_dir=tmp_path, log_format="json"))
    logger.warning(
        "ticket %s failed at %s: %s (dead-lettered)",
        7,
        "update",
        "ticket is closed",
        extra={
            "ticket_id": 7,
            "run_id": "r1",
            "status": "failed",
            "stage": "update",
            "seconds": 2.0,
            "error": "ticket is closed",
        },
    )
    record = json.loads((tmp_path / LOG_FILE_NAME).read_text().splitlines()[-1])
    assert record["message"] == "ticket 7 failed at update: ticket is closed (dead-lettered)"
    assert {k: record[k] for k in ("ticket_id", "run_id", "status", "stage", "levelname")} == {
        "ticket_id": 7,
        "run_id": "r1",
        "status": "failed",
        "stage": "update",
        "levelname": "WARNING",
    }


def test_rollover_keeps_the_retention_days_and_deletes_older_files(tmp_path: Path, file_logger):
    settings = settings_with(log_dir=tmp_path, log_retention_days=3)
    for day in range(1, 7):  # six earlier days on disk
        (tmp_path / f"{LOG_FILE_NAME}.2026-11-{day:02d}").write_text(f"day {day}\n")
    logger = file_logger(settings)
    logger.info("before midnight")
    handler = logger.handlers[-1]
    assert handler.when == "MIDNIGHT" and handler.utc and handler.backupCount == 3
    handler.doRollover()
    logger.info("after midnight")
    kept = sorted(p.name for p in tmp_path.glob(f"{LOG_FILE_NAME}.*") if not p.name.endswith(".lock"))
    assert len(kept) == 3 and f"{LOG_FILE_NAME}.2026-11-01" not in kept
    assert (tmp_path / LOG_FILE_NAME).read_text().strip().endswith("after midnight")


def test_bad_log_settings_are_refused():
    with pytest.raises(ValueError):
        OperatorSettings(log_format="xml")
    with pytest.raises(ValueError):
        OperatorSettings(log_retention_days=0)
