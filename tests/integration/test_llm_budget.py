"""The daily LLM budget through the real openai SDK (its own retries included) against the LLM
simulator, with the counter in the real Redis: each HTTP attempt reserves its worst case and
settles what it cost; a reached budget sends nothing and the fallback answers with the reason; a
cache hit reserves nothing; the fleet's classifier spends the budget, `classify` does not; the
80% and reached alerts come once; health and the metrics show the day."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pybreaker
import pytest
import requests

from app import services
from app.clients.llm import Gate, LLMClassifier, build_messages, private_llm_breaker
from app.clients.llm_budget import BUDGET_HELD, BUDGET_REACHED, attempt_hooks
from app.clients.llm_prices import cost_usd
from app.domain.rules import RulesClassifier
from app.domain.taxonomy import load_taxonomy
from app.domain.triage import format_note
from app.fleet.budget import DailyBudget, to_nanos, to_usd
from app.learn.classifier import LocalClassifier
from app.learn.model import load_model
from app.ops.health import DEGRADED, as_json, budget_check, run_checks
from app.ops.metrics import registry
from app.settings import ConfigError, get_settings
from sim.llm import running_simulator

TAXONOMY = load_taxonomy()
from tests.integration.test_llm_faults import KEY, TICKET  # noqa: E402  (the same key and ticket)


@pytest.fixture
def sim() -> Iterator[object]:
    with running_simulator(latency_mean=0, api_key=KEY) as server:
        yield server


@pytest.fixture
def client(prefixed_redis):
    return prefixed_redis


@pytest.fixture
def make(sim, client, redis_prefix):
    """`make(limit_usd, ...)`: an LLMClassifier on the simulator with a daily budget in Redis."""

    def build(
        limit: float,
        max_retries: int = 2,
        timeout: float = 5.0,
        fallback=None,
        gate: Gate | None = None,
        base_url: str | None = None,
    ) -> LLMClassifier:
        sdk = openai.OpenAI(
            base_url=base_url or f"{sim.base_url}/v1",
            api_key=KEY,
            max_retries=max_retries,
            timeout=timeout,
            http_client=openai.DefaultHttpxClient(event_hooks=attempt_hooks()),
        )
        return LLMClassifier(
            sdk,
            "gpt-4o-mini",
            TAXONOMY,
            fallback or RulesClassifier(TAXONOMY),
            private_llm_breaker(3, 60),
            gate=gate,
            budget=DailyBudget(client, limit, redis_prefix),
        )

    return build


def script(sim, *outcomes: str) -> None:
    requests.post(f"{sim.base_url}/_sim/script", json={"outcomes": list(outcomes)}, timeout=5).raise_for_status()


def stats(sim) -> dict:
    return requests.get(f"{sim.base_url}/_sim/stats", timeout=5).json()


def worst(classifier: LLMClassifier, ticket: tuple[str, str] = TICKET) -> float:
    return classifier.worst_case_usd(build_messages(TAXONOMY, *ticket))


def nanos(usd: float) -> float:
    """A cost as the budget counts it: whole nano-dollars, rounded up."""
    return to_usd(to_nanos(usd))


def test_an_answer_settles_at_its_usage_and_a_cache_hit_reserves_nothing(sim, make, client, redis_prefix):
    from app.clients.llm import RedisAnalysisCache

    classifier = make(1.0)
    classifier.cache = RedisAnalysisCache(client, 600, redis_prefix)
    analysis = classifier.classify(*TICKET)
    assert analysis.provider == "llm" and analysis.cost_usd > 0
    day = classifier.budget.status()
    billed = stats(sim)
    by_the_simulator = cost_usd("gpt-4o-mini", billed["prompt_tokens_total"], billed["completion_tokens_total"])
    assert day.settled_usd == pytest.approx(nanos(by_the_simulator), abs=1e-12)
    assert (day.reserved_usd, day.requests, day.refused) == (0, 1, 0)
    # The worst case held while in flight: the request's bytes and max tokens at the model's price.
    assert worst(classifier) > 3 * analysis.cost_usd
    again = classifier.classify(*TICKET)
    assert again.cached and classifier.budget.status().requests == 1  # nothing reserved for a cache hit


def test_the_sdks_own_retries_each_reserve_and_settle_by_what_they_answered(sim, make):
    classifier = make(1.0, max_retries=2)
    script(sim, "500", "429", "ok")  # the SDK retries both inside one call
    analysis = classifier.classify(*TICKET)
    assert analysis.provider == "llm" and stats(sim)["requests_total"] == 3
    day = classifier.budget.status()
    assert day.requests == 3 and day.reserved_usd == 0
    # The 500 may have run: its worst case stays. The 429 never ran: 0. The answer: its usage.
    assert day.settled_usd == pytest.approx(nanos(worst(classifier)) + nanos(analysis.cost_usd), abs=1e-12)


def test_a_retry_the_budget_cannot_take_is_never_sent(sim, make):
    probe = make(1.0)
    classifier = make(1.5 * worst(probe), max_retries=2)  # room for one attempt's worst case, not two
    script(sim, "500", "ok")
    analysis = classifier.classify(*TICKET, may_wait=True)  # an SDK retry does not wait for the budget
    assert analysis.fallback_reason == BUDGET_HELD and analysis.provider == "rules"
    assert stats(sim)["requests_total"] == 1  # the SDK's retry was refused before it went out
    day = classifier.budget.status()
    assert day.settled_usd == pytest.approx(nanos(worst(probe)), abs=1e-12) and day.reserved_usd == 0
    assert classifier.breaker.current_state == "closed" and classifier.breaker.fail_counter == 0


def test_a_reached_budget_sends_nothing_and_the_rules_answer_with_the_reason(sim, make):
    classifier = make(0.0001)  # less than one request's worst case
    analysis = classifier.classify(*TICKET, may_wait=True)
    assert analysis.is_fallback and analysis.provider == "rules"
    assert analysis.fallback_reason == "daily LLM budget reached"
    assert analysis.values["root_cause"] == "bug"  # the rules still classify
    assert stats(sim)["requests_total"] == 0
    assert classifier.breaker.current_state == "closed" and classifier.breaker.fail_counter == 0
    assert "Fallback: rules classifier (daily LLM budget reached)" in format_note(analysis, TAXONOMY, "r")


def test_the_local_model_answers_at_the_budget_and_the_gates_audit_is_refused_likewise(
    sim, make, local_model_file: Path
):
    local = LocalClassifier(load_model(local_model_file, TAXONOMY), TAXONOMY)
    analysis = make(0.0001, fallback=local).classify(*TICKET)
    assert analysis.provider == "local" and analysis.fallback_reason == BUDGET_REACHED
    assert f"Fallback: local model {local.name} (daily LLM budget reached)" in format_note(analysis, TAXONOMY, "r")
    # Every ticket sure and audited: the audit is an LLM request, and the budget refuses it.
    audited = make(0.0001, fallback=local, gate=Gate(local, threshold=0.0, audit_share=1.0)).classify(*TICKET)
    assert audited.provider == "local" and audited.fallback_reason == BUDGET_REACHED
    assert stats(sim)["requests_total"] == 0


def test_a_timeout_keeps_its_worst_case_and_a_connection_never_made_costs_nothing(sim, make):
    script(sim, "timeout")
    classifier = make(1.0, max_retries=0, timeout=0.5)
    assert "APITimeoutError" in classifier.classify(*TICKET).fallback_reason
    day = classifier.budget.status()
    assert day.settled_usd == pytest.approx(nanos(worst(classifier)), abs=1e-12) and day.reserved_usd == 0
    refused = make(1.0, max_retries=1, base_url="http://127.0.0.1:9/v1")  # nothing listens there
    assert "APIConnectionError" in refused.classify("another", "ticket").fallback_reason
    after = refused.budget.status()
    # The last attempt never connected: 0. The first, retried by the SDK, cannot be told apart from
    # a drop after sending (the SDK keeps its error): its worst case stays.
    assert after.requests == 3 and after.reserved_usd == 0
    assert after.settled_usd == pytest.approx(day.settled_usd + nanos(worst(refused, ("another", "ticket"))))


def test_a_budget_needs_counted_attempts_and_a_price(client, redis_prefix):
    budget = DailyBudget(client, 1.0, redis_prefix)
    plain = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key=KEY)
    with pytest.raises(ValueError, match="HTTP attempts counted"):
        LLMClassifier(
            plain, "gpt-4o-mini", TAXONOMY, RulesClassifier(TAXONOMY), pybreaker.CircuitBreaker(), budget=budget
        )
    counted = openai.OpenAI(
        base_url="http://127.0.0.1:9/v1",
        api_key=KEY,
        http_client=openai.DefaultHttpxClient(event_hooks=attempt_hooks()),
    )
    with pytest.raises(ValueError, match="needs a price for llama3"):
        LLMClassifier(counted, "llama3", TAXONOMY, RulesClassifier(TAXONOMY), pybreaker.CircuitBreaker(), budget=budget)
    priced = LLMClassifier(
        counted,
        "llama3",
        TAXONOMY,
        RulesClassifier(TAXONOMY),
        pybreaker.CircuitBreaker(),
        budget=budget,
        price_override=(0.2, 0.8),
    )
    assert priced.worst_case_usd(build_messages(TAXONOMY, *TICKET)) > 0


@pytest.fixture
def fleet_llm(fleet_env, sim, receiver, monkeypatch):
    """The fleet's own services on the simulator, alerts to `receiver`; `configure(**env)`."""

    def configure(**env: str) -> None:
        for name, value in {
            "LLM_BASE_URL": f"{sim.base_url}/v1",
            "OPENAI_API_KEY": KEY,
            "LLM_MODEL": "gpt-4o-mini",
            "ALERT_WEBHOOK_URL": receiver.url,
            "LLM_SDK_MAX_RETRIES": "0",
            **env,
        }.items():
            monkeypatch.setenv(name, value)
        services.reset()

    return configure


