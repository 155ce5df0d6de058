"""`python -m app report --since 7d` in a real browser (headless Debian Chromium driven by
Playwright): a real run today through a worker and the simulators, three earlier days of summary
files in LOG_DIR (as runs on those days left them), a dead letter; the page opened from its file
draws every chart with data and fetches nothing. The screenshot goes to test-artifacts/."""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.domain.models import TicketResult
from app.domain.summary import build_summary, write_summary_file
from app.fleet.claims import Claims, DeadLetters
from app.fleet.store import RunStore
from sim.launcher.stack import LocalStack
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM_ARGS, chromium_path

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

FIELDS = ["root_cause", "urgency", "sentiment"]
CHARTS = ["outcomes", "sources", "fallback_rate", "cost", "created_to_written", "gate_override", "dead_letters"]
OVERRIDE = {
    "measured_at": "2026-11-01T00:00:00+00:00",
    "since_days": 30,
    "fleet_triaged": 40,
    "fields": {"urgency": {"fleet_answers": 40, "changed_by_people": 6, "rate": 0.15}},
}


def earlier_day(log_dir: Path, days_ago: int, source: str) -> None:
    """A run that finished `days_ago` days ago: written, fallback and failed tickets, a gated one."""
    finished = time.time() - days_ago * 86400
    results = []
    for n in range(8):
        status = "failed" if n == 7 else "fallback" if n >= 5 else "success"
        written = status != "failed"
        analysis = {"provider": "llm", **({"gate": "skipped_llm"} if n == 0 else {})} if written else None
        results.append(
            TicketResult(
                ticket_id=1000 * days_ago + n,
                status=status,
                processing_time=2.0,
                claimed_at=finished - 30,
                created_at=finished - 60 * (n + 1) * days_ago if written else None,
                written_at=finished - 1 if written else None,
                analysis=analysis,
                cost_usd=0.0004 if status == "success" and n else 0.0,
                stage=None if written else "update",
                error=None if written else "ticket is closed",
            )
        )
    summary = build_summary(f"day{days_ago}", finished - 40, False, results, FIELDS, finished, source)
    summary.agent_override = OVERRIDE
    write_summary_file(log_dir, summary)


def test_the_report_since_7d_in_a_browser(tmp_path: Path, redis_url: str):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    prefix = f"days-{secrets.token_hex(4)}:"
    stack = LocalStack(
        workdir=tmp_path / "stack",
        tickets=10,
        redis_prefix=prefix,
        sim_options=["--rate-limit", "100000", "--update-rate-limit", "100000"],
    )
    with stack, sync_playwright() as playwright:
        stack.start_redis(redis_url)
        stack.start_simulator()
        stack.start_llm_simulator(["--latency-mean", "0.1"])
        stack.start_worker("worker", autoscale="2,1")
        stack.wait_for_workers(1)
        client = stack.redis()
        RunStore(client, prefix).save_agent_override(OVERRIDE)  # today's run carries it
        run = stack.run_app("run", "--wait", "--timeout", "120", timeout=180)
        assert run.returncode == 0, run.stdout + run.stderr
        log_dir = stack.workdir / "results"
        for days_ago, source in ((1, "webhook"), (3, "backfill"), (5, "sweep")):
            earlier_day(log_dir, days_ago, source)
        DeadLetters(Claims(client, 60, 60, prefix)).add(424242, "update", "ticket is closed", "day1")

        made = stack.run_app("report", "--since", "7d", "--json", timeout=60)
        assert made.returncode == 0, made.stderr
        report = json.loads(made.stdout)
        assert report["runs"] == 4 and report["totals"]["tickets"] == 10 + 3 * 8
        today = datetime.now(UTC).date().isoformat()
        assert {d["day"]: d["tickets"] for d in report["days"]}[today] == 10
        assert report["totals"]["sources"] == {"sweep": 10 + 8, "webhook": 8, "backfill": 8}

        page_file = ARTIFACTS / "report-since-7d.html"
        made = stack.run_app("report", "--since", "7d", "--output", str(page_file), timeout=60)
        assert made.returncode == 0, made.stderr
        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            requests_made: list[str] = []
            page.on("request", lambda request: requests_made.append(request.url))
            page.goto(page_file.as_uri())
            assert "the last 7d" in page.locator("h1").inner_text()
            charts = page.locator(".chart")
            assert charts.count() == len(CHARTS)
            assert [charts.nth(i).get_attribute("data-chart") for i in range(len(CHARTS))] == CHARTS
            for index, name in enumerate(CHARTS):
                svg = charts.nth(index).locator("svg")
                box = svg.bounding_box()
                assert box and box["width"] > 300 and box["height"] > 120, name  # laid out at its size
                bars = svg.locator(".plot .series rect")
                assert bars.count() >= 1, name
                assert max(bars.nth(i).bounding_box()["height"] for i in range(bars.count())) > 5, name
            week = [(datetime.now(UTC) - timedelta(days=n)).date().isoformat() for n in range(7, -1, -1)]
            rows = page.locator("#days tbody tr")
            assert [re.sub(r"\s.*", "", rows.nth(i).inner_text()) for i in range(rows.count())] == week
            assert [url for url in requests_made if not url.startswith("file:")] == []
            page.screenshot(path=str(ARTIFACTS / "report-since-7d.png"), full_page=True)
        finally:
            browser.close()
