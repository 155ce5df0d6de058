"""Shadow and suggest modes end to end: real workers, real Redis, the Zendesk and LLM simulators.

The issue's figures come from here: a shadow run of 300 tickets sends Zendesk no write at all and
records 300 predictions, and a second sweep repeats no work; a suggest run writes notes alone.
"""

from __future__ import annotations

import json

import pytest

from app.fleet.predictions import PredictionStore
from sim.launcher.stack import LocalStack
from tests.e2e.scenarios import FAST_ZENDESK, run_and_summarise

pytestmark = pytest.mark.e2e

FIELDS = ("root_cause", "urgency", "sentiment")


def start(stack: LocalStack, mode: str, tickets: int) -> None:
    stack.tickets = tickets
    stack.sim_options = [*FAST_ZENDESK, "--index-lag", "0", "--incremental-delay", "1"]
    stack.extra_env = {"TRIAGE_MODE": mode}
    stack.start_simulator()
    stack.start_llm_simulator(["--latency-mean", "0.05", "--rpm", "10000", "--tpm", "10000000"])
    stack.start_worker("worker", autoscale="8,4")
    stack.wait_for_workers(1)


def test_a_shadow_run_of_300_tickets_writes_nothing_records_300_and_the_next_sweep_repeats_no_work(new_stack):
    stack = new_stack("shadow")
    start(stack, "shadow", 300)
    summary, _ = run_and_summarise(stack, wait=300)

    stats = stack.stats()
    predictions = PredictionStore(stack.redis(), stack.redis_prefix).since(0)
    llm_answers = stack.llm_sim("/_sim/stats")["completions_ok"]
    print(
        "shadow run:",
        json.dumps(
            {
                "tickets": summary["total"],
                "modes": summary["modes"],
                "write_requests": stats["write_requests"],
                "predictions_recorded": len(predictions),
                "llm_answers": llm_answers,
            }
        ),
    )
    assert summary["total"] == 300 and summary["failed"] == 0 and summary["modes"] == {"shadow": 300}
    assert stats["write_requests"] == 0 and stats["writes_by_endpoint"] == {}
    assert stats["tickets_ai_processed"] == 0 and stats["notes_total"] == 0
    assert len(predictions) == 300 and {p.mode for p in predictions} == {"shadow"}
    assert {p.ticket_id for p in predictions} == set(range(1, 301))
    assert all(p.provider == "llm" and set(p.values) == set(FIELDS) and p.written == {} for p in predictions)

    # The search finds all 300 again (nothing was tagged); the done markers skip every one.
    second = stack.run_app("run", "--wait", "--timeout", "60", timeout=120)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "nothing to triage (300 eligible, 300 done" in second.stdout + second.stderr
    assert len(stack.summaries(5)) == 1  # no second run
    assert stack.llm_sim("/_sim/stats")["completions_ok"] == llm_answers  # nothing classified again
    assert stack.stats()["write_requests"] == 0
    print("second sweep:", (second.stdout + second.stderr).strip().splitlines()[-1])


def test_a_suggest_run_writes_notes_alone(new_stack):
    stack = new_stack("suggest")
    start(stack, "suggest", 60)
    before = {i: stack.sim(f"/_sim/tickets/{i}")["ticket"] for i in range(1, 61)}
    summary, _ = run_and_summarise(stack, wait=240)

    assert summary["total"] == 60 and summary["failed"] == 0 and summary["modes"] == {"suggest": 60}
    stats = stack.stats()
    # One note each, one PUT each (update_many is for tagged writes), and nothing else.
    assert stats["writes_by_endpoint"] == {"PUT /api/v2/tickets/{id}": 60}
    assert stats["tickets_ai_processed"] == 0 and stats["max_ai_notes_per_ticket"] == 1
    assert stats["notes_total"] == 60 and stats["tickets_priority_lowered"] == 0
    for ticket_id, was in before.items():
        record = stack.sim(f"/_sim/tickets/{ticket_id}")
        now = record["ticket"]
        assert now["tags"] == was["tags"] and now["priority"] == was["priority"]
        assert now.get("custom_fields") == was.get("custom_fields")
        (note,) = [c["body"] for c in record["comments"] if not c["public"]]
        assert "Mode: suggest" in note and "Suggested urgency:" in note
    print("suggest run:", json.dumps({"tickets": 60, "writes_by_endpoint": stats["writes_by_endpoint"]}))
