"""Alerts to a Slack-compatible webhook (ALERT_WEBHOOK_URL), each condition at most once per cool-down.

Conditions: a run's failure rate above ALERT_FAILURE_RATE, its average time per ticket above
ALERT_SLOW_SECONDS (both checked when the run summary is written), a breaker opening (from the
breaker's listener, in whichever process tripped it), no run completed for three sweep
intervals (checked by the `triage.watchdog` beat task), and the daily LLM budget at 80% and
reached (once a UTC day each, from the process whose settlement or reservation saw the mark
first). The cool-down is a Redis key per condition, so a fleet of processes sends one alert, not
one per process. Texts carry counts, run ids and reasons only, never ticket content.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import pybreaker
import redis
import requests

from app.domain.summary import RunSummary
from app.fleet.budget import WARN_SHARE, BudgetDay, describe, until_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Alert:
    condition: str  # the cool-down key: the same condition is not repeated within the cool-down
    text: str


class WebhookSender:
    """Posts `{"text": ...}` (Slack's incoming-webhook body, also taken by Mattermost, Rocket.Chat
    and Teams' Slack-compatible endpoints). One session; a failed post is logged, never raised."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url
        self.timeout = timeout
        self.session = requests.Session()

    def post(self, text: str) -> bool:
        try:
            response = self.session.post(self.url, json={"text": text}, timeout=self.timeout)
        except requests.RequestException as e:
            log.warning("alert webhook unreachable (%s)", type(e).__name__)
            return False
        if response.status_code >= 300:
            log.warning("alert webhook answered %s", response.status_code)
            return False
        return True


@dataclass(eq=False)  # compared and hashed by identity, as before
class Alerts:
    """Sends an alert unless its condition already alerted within the cool-down."""

    redis: redis.Redis
    prefix: str
    sender: WebhookSender | None
    cooldown: float

    def _key(self, condition: str) -> str:
        return f"{self.prefix}alert:{condition}"

    def fire(self, alert: Alert) -> bool:
        """True when the alert was sent now."""
        if self.sender is None:
            return False
        if not self.redis.set(self._key(alert.condition), str(time.time()), nx=True, px=int(self.cooldown * 1000)):
            log.info("alert %s held back: already sent within %.0fs", alert.condition, self.cooldown)
            return False
        if self.sender.post(alert.text):
            log.warning("alert sent: %s", alert.condition)
            return True
        self.redis.delete(self._key(alert.condition))  # not delivered: the next occurrence tries again
        return False

    def fire_all(self, alerts: list[Alert]) -> list[str]:
        return [alert.condition for alert in alerts if self.fire(alert)]


def run_alerts(summary: RunSummary, failure_rate: float, slow_seconds: float) -> list[Alert]:
    """The alerts a finished run's summary calls for (dry runs included: they measure the same work)."""
    alerts = []
    total, failed = summary.total, summary.failed
    if total and failed / total > failure_rate:
        reasons = ", ".join(f"{reason}: {count}" for reason, count in summary.failures_by_reason.items())
        alerts.append(
            Alert(
                "run_failure_rate",
                f":rotating_light: Triage run {summary.id}: {failed} of {total} tickets failed "
                f"({failed / total:.0%}, threshold {failure_rate:.0%}). {reasons}".strip(),
            )
        )
    average = summary.avg_time_per_ticket
    if total and average > slow_seconds:
        alerts.append(
            Alert(
                "run_slow",
                f":snail: Triage run {summary.id}: {average:.1f}s per ticket on average "
                f"(threshold {slow_seconds:.0f}s), {total} tickets.",
            )
        )
    return alerts


def stalled_alert(last_completed: float | None, now: float, sweep_interval: float) -> Alert | None:
    """No run completed (a sweep that found nothing counts) for three sweep intervals."""
    if last_completed is None or now - last_completed <= 3 * sweep_interval:
        return None
    return Alert(
        "no_run",
        f":hourglass: No triage run has completed for {now - last_completed:.0f}s "
        f"(beat sweeps every {sweep_interval:.0f}s): are beat and the workers running?",
    )


class BreakerAlert(pybreaker.CircuitBreakerListener):
    """Alerts when a shared breaker opens, naming the configuration fault that opened it if any."""

    CONSEQUENCES = {"zendesk": "updates wait until it closes", "llm": "the rules classify meanwhile (ai_fallback)"}

    def __init__(self, alerts: Alerts, fault: Any | None = None) -> None:
        self.alerts = alerts
        self.fault = fault  # () -> the recorded configuration fault, or None

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        if getattr(new_state, "name", new_state) != pybreaker.STATE_OPEN:
            return
        try:
            fault = self.fault() if self.fault is not None else None
            if fault:
                text = (
                    f":rotating_light: The {cb.name} circuit breaker opened on a configuration fault: {fault}. "
                    "Every request would be refused the same way; tickets wait until it is fixed "
                    "(then restart the workers)."
                )
            else:
                text = (
                    f":warning: The {cb.name} circuit breaker opened after {cb.fail_max} failures in a row; "
                    f"{self.CONSEQUENCES.get(cb.name or '', 'calls are refused')}."
                )
            self.alerts.fire(Alert(f"breaker_{cb.name}", text))
        except redis.RedisError as e:  # alerting must never turn a breaker change into a failure
            log.warning("breaker alert not sent (%s)", type(e).__name__)


# --- The daily LLM budget (app.fleet.budget) -----------------------------------------------------------
# The condition names the day: the cool-down is not what keeps these to once a day (the budget's own
# Lua does, in Redis), and tomorrow's must not be held back by today's.


def budget_warning_alert(day: BudgetDay, answered_by: str) -> Alert:
    """What the day spent (settled, not the requests in flight) reached 80% of its budget."""
    return Alert(
        f"llm_budget_warning:{day.day}",
        f":money_with_wings: LLM spend today is at {WARN_SHARE:.0%} of LLM_DAILY_BUDGET_USD: {describe(day)}. "
        f"At the budget, tickets are classified with the {answered_by} until 00:00 UTC.",
    )


def budget_reached_alert(day: BudgetDay, answered_by: str) -> Alert:
    """The day's first reservation refused as reached (what was spent leaves no room for it)."""
    return Alert(
        f"llm_budget_reached:{day.day}",
        f"daily LLM budget reached; classifying with {answered_by} until 00:00 UTC ({describe(day)}; "
        f"the LLM is used again at {until_text(day)}) :no_entry:",
    )


def announce(alerts: Alerts, alert: Alert) -> None:
    """One log warning and one alert (when ALERT_WEBHOOK_URL is set)."""
    log.warning("%s", alert.text)
    try:
        alerts.fire(alert)
    except redis.RedisError as e:  # alerting never fails a ticket
        log.warning("alert %s not sent (%s)", alert.condition, type(e).__name__)
