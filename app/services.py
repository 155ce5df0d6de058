"""Long-lived per-process objects: Redis, the Zendesk client, the redactor and the classifier.

Each is built on first use in the process that uses it. Sockets must not cross a fork, so the
network clients are rebuilt when the pid changes; the redactor (a read-only spaCy model) is
meant to be loaded in the worker's parent before it forks, so the children share its memory.
"""

from __future__ import annotations

import os
from typing import Any, Callable, TypeVar

import redis

from app.classify import Classifier, build_classifier
from app.redaction import Redactor
from app.settings import get_settings
from app.store import RedisPauseGate, RunStore, TicketLedger
from app.zendesk import ZendeskClient

T = TypeVar("T")
_per_process: dict[str, tuple[int, Any]] = {}
_shared: dict[str, Any] = {}


def _for_this_process(name: str, build: Callable[[], T]) -> T:
    pid = os.getpid()
    entry = _per_process.get(name)
    if entry is None or entry[0] != pid:
        entry = (pid, build())
        _per_process[name] = entry
    return entry[1]


def redis_client() -> redis.Redis:
    """Bytes-mode client (pybreaker's Redis storage needs it); short timeouts, reconnects itself."""
    return _for_this_process(
        "redis",
        lambda: redis.Redis.from_url(
            get_settings().redis_url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
        ),
    )


def ledger() -> TicketLedger:
    settings = get_settings()
    return _for_this_process(
        "ledger",
        lambda: TicketLedger(redis_client(), settings.claim_ttl, settings.done_ttl, settings.redis_prefix),
    )


def run_store() -> RunStore:
    return _for_this_process("runs", lambda: RunStore(redis_client(), get_settings().redis_prefix))


def zendesk() -> ZendeskClient:
    settings = get_settings()
    return _for_this_process(
        "zendesk",
        lambda: ZendeskClient(
            settings.zendesk_base_url,
            settings.zendesk_email,
            settings.zendesk_api_token,
            timeout=settings.zendesk_timeout,
            pause_gate=RedisPauseGate(redis_client(), f"{settings.redis_prefix}zendesk:paused"),
        ),
    )


def redactor() -> Redactor:
    """Shared across forks on purpose: loaded once, read only."""
    if "redactor" not in _shared:
        _shared["redactor"] = Redactor()
    return _shared["redactor"]


def classifier() -> Classifier:
    return _for_this_process("classifier", lambda: build_classifier(get_settings().llm_provider))
