"""The local model in the running fleet: real workers classify offline with LLM_PROVIDER=local
(no LLM anywhere), and with the gate on they skip the LLM for the tickets the model is sure of."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.launcher.stack import LocalStack
from tests.e2e.scenarios import FAST_ZENDESK, run_and_summarise

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(new_stack):
    return new_stack("local", tickets=60, sim_options=FAST_ZENDESK, simulator=True)


def run(stack: LocalStack) -> tuple[dict, str]:
    summary, result = run_and_summarise(stack)
    print(result.stdout)
    return summary, result.stderr


def test_llm_provider_local_triages_every_ticket_offline(stack: LocalStack, local_model_file: Path):
    stack.extra_env = {"LLM_PROVIDER": "local", "LOCAL_MODEL_PATH": str(local_model_file)}
    # As `train --from-zendesk` leaves it: every run summary carries the last measured override rate.
    override = {
        "measured_at": "2026-12-01 18:00 UTC",
        "since_days": 180,
        "fleet_triaged": 10,
        "fields": {"urgency": {"fleet_answers": 10, "changed_by_people": 2, "rate": 0.2}},
    }
    stack.redis().set(f"{stack.redis_prefix}learn:override", json.dumps(override))
    stack.start_worker("worker", autoscale="4,2")
    stack.wait_for_workers(1)
    summary, stderr = run(stack)
    assert summary["agent_override"] == override
    assert "classifier: local (LLM_PROVIDER=local)" in stderr
    assert (summary["total"], summary["processed"], summary["fallbacks"], summary["failed"]) == (60, 60, 0, 0)
    assert summary["cost_estimate"] == 0 and summary["tokens_total"] == 0
    models = {r["analysis"]["model"] for r in summary["results"]}
    assert len(models) == 1 and models.pop().startswith("local-")
    for r in summary["results"]:
        assert r["analysis"]["provider"] == "local" and "ai_fallback" not in r["tags_added"]
        assert set(r["analysis"]["confidence"]) == {"root_cause", "urgency", "sentiment"}
    note = [c for c in stack.sim("/_sim/tickets/1")["comments"] if not c["public"]][0]["body"]
    assert "Model: local-" in note
    assert stack.stats()["max_ai_notes_per_ticket"] == 1


def test_the_gate_saves_llm_calls_and_measures_its_agreement(stack: LocalStack, local_model_file: Path):
    stack.start_llm_simulator(["--latency-mean", "0.2"])
    stack.extra_env = {
        "LOCAL_MODEL_PATH": str(local_model_file),
        "LOCAL_GATE_CONFIDENCE": "0.8",
        "LOCAL_GATE_AUDIT_SHARE": "0.25",
    }
    stack.start_worker("worker", autoscale="8,4")
    stack.wait_for_workers(1)
    summary, _ = run(stack)
    assert (summary["total"], summary["processed"], summary["fallbacks"], summary["failed"]) == (60, 60, 0, 0)
    gated = summary["gated"]
    assert gated > 0 and summary["llm_calls_saved"] == gated and summary["llm_cost_saved"] > 0
    assert summary["gate_audited"] > 0 and summary["gate_agreement"] is not None
    assert stack.llm_sim("/_sim/stats")["completions_ok"] == 60 - gated  # the gated never reached the LLM
    by_provider = {r["analysis"]["provider"] for r in summary["results"] if r["analysis"].get("gate") == "skipped_llm"}
    assert by_provider == {"local"}
