"""What the real OpenAI API refuses, against the strict LLM simulator, through the fleet's own
services: a gpt-5-family model is classified by the LLM; a request that is itself wrong is a
configuration fault that opens the breaker, names itself in health and one alert, and holds
tickets back instead of sending them to the rules; the shared quota counts tokens as OpenAI does."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from celery.exceptions import Retry

from app import services
from app.clients.llm import LLMConfigFault, quota_tokens
from app.domain.models import TicketWork
from app.ops.health import UNHEALTHY, run_checks
from app.settings import get_settings
from sim.llm import quota_tokens as sim_quota_tokens
from sim.llm import running_simulator

KEY = "sim-llm-key"
TICKET = ("URGENT: checkout crashes", "The app crashes with an error when <PERSON> pays. Very frustrated.")


@pytest.fixture
def llm_sim() -> Iterator[object]:
    with running_simulator(latency_mean=0, api_key=KEY) as sim:
        yield sim


@pytest.fixture
def use_llm(fleet_env, llm_sim, receiver, monkeypatch):
    """The fleet's settings pointed at the LLM simulator with `model`; a fresh process state."""

    def configure(model: str, **env: str) -> None:
        for name, value in {
            "LLM_BASE_URL": f"{llm_sim.base_url}/v1",
            "OPENAI_API_KEY": KEY,
            "LLM_MODEL": model,
            "ALERT_WEBHOOK_URL": receiver.url,
            "LLM_SDK_MAX_RETRIES": "0",
            **env,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("LLM_TEMPERATURE", raising=False)
        services.reset()

    return configure


def sim_stats(sim) -> dict:
    return requests.get(f"{sim.base_url}/_sim/stats", timeout=5).json()


def sent(sim) -> list[dict]:
    return requests.get(f"{sim.base_url}/_sim/requests", timeout=5).json()["requests"]


def test_a_gpt5_family_model_is_classified_by_the_llm(use_llm, llm_sim):
    use_llm("gpt-5-mini")
    analysis = services.classifier().classify(*TICKET, may_wait=True)
    assert not analysis.is_fallback and analysis.provider == "llm"
    assert analysis.model == "gpt-5-mini-2025-08-07" and analysis.cost_usd > 0  # a snapshot, priced by family
    body = sent(llm_sim)[-1]
    assert body["max_completion_tokens"] == 2000 and "max_tokens" not in body and "temperature" not in body
    assert sim_stats(llm_sim)["responses_400"] == 0


def test_the_shared_quota_takes_what_openais_limiter_will_count(use_llm, llm_sim):
    use_llm("gpt-4o-mini")
    classifier = services.classifier()
    classifier.classify(*TICKET)
    body = sent(llm_sim)[-1]
    ours = quota_tokens(body["messages"], body["response_format"], body["max_completion_tokens"])
    assert ours == sim_quota_tokens(body)  # the schema included: it is most of the prompt's characters
    assert sim_stats(llm_sim)["quota_tokens_total"] == ours


def test_the_answers_rate_limit_headers_correct_the_shared_quota(use_llm, llm_sim):
    use_llm("gpt-4o-mini", LLM_TPM="200000")
    classifier = services.classifier()
    # Someone else spends the same key: OpenAI says almost nothing is left for a minute.
    classifier.observe_quota(
        {
            "x-ratelimit-remaining-tokens": "100",
            "x-ratelimit-reset-tokens": "30s",
            "x-ratelimit-remaining-requests": "499",
            "x-ratelimit-reset-requests": "120ms",
        }
    )
    assert services.llm_pause_gate().remaining() > 25  # the backlog holds back until the reset
    assert services.limiter().take(services._llm_quotas()[1], 1000) > 0  # and the bucket has no more than 100
    # A new ticket (the intake lane) is not paused: it waits only for the lowered bucket to allow it.
    from app.fleet import lanes

    with lanes.intake_lane():
        assert services.llm_pause_gate().remaining() == 0
        assert services.limiter().take(services._llm_quotas()[1], 1000, priority=True) > 0


def test_a_wrong_request_is_a_configuration_fault_said_once_and_tickets_wait(use_llm, llm_sim, receiver):
    use_llm("gpt-9-turbo", LLM_BREAKER_RESET_TIMEOUT="1")  # no such model: 404 model_not_found
    classifier = services.classifier()
    with pytest.raises(LLMConfigFault) as info:
        classifier.classify(*TICKET, may_wait=True)
    assert "model_not_found" in info.value.reason and info.value.retry_after == 1
    assert classifier.breaker.current_state == "open"
    asked = sim_stats(llm_sim)["requests_total"]
    with pytest.raises(LLMConfigFault):  # every process now waits without asking again
        services.classifier().classify("another", "ticket", may_wait=True)
    assert sim_stats(llm_sim)["requests_total"] == asked

    # Health names the fault; one alert says what it is.
    checks = {
        c.name: c
        for c in run_checks(
            get_settings(),
            services.redis_client(),
            lambda: [{"w": "pong"}],
            {"llm": (services.llm_circuit, "rules", services.llm_faults().get)},
            time.time(),
            time.time(),
        )
    }
    assert checks["llm breaker"].status == UNHEALTHY and "model_not_found" in checks["llm breaker"].detail
    assert len(receiver.messages) == 1 and "configuration fault" in receiver.texts()[0]
    assert "gpt-9-turbo" in receiver.texts()[0]

    # The task keeps the ticket waiting (a countdown retry), never a fallback to the rules.
    work = TicketWork(
        run_id="r", ticket_id=1, enqueued_at=time.time(), redacted_subject=TICKET[0], redacted_description=TICKET[1]
    )
    from workers.classify import classify_task

    with pytest.raises(Retry):
        classify_task.apply(args=(work.model_dump(),), throw=True)

    # Fixed (the operator sets a real model and restarts): the trial call closes the breaker.
    use_llm("gpt-4o-mini", LLM_BREAKER_RESET_TIMEOUT="1")
    time.sleep(1.1)
    analysis = services.classifier().classify(*TICKET, may_wait=True)
    assert not analysis.is_fallback
    assert services.llm_circuit().current_state == "closed" and services.llm_faults().get() is None
    assert len(receiver.messages) == 1  # said once


def test_no_billing_quota_is_a_configuration_fault_too(use_llm, llm_sim):
    use_llm("gpt-4o-mini")
    requests.post(f"{llm_sim.base_url}/_sim/config", json={"insufficient_quota": True}, timeout=5).raise_for_status()
    with pytest.raises(LLMConfigFault) as info:
        services.classifier().classify(*TICKET, may_wait=True)
    assert "insufficient_quota" in info.value.reason
    fallback = services.classifier().classify(*TICKET, may_wait=False)  # a caller that cannot wait: said why
    assert fallback.is_fallback and "configuration fault" in fallback.fallback_reason


def fleet_keys(redis_prefix: str) -> list[str]:
    """The keys under this test's prefix, without it."""
    return sorted(k.decode()[len(redis_prefix) :] for k in services.redis_client().scan_iter(match=f"{redis_prefix}*"))


@pytest.mark.parametrize(
    ("model", "env", "says"),
    [
        ("gpt-4o-mimi", {}, "LLM: model gpt-4o-mimi not found (404 model_not_found); set LLM_MODEL"),
        ("gpt-4o-mini", {"OPENAI_API_KEY": "sk-wrong-key-123"}, "LLM: the API key was refused (401"),
    ],
)
def test_a_command_a_person_runs_keeps_a_configuration_fault_to_itself(
    use_llm, llm_sim, receiver, redis_prefix, model, env, says
):
    """`classify` (build_classifier(private=True)) meets a misspelt model or a wrong key: it is told
    in one line naming the setting, at once, while the fleet's breaker, fault record, pauses and
    alerts stay as they were: only the shared quota it took is left in Redis."""
    from app.clients.llm import config_fault_line

    use_llm(model, **env)
    private = services.build_classifier(private=True)
    with pytest.raises(LLMConfigFault) as info:
        private.classify(*TICKET, may_wait=True)
    line = config_fault_line(info.value, model)
    assert line.startswith(says) and "sk-wrong" not in line
    assert private.breaker.current_state == "open"  # its own: a second ticket is not sent
    with pytest.raises(LLMConfigFault):
        private.classify("another", "ticket", may_wait=True)
    assert sim_stats(llm_sim)["requests_total"] == 1

    assert fleet_keys(redis_prefix) == ["ratelimit:llm:requests", "ratelimit:llm:tokens"]
    assert services.llm_faults().get() is None and services.llm_pause_gate().remaining() == 0
    assert services.llm_circuit().current_state == "closed" and receiver.messages == []
    # The fleet's own classifier is untouched and still asks the LLM.
    services.reset()
    use_llm("gpt-4o-mini")
    assert not services.classifier().classify(*TICKET, may_wait=True).is_fallback


def test_a_command_a_person_runs_pauses_only_itself_after_a_429(use_llm, llm_sim, redis_prefix):
    """A 429 that `classify` meets pauses this process; the fleet's pause is read, never written."""
    use_llm("gpt-4o-mini", LLM_RPM="100000")
    private = services.build_classifier(private=True)
    private.pause_gate.pause(30)
    assert private.pause_gate.remaining() > 25 and services.llm_pause_gate().remaining() == 0
    private.observe_quota({"x-ratelimit-remaining-tokens": "0", "x-ratelimit-reset-tokens": "40s"})
    assert private.pause_gate.remaining() > 35  # quota spent, OpenAI says: this process waits
    assert not [key for key in fleet_keys(redis_prefix) if key.startswith("llm:paused")]
    services.llm_pause_gate().pause(60)  # the fleet met a 429: the whole account waits, this process too
    assert private.pause_gate.remaining() > 55
