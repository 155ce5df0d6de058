"""The fleet with the LLM simulator: real workers classify through the openai SDK; cost and
tokens reach every result and the summary; an LLM outage sends every ticket to the rules with
the fallback tag, and the run still completes."""

from __future__ import annotations

import pytest

from sim.launcher.stack import LocalStack
from tests.e2e.scenarios import FAST_ZENDESK, run_and_summarise

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(new_stack):
    return new_stack("llm", tickets=40, sim_options=FAST_ZENDESK, simulator=True)


def run(stack: LocalStack, model: str = "gpt-4o-mini") -> dict:
    summary, result = run_and_summarise(stack, wait=180)
    assert f"classifier: openai ({model} at LLM_BASE_URL" in result.stderr
    return summary


def test_llm_costs_and_tokens_reach_results_and_summary(stack: LocalStack):
    stack.start_llm_simulator(["--latency-mean", "0.3"])
    stack.start_worker("worker", autoscale="8,4")
    stack.wait_for_workers(1)
    summary = run(stack)
    assert (summary["total"], summary["processed"], summary["fallbacks"]) == (40, 40, 0)
    assert summary["tokens_per_ticket"] > 100 and summary["cost_estimate"] > 0
    assert summary["cost_per_ticket"] == pytest.approx(summary["cost_estimate"] / 40, rel=1e-3)
    for result in summary["results"]:
        assert result["status"] == "success" and result["cost_usd"] > 0 and result["prompt_tokens"] > 0
        # The model that answered, as OpenAI names it: the dated snapshot behind the alias.
        assert result["analysis"]["provider"] == "llm" and result["analysis"]["model"] == "gpt-4o-mini-2024-07-18"
        assert "ai_fallback" not in result["tags_added"]
    assert stack.llm_sim("/_sim/stats")["completions_ok"] == 40
    note = [c for c in stack.sim("/_sim/tickets/1")["comments"] if not c["public"]][0]["body"]
    assert "Model: gpt-4o-mini-2024-07-18" in note and "Tokens Used:" in note


def test_llm_outage_falls_back_to_rules_with_the_tag(stack: LocalStack):
    stack.start_llm_simulator(["--latency-mean", "0", "--error-ratio", "1.0", "--error-status", "503"])
    stack.extra_env = {"LLM_SDK_MAX_RETRIES": "0", "LLM_BREAKER_FAIL_MAX": "3"}
    stack.start_worker("worker", autoscale="4,2")
    stack.wait_for_workers(1)
    summary = run(stack)
    assert (summary["total"], summary["processed"], summary["fallbacks"], summary["failed"]) == (40, 40, 40, 0)
    reasons = summary["fallbacks_by_reason"]
    assert reasons.get("LLM circuit breaker open", 0) >= 30  # once open, the LLM is not called at all
    assert stack.llm_sim("/_sim/stats")["requests_total"] < 10
    for ticket_id in range(1, 41):
        tags = stack.sim(f"/_sim/tickets/{ticket_id}")["ticket"]["tags"]
        assert "ai_processed" in tags and "ai_fallback" in tags


@pytest.mark.solo
def test_a_tight_llm_quota_never_sends_a_ticket_to_the_rules(stack):
    """The LLM account allows ten requests' worth of tokens per 6 s and the fleet is told so: every
    ticket waits its turn instead of falling back, and the fleet's own pace trips (almost) no 429,
    because it counts tokens as OpenAI's limiter does, the response schema included."""
    stack.start_llm_simulator(["--latency-mean", "0.5", "--rpm", "1000", "--tpm", "13000", "--rate-window", "6"])
    stack.start_worker("worker", autoscale="8,8")
    stack.start_worker("second", autoscale="8,8")
    stack.wait_for_workers(2)
    summary = run(stack)
    llm = stack.llm_sim("/_sim/stats")
    assert (summary["total"], summary["processed"], summary["fallbacks"], summary["failed"]) == (40, 40, 0, 0)
    assert llm["completions_ok"] == 40
    share_429 = llm["responses_429"] / llm["requests_total"]
    assert share_429 < 0.05, llm
    print(
        f"tight LLM quota: 40 tickets, 0 fallbacks, {llm['responses_429']} of {llm['requests_total']} requests "
        f"answered 429 ({share_429:.1%})"
    )


def test_a_gpt5_family_model_classifies_every_ticket(stack):
    """gpt-5-mini refuses max_tokens and temperature 0 (400): the fleet sends what it takes, and
    every ticket is classified by the model, none by the rules."""
    stack.start_llm_simulator(["--latency-mean", "0.3"])
    stack.extra_env = {"LLM_MODEL": "gpt-5-mini"}
    stack.start_worker("worker", autoscale="8,4")
    stack.wait_for_workers(1)
    summary = run(stack, "gpt-5-mini")
    llm = stack.llm_sim("/_sim/stats")
    assert (summary["total"], summary["processed"], summary["fallbacks"], summary["failed"]) == (40, 40, 0, 0)
    assert {r["analysis"]["model"] for r in summary["results"]} == {"gpt-5-mini-2025-08-07"}
    assert llm["completions_ok"] == 40 and llm["responses_400"] == 0
    assert summary["cost_estimate"] > 0  # the dated snapshot is priced by its family
    print(
        f"gpt-5-mini: 40 tickets, {summary['processed']} classified by the LLM, {summary['fallbacks']} fallbacks, "
        f"{llm['responses_400']} requests refused"
    )
