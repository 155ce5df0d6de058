"""Shared fixtures: a real Redis (REDIS_URL when reachable, else an embedded redis-server),
per-test key prefixes so tests never see each other's keys, and fleet settings pointed at an
in-process Zendesk simulator."""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

# Settings are read when app.celery is imported; give every test process valid defaults first.
os.environ.setdefault("ZENDESK_URL", "http://127.0.0.1:9")
os.environ.setdefault("ZENDESK_EMAIL", "triage-bot@example.com")
os.environ.setdefault("ZENDESK_API_TOKEN", "sim-api-token")
os.environ.setdefault("LOG_DIR", tempfile.mkdtemp(prefix="triage-test-logs-"))

from app import services  # noqa: E402
from app.devstack import LocalStack  # noqa: E402
from app.settings import get_settings  # noqa: E402


@pytest.fixture(scope="session")
def redis_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A Redis server for the whole session: REDIS_URL if reachable, else embedded."""
    stack = LocalStack(workdir=tmp_path_factory.mktemp("redis"))
    stack.start_redis()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def redis_url(redis_stack: LocalStack) -> str:
    return redis_stack.redis_url


@pytest.fixture
def redis_prefix() -> str:
    return f"test-{secrets.token_hex(4)}:"


@pytest.fixture
def zendesk_sim() -> Iterator[object]:
    """An in-process simulator with generous limits, 30 generated tickets."""
    from sim.zendesk import running_simulator

    with running_simulator(tickets=30, seed=7, rate_limit=100_000, update_rate_limit=100_000) as sim:
        yield sim


@pytest.fixture
def fleet_env(monkeypatch: pytest.MonkeyPatch, redis_url: str, redis_prefix: str, zendesk_sim: object,
              tmp_path: Path) -> Iterator[object]:
    """Settings and per-process clients pointed at this test's Redis prefix and simulator."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("REDIS_PREFIX", redis_prefix)
    monkeypatch.setenv("ZENDESK_URL", zendesk_sim.base_url)
    monkeypatch.setenv("ZENDESK_RATE_LIMIT", "100000")
    monkeypatch.setenv("ZENDESK_UPDATE_RATE_LIMIT", "100000")
    monkeypatch.setenv("LOG_DIR", str(tmp_path / "results"))
    get_settings.cache_clear()
    services._per_process.clear()
    yield zendesk_sim
    get_settings.cache_clear()
    services._per_process.clear()
    try:
        client = services.redis_client()
        keys = list(client.scan_iter(match=f"{redis_prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        services._per_process.clear()
