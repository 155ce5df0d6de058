"""Circuit breakers shared by every process through Redis, and the log line of each state change."""

from __future__ import annotations

import logging
from typing import Any

import pybreaker

log = logging.getLogger(__name__)


class BreakerLog(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: Any, new_state: Any) -> None:
        log.warning("breaker %s: %s -> %s", cb.name, getattr(old_state, "name", old_state),
                    getattr(new_state, "name", new_state))


def shared_breaker(name: str, redis_client: Any, namespace: str, fail_max: int, reset_timeout: float,
                   exclude: list[Any]) -> pybreaker.CircuitBreaker:
    """A breaker whose state lives in Redis (one namespace per breaker), so every process on every
    host opens and closes it together; state changes are logged."""
    storage = pybreaker.CircuitRedisStorage(pybreaker.STATE_CLOSED, redis_client, namespace=namespace)
    return pybreaker.CircuitBreaker(fail_max=fail_max, reset_timeout=reset_timeout, state_storage=storage,
                                    exclude=exclude, listeners=[BreakerLog()], name=name)
