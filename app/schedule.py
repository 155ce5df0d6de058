"""The whole beat schedule."""

from __future__ import annotations

from typing import Any

from app.names import Task
from app.settings import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "sweep-zendesk": {"task": str(Task.SWEEP), "schedule": settings.intake.sweep_interval},
        # Webhook tickets whose triage.intake was lost (its publish failed after they were recorded)
        # are taken within a minute; each delivery sends its own, so this is only the backstop.
        "intake-backstop": {"task": str(Task.INTAKE), "schedule": 60.0},
        # Alerts when no run completed for three sweep intervals (app.ops.alerts).
        "watchdog": {"task": str(Task.WATCHDOG), "schedule": settings.intake.sweep_interval},
    }
