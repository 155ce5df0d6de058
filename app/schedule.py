"""The whole beat schedule."""

from __future__ import annotations

from typing import Any

from app.names import Task
from app.settings import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "sweep-zendesk": {"task": str(Task.SWEEP), "schedule": settings.sweep_interval},
        # Alerts when no run completed for three sweep intervals (app.ops.alerts).
        "watchdog": {"task": str(Task.WATCHDOG), "schedule": settings.sweep_interval},
    }
