"""What the I/O pool's threads share in one process: a breaker that does not serialise calls, one
build of each per-process object, and longer quota waits in place."""

from __future__ import annotations

import threading
import time

import pybreaker
import pytest

from app import services
from app.clients.breakers import SharedCircuitBreaker
from tests.conftest import run_side_by_side


def test_calls_through_the_breaker_run_side_by_side_and_failures_still_open_it():
    breaker = SharedCircuitBreaker(fail_max=3, reset_timeout=60)
    together = threading.Barrier(8, timeout=5)  # pybreaker's own call would hold its lock: broken barrier
    results = []

    def call() -> None:
        results.append(breaker.call(together.wait))

    run_side_by_side([call] * 8, timeout=10)
    assert len(results) == 8

    def fail() -> None:
        raise ConnectionError("down")

    for _ in range(2):
        with pytest.raises(ConnectionError):
            breaker.call(fail)
    with pytest.raises(pybreaker.CircuitBreakerError):
        breaker.call(fail)
    assert breaker.current_state == pybreaker.STATE_OPEN


def test_a_per_process_object_is_built_once_when_threads_ask_together():
    builds = []

    def build() -> object:
        builds.append(1)
        time.sleep(0.2)
        return object()

    services._per_process.pop("test-object", None)
    got = []
    run_side_by_side([lambda: got.append(services._for_this_process("test-object", build))] * 20, timeout=10)
    services._per_process.pop("test-object", None)
    assert len(builds) == 1 and len({id(obj) for obj in got}) == 1


def test_quota_waits_in_place_are_longer_on_a_pool_thread():
    base = services.get_settings(need_zendesk=False)
    workers = base.workers.model_copy(update={"rate_limit_max_sleep": 2.0, "rate_limit_max_sleep_threads": 45.0})
    settings = base.model_copy(update={"workers": workers})
    seen = []
    thread = threading.Thread(target=lambda: seen.append(services.max_sleep(settings)))
    thread.start()
    thread.join()
    assert services.max_sleep(settings) == 2.0 and seen == [45.0]


def test_an_open_breaker_answers_with_the_fallback_without_waiting_for_a_quota_token():
    """Found by the two-worker test: tickets waited their turn for LLM quota only to be refused by
    the open breaker, so an outage's fallbacks came at the plan's pace instead of at once."""
    import openai

    from app.clients.breakers import refusing
    from app.clients.llm import LLMClassifier
    from app.domain.rules import RulesClassifier
    from app.domain.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    breaker = SharedCircuitBreaker(fail_max=1, reset_timeout=60)
    throttled = []
    classifier = LLMClassifier(
        openai.OpenAI(api_key="k", base_url="http://127.0.0.1:9/v1", max_retries=0),
        "gpt-4o-mini",
        taxonomy,
        RulesClassifier(taxonomy),
        breaker,
        throttle=lambda tokens: throttled.append(tokens) or 0.0,
    )
    assert not refusing(breaker)
    breaker.open()
    assert refusing(breaker)
    analysis = classifier.classify("Refund please", "I was charged twice", may_wait=True)
    assert analysis.fallback_reason == "LLM circuit breaker open" and throttled == []
    closed = SharedCircuitBreaker(fail_max=1, reset_timeout=0)
    closed.open()
    assert not refusing(closed)  # past its reset timeout the next call is a trial: it takes its token
