"""Which conditions alert: thresholds are exceeded, not met."""

from __future__ import annotations

from app.domain.summary import RunSummary
from app.ops.alerts import run_alerts, stalled_alert


def summary(total: int, failed: int, average: float) -> RunSummary:
    return RunSummary(
        id="r1",
        timestamp="2026-12-01T00:00:00+00:00",
        started_at="2026-12-01T00:00:00+00:00",
        total=total,
        processed=total - failed,
        failed=failed,
        total_time=1.0,
        avg_time_per_ticket=average,
        failures_by_reason={"ticket is closed": failed} if failed else {},
    )


def test_failure_rate_above_the_threshold_alerts():
    assert run_alerts(summary(100, 5, 1.0), 0.05, 10) == []  # exactly 5% is not above 5%
    [alert] = run_alerts(summary(100, 6, 1.0), 0.05, 10)
    assert alert.condition == "run_failure_rate" and "6 of 100 tickets failed (6%" in alert.text


def test_slow_runs_alert():
    assert run_alerts(summary(10, 0, 10.0), 0.05, 10) == []
    [alert] = run_alerts(summary(10, 0, 10.5), 0.05, 10)
    assert alert.condition == "run_slow" and "10.5s per ticket" in alert.text


def test_an_empty_run_never_alerts():
    assert run_alerts(summary(0, 0, 0.0), 0.0, 0.1) == []


def test_stalled_after_three_sweep_intervals():
    assert stalled_alert(None, 1000.0, 60) is None
    assert stalled_alert(1000.0 - 180, 1000.0, 60) is None
    alert = stalled_alert(1000.0 - 181, 1000.0, 60)
    assert alert is not None and alert.condition == "no_run" and "181s" in alert.text
