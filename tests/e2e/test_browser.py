"""An operator's view in a real browser (headless Debian Chromium driven by Playwright): log into
Flower during a demo run, see the worker online and triage.* tasks succeeded, then open the run's
HTML report and check its charts rendered. Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path

import pytest
import requests

from sim.launcher.stack import ROOT, LocalStack, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

ARTIFACTS = ROOT / "test-artifacts"
LOGIN = ("ops", f"pw-{secrets.token_hex(6)}")
# Headless on a machine without outside network: no background connections, no sandbox as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
    "--disable-background-networking",
    "--disable-component-update",
]


def chromium_path() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("headless Chromium is needed: `apt-get install chromium` (make test installs it)")


def test_flower_and_the_run_report_in_a_browser(tmp_path: Path, redis_url: str):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    stack = LocalStack(
        workdir=tmp_path / "stack",
        tickets=12,
        redis_prefix=f"browser-{secrets.token_hex(4)}:",
        sim_options=["--rate-limit", "100000", "--update-rate-limit", "100000"],
        extra_env={"FLOWER_BASIC_AUTH": ":".join(LOGIN)},
    )
    with stack, sync_playwright() as playwright:
        stack.start_redis(redis_url)
        stack.start_simulator()
        stack.start_llm_simulator(["--latency-mean", "0.2"])
        stack.start_worker("worker", autoscale="3,2")
        stack.start_flower()
        stack.wait_for_workers(1)
        flower = f"http://127.0.0.1:{stack.flower_port}"
        wait_until(lambda: _answers(f"{flower}/healthcheck"), 60, "Flower")
        run = stack.run_app("run", "--wait", "--timeout", "120", timeout=180)
        assert run.returncode == 0, run.stdout + run.stderr
        run_id = re.search(r"\b(\d{8}_\d{6}_[0-9a-f]+)\b", run.stdout + run.stderr).group(1)

        browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_ARGS)
        try:
            assert requests.get(f"{flower}/workers", timeout=10).status_code == 401  # no login, no dashboard

            context = browser.new_context(
                http_credentials={"username": LOGIN[0], "password": LOGIN[1]}, viewport={"width": 1400, "height": 900}
            )
            page = context.new_page()
            assert page.goto(f"{flower}/workers").status == 200
            row = page.locator("#workers-table tbody tr", has_text="worker@")
            expect(row).to_have_count(1, timeout=30_000)
            expect(row).to_contain_text(re.compile("online|true", re.I), timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "flower-workers.png"), full_page=True)

            page.goto(f"{flower}/tasks")
            table = page.locator("#tasks-table tbody")
            for name in ("triage.redact", "triage.classify", "triage.update", "triage.summarize"):
                expect(table).to_contain_text(name, timeout=30_000)
            expect(table).to_contain_text("SUCCESS", timeout=30_000)
            assert "FAILURE" not in table.inner_text()
            page.screenshot(path=str(ARTIFACTS / "flower-tasks.png"), full_page=True)

            report_file = ARTIFACTS / "run-report.html"
            made = stack.run_app("report", run_id, "--output", str(report_file), timeout=60)
            assert made.returncode == 0, made.stderr
            report = context.new_page()
            requests_made: list[str] = []
            report.on("request", lambda request: requests_made.append(request.url))
            report.goto(report_file.as_uri())
            expect(report.locator("h1")).to_contain_text(run_id)
            charts = report.locator(".chart")
            expect(charts).to_have_count(6)
            names = [charts.nth(i).get_attribute("data-chart") for i in range(6)]
            assert names == ["root_cause", "urgency", "sentiment", "latency", "failures", "tokens"]
            for index, name in enumerate(names):
                svg = charts.nth(index).locator("svg")
                box = svg.bounding_box()
                assert box and box["width"] > 300 and box["height"] > 120, name  # laid out at its size
                if name != "failures":  # a run without failures has nothing to draw there
                    bars = svg.locator(".plot .series rect")
                    assert bars.count() >= 1, name
                    assert max(bars.nth(i).bounding_box()["height"] for i in range(bars.count())) > 5, name
            expect(report.locator("#tickets tbody tr")).to_have_count(12)
            assert [url for url in requests_made if not url.startswith("file:")] == []
            report.screenshot(path=str(ARTIFACTS / "run-report.png"), full_page=True)
        finally:
            browser.close()


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False
