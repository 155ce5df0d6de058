"""The daily log file gets the fleet's own lines, whichever module writes them: a sweep's line and
an LLM fallback's warning both reach LOG_DIR/triage.log."""

from __future__ import annotations

import logging

from app import services
from app.fleet.sweep import sweep
from app.logs import FILE_LOGGERS, LOG_FILE_NAME, setup_file_logging
from app.settings import get_settings


def test_a_sweep_line_and_an_llm_fallback_line_reach_triage_log(fleet_env, monkeypatch, tmp_path):
    monkeypatch.setenv("LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("LLM_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens: the LLM is down
    monkeypatch.setenv("LLM_SDK_MAX_RETRIES", "0")
    services.reset()
    handler = setup_file_logging(get_settings())
    try:
        outcome = sweep(services.zendesk(), services.claims(), limit=5, dry_run=True)
        analysis = services.classifier().classify("Checkout crashes", "Error 500 when I pay")
        assert outcome.inputs and analysis.is_fallback
        handler.flush()
        lines = (tmp_path / "logs" / LOG_FILE_NAME).read_text().splitlines()
        assert any(" app.fleet.sweep " in line and f"sweep {outcome.run_id}: " in line for line in lines), lines
        assert any(
            " app.clients.llm " in line and "LLM fallback to rules: LLM unavailable" in line for line in lines
        ), lines
    finally:
        for name in FILE_LOGGERS:
            logging.getLogger(name).removeHandler(handler)
        handler.close()
