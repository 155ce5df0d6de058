"""`python -m app health`: is the fleet healthy, degraded or unhealthy, and why.

Checks Redis, the shared Zendesk and LLM breakers, the daily LLM budget, workers online, queue
depths and how long ago beat last swept and a run last finished. Unhealthy means tickets are not being triaged
(no Redis, no worker); degraded means they are, but slower or worse (a breaker open, no recent
sweep, a deep queue).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from app.fleet.budget import BudgetDay, describe, until_text
from app.fleet.intake import IntakeQueue
from app.names import Queue
from app.settings import ConfigError
from app.settings_redis import missing_database

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
EXIT_CODES = {HEALTHY: 0, DEGRADED: 1, UNHEALTHY: 2}
DEEP_QUEUE = 10_000
STALE_INTAKE = 120  # seconds a webhook ticket may wait for a worker before health says so


@dataclass
class Check:
    name: str
    status: str
    detail: str


def overall(checks: list[Check]) -> str:
    statuses = {check.status for check in checks}
    return UNHEALTHY if UNHEALTHY in statuses else DEGRADED if DEGRADED in statuses else HEALTHY


def breaker_check(name: str, state: str, consequence: str, fault: str | None = None) -> Check:
    """A breaker held open by a configuration fault is unhealthy: nothing passes until someone fixes it."""
    if fault:
        return Check(
            f"{name} breaker",
            UNHEALTHY,
            f"{state}: configuration fault: {fault}; tickets wait until it is fixed (then restart the workers)",
        )
    if state == "closed":
        return Check(f"{name} breaker", HEALTHY, "closed")
    return Check(f"{name} breaker", DEGRADED, f"{state}: {consequence}")


def age(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.0f}s ago"


def run_checks(
    settings: Any,
    redis_client: Any,
    ping_workers: Any,
    breakers: dict[str, Any],
    last_sweep: float | None,
    last_run: float | None,
    worker_queues: Any = None,
    zendesk: Any = None,
    budget: Any = None,
) -> list[Check]:
    """All checks. `breakers` maps a name to (factory, what an open breaker means[, the recorded
    configuration fault]): pybreaker's Redis storage talks to Redis when built, so breakers are
    built only once Redis answered. `worker_queues()`, when given, names the queues each worker
    takes: a host that runs only one of the two workers leaves a queue nobody serves. `zendesk()`,
    when given, checks the account (credentials, the objects setup makes, the priority mode): it
    runs before the breakers, so a fault it meets shows in the breaker's line. `budget()`, when
    given, is the daily LLM budget's check (budget_check)."""
    checks: list[Check] = []
    try:
        redis_client.ping()
    except Exception as e:
        missing = missing_database(e, settings.redis.db)
        if missing:  # Redis answers, REDIS_URL is wrong: a configuration error, as for every command
            raise ConfigError(missing) from None
        return [Check("redis", UNHEALTHY, f"unreachable ({type(e).__name__}); no claims, queues or results")]
    checks.append(Check("redis", HEALTHY, "reachable"))
    if zendesk is not None:
        checks += zendesk()

    for name, (make_breaker, consequence, *fault) in breakers.items():
        checks.append(breaker_check(name, make_breaker().current_state, consequence, fault[0]() if fault else None))
    if budget is not None:
        checks.append(budget())

    workers = ping_workers()
    checks.append(
        Check(
            "workers",
            HEALTHY if workers else UNHEALTHY,
            f"{len(workers)} online" if workers else "none answered a ping",
        )
    )
    if workers and worker_queues is not None:
        served = {queue for queues in (worker_queues() or {}).values() for queue in queues}
        unserved = [str(queue) for queue in Queue if str(queue) not in served]
        checks.append(
            Check(
                "queue consumers",
                DEGRADED if unserved else HEALTHY,
                f"no worker takes {', '.join(unserved)}: its tasks wait (start the missing worker)"
                if unserved
                else "every queue has a worker",
            )
        )

    depths = {str(queue): redis_client.llen(f"{settings.redis.prefix}{queue}") for queue in Queue}
    deepest = max(depths.values())
    checks.append(
        Check("queues", DEGRADED if deepest > DEEP_QUEUE else HEALTHY, ", ".join(f"{q} {n}" for q, n in depths.items()))
    )

    now = time.time()
    if settings.intake.zendesk_webhook_secret is not None:
        checks.append(intake_check(IntakeQueue(redis_client, settings.redis.prefix), now))
    since_sweep = None if last_sweep is None else now - last_sweep
    stale = since_sweep is None or since_sweep > 3 * settings.intake.sweep_interval
    checks.append(
        Check(
            "last sweep",
            DEGRADED if stale else HEALTHY,
            f"{age(since_sweep)} (beat sweeps every {settings.intake.sweep_interval:.0f}s)",
        )
    )
    checks.append(Check("last run", HEALTHY, age(None if last_run is None else now - last_run)))
    checks.append(mode_check(settings.workers.triage_mode))
    return checks