def test_the_fleets_classifier_spends_the_budget_and_classify_does_not(fleet_llm, sim):
    fleet_llm(LLM_DAILY_BUDGET_USD="5")
    assert isinstance(services.classifier().budget, DailyBudget)
    assert services.classifier().budget.limit_usd == 5.0
    private = services.build_classifier(private=True)
    assert private.budget is None  # `python -m app classify` neither spends nor heeds it
    private.classify(*TICKET)
    assert services.llm_budget().status().requests == 0

    # A model without a price would be free to the budget: the fleet does not start.
    fleet_llm(LLM_DAILY_BUDGET_USD="5", LLM_MODEL="llama3")
    with pytest.raises(ConfigError, match="LLM_DAILY_BUDGET_USD: no price is known for LLM_MODEL=llama3"):
        services.check_classifier()
    assert services.check_classifier(private=True) == "openai"  # classify does not spend it
    fleet_llm(LLM_DAILY_BUDGET_USD="5", LLM_MODEL="llama3", LLM_PRICE_INPUT_PER_MTOK="0", LLM_PRICE_OUTPUT_PER_MTOK="0")
    assert services.check_classifier() == "openai"


def test_80_percent_and_the_budget_reached_alert_once_and_health_and_metrics_show_the_day(fleet_llm, sim, receiver):
    fleet_llm()
    tickets = [
        (f"Checkout crash {n:03d}", "The app crashes with an error when I pay. Very frustrated.") for n in range(60)
    ]
    each = services.classifier().worst_case_usd(build_messages(TAXONOMY, *tickets[0]))
    # Eight requests at their worst: answers cost a fraction of that, so the spend passes 80% (6.4
    # worst cases) before less than one worst case is left (reached).
    fleet_llm(LLM_DAILY_BUDGET_USD=repr(8 * each))
    classifier = services.classifier()
    answers = [classifier.classify(*ticket) for ticket in tickets]
    by_llm = [a for a in answers if a.provider == "llm"]
    refused = [a for a in answers if a.fallback_reason == BUDGET_REACHED]
    assert len(by_llm) + len(refused) == 60 and len(refused) >= 1
    day = services.llm_budget().status()
    assert day.settled_usd <= day.limit_usd and day.reserved_usd == 0
    assert day.settled_usd == pytest.approx(sum(nanos(a.cost_usd) for a in by_llm), abs=1e-12)
    texts = receiver.texts()
    assert len(texts) == 2, texts  # once each, however many tickets the budget refused
    assert "LLM spend today is at 80% of LLM_DAILY_BUDGET_USD" in texts[0]
    assert texts[1].startswith("daily LLM budget reached; classifying with rules until 00:00 UTC")

    checks = run_checks(
        get_settings(),
        services.redis_client(),
        lambda: [{"w": "pong"}],
        {},
        time.time(),
        time.time(),
        budget=lambda: budget_check(services.llm_budget().status(), services.budget_fallback_name()),
    )
    (check,) = [c for c in checks if c.name == "llm budget"]
    assert check.status == DEGRADED and "reached at" in check.detail and "until 00:00 UTC (in " in check.detail
    assert as_json(checks, llm_budget=day.as_json())["llm_budget"]["reached"] is True

    settings = get_settings()
    exported = {
        sample.name: sample.value
        for family in registry(
            services.redis_client(), settings.redis.prefix, 60.0, settings.llm.daily_budget_usd
        ).collect()
        for sample in family.samples
        if sample.name.startswith("triage_llm_budget")
    }
    assert exported == {
        "triage_llm_budget_usd": pytest.approx(8 * each),
        "triage_llm_budget_spent_usd": pytest.approx(day.settled_usd),
        "triage_llm_budget_reserved_usd": 0.0,
        "triage_llm_budget_reached": 1.0,
    }
