"""Circuit breakers shared by every process through Redis, and the log line of each state change;
and the private breaker and fault log of a command a person runs."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import pybreaker

log = logging.getLogger(__name__)


class BreakerLog(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        if getattr(old_state, "name", old_state) == getattr(new_state, "name", new_state):
            return  # a call that was in flight when the breaker opened, failing after: no change
        log.warning(
            "breaker %s: %s -> %s",
            cb.name,
            getattr(old_state, "name", old_state),
            getattr(new_state, "name", new_state),
        )


class FaultLog(Protocol):
    """The configuration fault every process sees while it holds a breaker open (see
    app.fleet.store.FaultRecord)."""

    def get(self) -> str | None: ...

    def record(self, reason: str) -> None: ...

    def clear(self) -> None: ...


class ClearFaultOnClose(pybreaker.CircuitBreakerListener):
    """A breaker that closes again got a call through (a half-open trial passed): whatever fault
    held it open is fixed."""

    def __init__(self, faults: FaultLog) -> None:
        self.faults = faults

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        if (
            getattr(new_state, "name", new_state) == pybreaker.STATE_CLOSED
            and getattr(old_state, "name", old_state) != pybreaker.STATE_CLOSED
        ):
            self.faults.clear()


class SharedCircuitBreaker(pybreaker.CircuitBreaker):
    """pybreaker's breaker without its lock around the guarded call.

    pybreaker holds the breaker's lock for the whole call, so on a thread pool every thread of a
    process would wait for one LLM request at a time. The lock cannot protect a state that lives
    in Redis and is changed by every other process anyway (their trial calls in half-open already
    run side by side), so the call runs unlocked, as it does across processes; state changes
    still take pybreaker's lock for their moment."""

    def call(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        return self.state.call(func, *args, **kwargs)


def refusing(breaker: pybreaker.CircuitBreaker) -> bool:
    """Open and within its reset timeout: a call now would be refused without being made (so it
    need not wait for a quota token first). pybreaker's own test, read without calling."""
    if breaker.current_state != pybreaker.STATE_OPEN:
        return False
    opened_at = breaker._state_storage.opened_at
    return opened_at is not None and datetime.now(UTC) < opened_at + timedelta(seconds=breaker.reset_timeout)


def shared_breaker(
    name: str, redis_client: Any, namespace: str, fail_max: int, reset_timeout: float, exclude: list[Any]
) -> pybreaker.CircuitBreaker:
    """A breaker whose state lives in Redis (one namespace per breaker), so every process on every
    host opens and closes it together; state changes are logged."""
    storage = pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, redis_client, namespace=namespace)
    return SharedCircuitBreaker(
        fail_max=fail_max,
        reset_timeout=reset_timeout,
        state_storage=storage,
        exclude=exclude,
        listeners=[BreakerLog()],
        name=name,
    )


def private_breaker(name: str, fail_max: int, reset_timeout: float, exclude: list[Any]) -> pybreaker.CircuitBreaker:
    """A breaker of this process alone (its state in memory), for a command a person runs: what
    that person tries out never opens the fleet's breaker. The error that trips it is raised as
    itself, so the caller can tell a configuration fault from an outage."""
    return pybreaker.CircuitBreaker(
        fail_max=fail_max, reset_timeout=reset_timeout, exclude=exclude, name=name, throw_new_error_on_trip=False
    )


class ProcessFaultLog:
    """The configuration fault of this process alone (a FaultLog kept in memory), beside its
    private breaker: no other process sees it, and `health` does not report it."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def get(self) -> str | None:
        return self.reason

    def record(self, reason: str) -> None:
        self.reason = reason

    def clear(self) -> None:
        self.reason = None