MODE_DETAILS = {
    "shadow": "nothing is written to Zendesk, not even the processed tag; predictions are recorded for "
    "`python -m app accuracy`",
    "suggest": "a private note names the suggestions; no tag, priority or field is changed",
    "live": "tags, priority and note are written",
}


def mode_check(triage_mode: str | None) -> Check:
    """What the fleet writes (TRIAGE_MODE): information, never a fault."""
    if triage_mode is None:
        return Check("mode", HEALTHY, "TRIAGE_MODE unset: each taxonomy field's own mode (default: tags and note)")
    return Check("mode", HEALTHY, f"TRIAGE_MODE={triage_mode}: {MODE_DETAILS[triage_mode]}")


def credentials_check(kind: str | None, described: str) -> Check:
    """OAuth is what Zendesk supports from 2027-04-30 on; an API token still works until then."""
    if kind == "api_token":
        return Check(
            "zendesk auth",
            DEGRADED,
            f"{described}: Zendesk turns API tokens off on 2027-04-30; create an "
            "OAuth client (README: Connect to Zendesk)",
        )
    return Check("zendesk auth", HEALTHY, described)


def setup_check(findings: list[Any]) -> Check:
    """What `python -m app zendesk check` finds: each object missing, inactive, changed or out of order."""
    if not findings:
        return Check(
            "zendesk setup", HEALTHY, "the webhook, its signing secret and the fleet's triggers are as setup makes them"
        )
    return Check(
        "zendesk setup",
        DEGRADED,
        "; ".join(str(f) for f in findings) + " (`python -m app zendesk setup --webhook-url URL` repairs them)",
    )


def intake_check(intake: IntakeQueue, now: float) -> Check:
    """Webhook intake: tickets announced but not yet claimed, and the deliveries by outcome. A ticket
    waiting over STALE_INTAKE seconds means no worker takes the intake queue."""
    since = intake.oldest_since()
    outcomes = ", ".join(f"{key} {value}" for key, value in sorted(intake.stats().items())) or "no deliveries yet"
    detail = f"{intake.waiting()} waiting" + (f" (oldest {now - since:.0f}s)" if since else "") + f"; {outcomes}"
    stale = since is not None and now - since > STALE_INTAKE
    return Check("webhook intake", DEGRADED if stale else HEALTHY, detail)


def budget_check(day: BudgetDay, answered_by: str) -> Check:
    """The daily LLM budget today: degraded once reached (a reservation refused), until 00:00 UTC,
    while the tickets are classified by the fallback."""
    if day.reached_at is not None:
        at = time.strftime("%H:%M", time.gmtime(day.reached_at))
        return Check(
            "llm budget",
            DEGRADED,
            f"reached at {at} UTC ({describe(day)}; {day.refused} requests refused): tickets are classified "
            f"with the {answered_by} until {until_text(day)}",
        )
    return Check("llm budget", HEALTHY, describe(day))


def as_json(checks: list[Check], **extra: Any) -> dict[str, Any]:
    """The checks as `health --json` prints them; `extra` adds top-level objects (llm_budget)."""
    return {"status": overall(checks), "checks": [asdict(check) for check in checks], **extra}
