"""The two-worker form, run for real: a prefork worker on the CPU queues and a thread-pool worker
on classify and zendesk. Under the threads, the OpenAI client, the Redis clients, the breakers and
the shared limiter must hold: many LLM calls in flight from one process, the plan's pace and no
faster, an outage that opens the breaker for every thread, every ticket written once."""

from __future__ import annotations

import psutil
import pytest

from sim.launcher.stack import LocalStack
from tests.e2e.scenarios import FAST_ZENDESK, run_and_summarise

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(new_stack):
    return new_stack("io", tickets=150, sim_options=FAST_ZENDESK, simulator=True)


def run(stack: LocalStack) -> dict:
    return run_and_summarise(stack)[0]


def start_two_workers(stack: LocalStack):
    cpu = stack.start_cpu_worker(concurrency=2)
    io = stack.start_io_worker(threads=100)
    stack.wait_for_workers(2, timeout=120)
    return cpu, io


@pytest.mark.solo
def test_threads_call_the_llm_side_by_side_at_the_plans_pace_and_write_each_ticket_once(stack: LocalStack):
    # 300,000 tokens per 6 s is about 45 requests a second at this prompt size: the limiter, not
    # the latency, sets the pace, and a 1 s answer keeps dozens of calls in flight from one process.
    stack.start_llm_simulator(["--latency-mean", "1.0", "--rpm", "100000", "--tpm", "300000", "--rate-window", "6"])
    _, io = start_two_workers(stack)
    summary = run(stack)
    zendesk, llm = stack.stats(), stack.llm_sim("/_sim/stats")
    assert (summary["total"], summary["processed"], summary["fallbacks"], summary["failed"]) == (150, 150, 0, 0)
    assert zendesk["tickets_ai_processed"] == 150 and zendesk["max_ai_notes_per_ticket"] == 1
    assert llm["completions_ok"] == 150
    # one process, many calls at once: pybreaker's own lock would have allowed one
    assert psutil.Process(io.pid).children() == []
    assert llm["max_in_flight"] >= 20, llm["max_in_flight"]
    # the shared limiter is the throttle: OpenAI's window was never overrun
    assert llm["responses_429"] <= 0.01 * llm["requests_total"], llm
    tokens_per_request = llm["quota_tokens_total"] / llm["completions_ok"]
    assert tokens_per_request > 500  # the pace above really was the token limit's
    log = io.log_path.read_text(errors="replace")
    assert "the spaCy model is not loaded" in log  # the I/O worker never redacts
    assert "classify" in log and "Task triage.redact" not in log
    print(
        f"two workers: 150 tickets once, LLM max in flight {llm['max_in_flight']}, "
        f"{llm['responses_429']} of {llm['requests_total']} requests answered 429"
    )


def test_an_llm_outage_opens_the_breaker_for_every_thread(stack: LocalStack):
    stack.start_llm_simulator(["--latency-mean", "0.2", "--error-ratio", "1.0", "--error-status", "503"])
    stack.extra_env = {"LLM_SDK_MAX_RETRIES": "0", "LLM_BREAKER_FAIL_MAX": "3"}
    start_two_workers(stack)
    summary = run(stack)
    llm = stack.llm_sim("/_sim/stats")
    assert (summary["total"], summary["processed"], summary["fallbacks"], summary["failed"]) == (150, 150, 150, 0)
    assert summary["fallbacks_by_reason"].get("LLM circuit breaker open", 0) >= 100
    # The calls already in flight when the third failure opened it, and no more: the threads share it.
    assert llm["requests_total"] < 100, llm["requests_total"]
