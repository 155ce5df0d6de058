"""Alerts against a local webhook receiver and real Redis: each condition fires, and repeats are
held back within the cool-down, across processes sharing one Redis."""

from __future__ import annotations

import time

import pybreaker
import pytest

from app import services
from app.ops.alerts import Alert, Alerts, WebhookSender
from app.settings import get_settings


@pytest.fixture
def alerting(fleet_env, receiver, monkeypatch):
    monkeypatch.setenv("ALERT_WEBHOOK_URL", receiver.url)
    monkeypatch.setenv("ALERT_COOLDOWN", "600")
    services.reset()
    return receiver


def test_a_condition_alerts_once_per_cool_down(fleet_env, receiver, redis_prefix):
    alerts = Alerts(services.redis_client(), redis_prefix, WebhookSender(receiver.url), cooldown=0.5)
    other_process = Alerts(services.redis_client(), redis_prefix, WebhookSender(receiver.url), cooldown=0.5)
    assert alerts.fire(Alert("run_slow", "slow"))
    assert not other_process.fire(Alert("run_slow", "slow again"))  # the cool-down is shared
    assert alerts.fire(Alert("breaker_llm", "another condition"))
    time.sleep(0.6)
    assert other_process.fire(Alert("run_slow", "slow after the cool-down"))
    assert receiver.texts() == ["slow", "another condition", "slow after the cool-down"]


def test_an_undelivered_alert_is_tried_again_next_time(fleet_env, receiver, redis_prefix):
    alerts = Alerts(services.redis_client(), redis_prefix, WebhookSender(receiver.url), cooldown=600)
    receiver.status = 500
    assert not alerts.fire(Alert("no_run", "stalled"))
    receiver.status = 200
    assert alerts.fire(Alert("no_run", "stalled"))
    assert len(receiver.messages) == 2


def test_no_webhook_means_no_alerts(fleet_env):
    assert services.alerts().sender is None and not services.alerts().fire(Alert("run_slow", "x"))


def test_a_breaker_opening_alerts_once(alerting):
    breaker = services.llm_circuit()
    same_breaker_elsewhere = services.llm_circuit()

    def outage() -> None:
        raise ConnectionError("LLM down")

    for _ in range(get_settings().llm.breaker_fail_max):
        with pytest.raises((ConnectionError, pybreaker.CircuitBreakerError)):
            breaker.call(outage)
    assert breaker.current_state == "open"
    same_breaker_elsewhere.open()  # another process sees it open too: no second alert
    assert len(alerting.messages) == 1
    assert "llm circuit breaker opened" in alerting.texts()[0] and "ai_fallback" in alerting.texts()[0]


def test_a_failing_slow_run_alerts_when_its_summary_is_written(alerting):
    from workers.sweep import summarize_task

    def record(ticket_id: int, status: str, seconds: float) -> dict:
        failed = status == "failed"
        return {
            "ticket_id": ticket_id,
            "status": status,
            "processing_time": seconds,
            "stage": "update" if failed else None,
            "error": "ticket is closed" if failed else None,
        }

    results = [record(1, "success", 12.0), record(2, "failed", 14.0), record(3, "success", 11.0)]
    summarize_task.apply(args=(results,), kwargs={"run_id": "run-alert", "started_at": time.time() - 20}).get()
    texts = alerting.texts()
    assert len(texts) == 2
    assert "run-alert: 1 of 3 tickets failed (33%, threshold 5%)" in texts[0] and "ticket is closed" in texts[0]
    assert "run-alert: 12.3s per ticket on average (threshold 10s)" in texts[1]
    assert services.run_store().last_completed() is not None

    fine = [record(4, "success", 1.0)]
    summarize_task.apply(args=(fine,), kwargs={"run_id": "run-fine", "started_at": time.time() - 2}).get()
    assert len(alerting.messages) == 2


def test_the_watchdog_alerts_when_no_run_completed_for_three_intervals(alerting, monkeypatch):
    from workers.sweep import watchdog_task

    store = services.run_store()
    watchdog_task.apply().get()  # a new fleet starts counting now
    assert alerting.messages == []
    interval = get_settings().intake.sweep_interval
    store.redis.set(store._key("run", "completed", "last"), str(time.time() - 3 * interval - 5))
    watchdog_task.apply().get()
    watchdog_task.apply().get()  # still stalled, within the cool-down: no repeat
    assert len(alerting.messages) == 1 and "No triage run has completed for" in alerting.texts()[0]
