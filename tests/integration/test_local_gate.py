"""The local model beside the LLM (through the real openai SDK and the LLM simulator): the gate
that spares the LLM the tickets the model is sure of, the audited sample, and the model standing
in for the rules when the LLM cannot answer. And `train --from-zendesk` against the simulator's
solved history."""

from __future__ import annotations

import csv
import json
import os
import subprocess
from pathlib import Path

import openai
import pybreaker
import pytest
import redis
import requests

from app.clients.llm import Gate, LLMClassifier
from app.clients.zendesk import ZendeskClient
from app.clients.zendesk_auth import ApiTokenAuth
from app.domain.taxonomy import load_taxonomy
from app.domain.triage import format_note
from app.learn.classifier import LocalClassifier
from app.learn.history import PERSON_WEIGHT, read_history
from app.learn.model import load_model
from sim.launcher.stack import ROOT, app_command, celery_command, run_to_end
from sim.llm import running_simulator as running_llm
from sim.zendesk import running_simulator as running_zendesk
from tests.conftest import labelled_tickets

TAXONOMY = load_taxonomy()
KEY = "sim-llm-key"


@pytest.fixture
def local(local_model_file: Path) -> LocalClassifier:
    return LocalClassifier(load_model(local_model_file, TAXONOMY), TAXONOMY)


@pytest.fixture
def llm():
    with running_llm(latency_mean=0, api_key=KEY) as server:
        yield server


def llm_classifier(base_url: str, local: LocalClassifier, gate: Gate | None) -> LLMClassifier:
    sdk = openai.OpenAI(base_url=f"{base_url}/v1", api_key=KEY, max_retries=0, timeout=5)
    return LLMClassifier(sdk, "gpt-4o-mini", TAXONOMY, local, pybreaker.CircuitBreaker(fail_max=100), gate=gate)


def completions(llm) -> int:
    return requests.get(f"{llm.base_url}/_sim/stats", timeout=5).json()["completions_ok"]


def tickets(count: int) -> list[tuple[str, str]]:
    return [(row["subject"], row["description"]) for row in labelled_tickets(count, seed=21)]


def test_the_gate_spares_the_llm_the_tickets_the_model_is_sure_of(llm, local):
    classifier = llm_classifier(llm.base_url, local, Gate(local, threshold=0.8, audit_share=0.0))
    answers = [classifier.classify(*ticket) for ticket in tickets(40)]
    gated = [a for a in answers if a.gate == "skipped_llm"]
    sure = [a for a in answers if all(c >= 0.8 for c in a.confidence.values()) and a.provider == "local"]
    assert 5 <= len(gated) < 40 and len(gated) == len(sure)
    assert all(a.provider == "local" and not a.is_fallback and a.cost_usd == 0 for a in gated)
    assert completions(llm) == 40 - len(gated)  # one request per ticket the gate let through, no more
    assert "Gate: the local model was sure of every field; the LLM was not asked" in format_note(
        gated[0], TAXONOMY, "r"
    )


def test_the_audited_sample_still_goes_to_the_llm_and_records_agreement(llm, local):
    classifier = llm_classifier(llm.base_url, local, Gate(local, threshold=0.8, audit_share=1.0))
    answers = [classifier.classify(*ticket) for ticket in tickets(20)]
    audited = [a for a in answers if a.gate == "audited"]
    assert audited and not any(a.gate == "skipped_llm" for a in answers)
    assert completions(llm) == 20
    for analysis in audited:
        assert analysis.provider == "llm" and set(analysis.gate_agreement) == set(TAXONOMY.fields)
    # The sample is a hash of the text: the same ticket is always in it or always out of it.
    gate = Gate(local, 0.8, audit_share=0.1)
    texts = [f"ticket {n}" for n in range(2000)]
    chosen = [gate.audits(text, "") for text in texts]
    assert chosen == [gate.audits(text, "") for text in texts] and 0.08 < sum(chosen) / 2000 < 0.12


def test_a_model_of_urgency_alone_never_spares_the_llm(llm, urgency_model_file: Path):
    # However sure of urgency, the model knows nothing of the other fields: every ticket goes to the LLM.
    partial = LocalClassifier(load_model(urgency_model_file, TAXONOMY), TAXONOMY)
    classifier = llm_classifier(llm.base_url, partial, Gate(partial, threshold=0.51, audit_share=0.0))
    answers = [classifier.classify(*ticket) for ticket in tickets(20)]
    assert all(a.provider == "llm" and a.gate is None for a in answers)
    assert completions(llm) == 20
    # When the LLM cannot answer, the model answers urgency and the rules the rest, as the note says.
    down = llm_classifier("http://127.0.0.1:9", partial, gate=None)
    analysis = down.classify("Checkout crashes", "Error 500 on every payment since this morning, urgent")
    assert (
        analysis.is_fallback and analysis.provider == "local" and analysis.rules_fields == ["root_cause", "sentiment"]
    )
    assert "Rules: root_cause, sentiment (not learned by the local model)" in format_note(analysis, TAXONOMY, "r")


def test_the_model_stands_in_for_the_rules_when_the_llm_cannot_answer(local):
    classifier = llm_classifier("http://127.0.0.1:9", local, gate=None)  # nothing listens there
    analysis = classifier.classify("Checkout crashes", "Error 500 on every payment since this morning, urgent")
    assert analysis.is_fallback and analysis.provider == "local" and analysis.model == local.name
    assert analysis.values["root_cause"] == "bug"
    assert f"Fallback: local model {local.name} (LLM unavailable" in format_note(analysis, TAXONOMY, "r")


def test_history_labels_and_the_override_rate_match_what_happened():
    with running_zendesk(tickets=5, solved=400, seed=4, rate_limit=100_000) as sim:
        client = ZendeskClient(sim.base_url, ApiTokenAuth("triage-bot@example.com", "sim-api-token"))
        report = read_history(client, TAXONOMY, 200)
        planted = requests.get(f"{sim.base_url}/_sim/history", timeout=5).json()
    assert report.solved == 400 and report.fleet_triaged == planted["fleet_triaged"]
    for name, counts in planted["fields"].items():
        override = report.override["fields"][name]
        assert override["changed_by_people"] == counts["agent_corrected"] > 0
        assert override["fleet_answers"] == planted["fleet_triaged"]
    # Each correction became its ticket's label for that field, weighted above the fleet's answers.
    for name, counts in planted["fields"].items():
        assert sum(1 for e in report.examples if e.weights.get(name) == PERSON_WEIGHT) == counts["agent_corrected"]
    assert len(report.examples) >= 350


def cli(*args: str, env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess:
    return run_to_end(app_command(*args), env, stdin=stdin)


def offline_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No Zendesk settings at all: train FILE and classify must not need them."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ZENDESK_", "LLM_", "OPENAI_"))}
    return {**env, "LOCAL_MODEL_PATH": str(tmp_path / "model.npz"), "LOG_DIR": str(tmp_path / "logs"), **extra}


def train_from_zendesk(
    tmp_path: Path, zendesk_url: str, redis_url: str, prefix: str, *args: str, **login: str
) -> subprocess.CompletedProcess:
    """`python -m app train --from-zendesk ARGS` against a simulator, with LOGIN's settings."""
    env = offline_env(tmp_path, ZENDESK_URL=zendesk_url, REDIS_URL=redis_url, REDIS_PREFIX=prefix, **login)
    return cli("train", "--from-zendesk", *args, env=env)


@pytest.mark.processes
def test_train_a_file_then_classify_offline_without_zendesk_settings(tmp_path: Path):
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text("".join(json.dumps(row) + "\n" for row in labelled_tickets(300)))
    env = offline_env(tmp_path)
    trained = cli("train", str(labelled), env=env)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "300 labelled tickets" in trained.stdout and "root_cause: accuracy" in trained.stdout
    card = json.loads((tmp_path / "model.card.json").read_text())
    assert card["examples"] == 300 and card["model_id"].startswith("local-")

    sample = "".join(json.dumps({"subject": s, "description": d}) + "\n" for s, d in tickets(5))
    for provider in ("local", "rules"):
        out = cli("classify", "--provider", provider, env=env, stdin=sample + "[]\n")
        assert out.returncode == 1  # the bad last line
        lines = [json.loads(line) for line in out.stdout.splitlines()]
        assert len(lines) == 6 and "error" in lines[5]
        for line in lines[:5]:
            assert set(TAXONOMY.fields) <= set(line) and set(line["confidence"]) == set(TAXONOMY.fields)
            assert line["provider"] == provider
    # Nothing configured: the model at LOCAL_MODEL_PATH is what `auto` picks offline.
    out = cli("classify", env=env, stdin=sample)
    assert out.returncode == 0 and all(json.loads(line)["provider"] == "local" for line in out.stdout.splitlines())
    # Training said what it was doing on stderr, a line per phase, though stderr is no terminal here.
    for phase in ("train: reading", "train: redacting 300 tickets", "train: fitting urgency", "train: saving"):
        assert phase in trained.stderr, trained.stderr
    assert "train:" not in trained.stdout


@pytest.mark.processes
def test_train_learns_the_fields_a_file_labels_and_classify_takes_the_rest_from_the_rules(tmp_path: Path):
    labelled = tmp_path / "priorities.csv"
    with labelled.open("w", newline="") as handle:  # urgency alone: what a team's priority history gives
        writer = csv.writer(handle)
        writer.writerow(["subject", "description", "urgency"])
        writer.writerows([r["subject"], r["description"], r["urgency"]] for r in labelled_tickets(200))
    env = offline_env(tmp_path)
    trained = cli("train", str(labelled), env=env)
    assert trained.returncode == 0, trained.stdout + trained.stderr
    assert "urgency: accuracy" in trained.stdout
    assert "root_cause: not learned (no root_cause column); the rules or the LLM answer it" in trained.stdout
    sample = "".join(json.dumps({"subject": s, "description": d}) + "\n" for s, d in tickets(3))
    out = cli("classify", "--provider", "local", env=env, stdin=sample)
    assert out.returncode == 0, out.stderr
    for line in map(json.loads, out.stdout.splitlines()):
        assert set(TAXONOMY.fields) <= set(line) and line["provider"] == "local"
        assert line["rules_fields"] == ["root_cause", "sentiment"]


@pytest.mark.processes
def test_train_refuses_bad_input_with_a_message(tmp_path: Path):
    env = offline_env(tmp_path)
    assert "no such file" in cli("train", str(tmp_path / "none.csv"), env=env).stderr
    assert "name a FILE" in cli("train", env=env).stderr
    few = tmp_path / "few.jsonl"
    few.write_text(json.dumps({"subject": "a", "description": "b", "urgency": "low"}) + "\n")
    out = cli("train", str(few), env=env)
    assert out.returncode == 1 and "training needs at least 20" in out.stderr and "Traceback" not in out.stderr
    out = cli("classify", "--provider", "local", env=env, stdin="{}\n")
    assert out.returncode != 0 and "LLM_PROVIDER=local: no model" in out.stderr  # none trained here
    out = cli("train", "--from-zendesk", env=env)
    assert out.returncode != 0 and "ZENDESK_OAUTH_CLIENT_ID" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.processes
def test_train_from_zendesk_learns_the_history_and_reports_the_override_rate(tmp_path: Path, redis_url: str):
    # Limits well above what 500 tickets' export and audits need: this test is about what is
    # learned and counted; the pace of reads is the limiter's tests' business.
    with running_zendesk(
        tickets=5,
        solved=500,
        seed=6,
        email="bot@example.com",
        token="tok",
        rate_limit=100_000,
        incremental_rate_limit=100_000,
    ) as sim:
        login = {"ZENDESK_EMAIL": "bot@example.com", "ZENDESK_API_TOKEN": "tok", "ZENDESK_RATE_LIMIT": "100000"}
        out = train_from_zendesk(tmp_path, sim.base_url, redis_url, "train-test:", "--since", "200", **login)
        planted = requests.get(f"{sim.base_url}/_sim/history", timeout=5).json()
        stats = requests.get(f"{sim.base_url}/_sim/stats", timeout=5).json()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "agent override rate" in out.stdout
    card = json.loads((tmp_path / "model.card.json").read_text())
    for name, counts in planted["fields"].items():
        rate = card["override_rate"]["fields"][name]
        assert rate["changed_by_people"] == counts["agent_corrected"]
        assert f"{name}: {rate['rate']:.1%}" in out.stdout
    assert card["source"].startswith("zendesk") and card["examples"] >= 450
    for name in TAXONOMY.fields:  # it learned something real from the history
        assert card["fields"][name]["accuracy"] > card["fields"][name]["majority_accuracy"]
    assert stats["responses_429"] == 0
    # Kept for the run summaries and reports that follow.
    client = redis.Redis.from_url(redis_url)
    stored = json.loads(client.get("train-test:learn:override"))
    client.delete("train-test:learn:override")
    assert stored["fields"] == card["override_rate"]["fields"] and stored["since_days"] == 200


@pytest.mark.e2e
def test_a_worker_without_the_model_it_needs_stops_at_start_up_and_says_why(tmp_path: Path):
    env = {
        **os.environ,
        "LLM_PROVIDER": "local",
        "LOCAL_MODEL_PATH": str(tmp_path / "none.npz"),
        "LOG_DIR": str(tmp_path / "logs"),
        "PYTHONPATH": str(ROOT),
    }
    worker = run_to_end(celery_command("worker", "-n", "no-model@%h"), env, cwd=tmp_path, timeout=120)
    assert worker.returncode != 0
    assert "configuration error: LLM_PROVIDER=local: no model at LOCAL_MODEL_PATH" in worker.stderr
    assert "Traceback" not in worker.stderr


@pytest.mark.e2e
def test_a_worker_given_a_file_that_is_not_a_model_stops_at_start_up_and_says_so(tmp_path: Path):
    garbage = tmp_path / "model.npz"
    garbage.write_text("subject,description\nnot,a model\n")
    env = {
        **os.environ,
        "LLM_PROVIDER": "rules",  # a model at LOCAL_MODEL_PATH is loaded whatever the provider
        "LOCAL_MODEL_PATH": str(garbage),
        "LOG_DIR": str(tmp_path / "logs"),
        "PYTHONPATH": str(ROOT),
    }
    worker = run_to_end(celery_command("worker", "-n", "garbage-model@%h"), env, cwd=tmp_path, timeout=120)
    assert worker.returncode != 0
    assert (
        f"configuration error: LOCAL_MODEL_PATH: {garbage} is not a Triage Fleet model (a text file, not a NumPy "
        ".npz archive); make one with `python -m app train FILE`"
    ) in worker.stderr
    assert "Traceback" not in worker.stderr and "pickle" not in worker.stderr


@pytest.mark.processes
def test_train_from_zendesk_with_wrong_credentials_says_so_at_once(tmp_path: Path, redis_url: str):
    with running_zendesk(tickets=1, solved=30, seed=6, auth="oauth") as sim:
        login = {"ZENDESK_OAUTH_CLIENT_ID": "triage-fleet", "ZENDESK_OAUTH_CLIENT_SECRET": "wrong"}
        out = train_from_zendesk(tmp_path, sim.base_url, redis_url, "train-bad:", **login)
        token_requests = sim.state.oauth.token_requests
    # A configuration fault is not waited out by a command a person runs: one line, no traceback,
    # and the refused client asked once, not over and over until a deadline.
    assert out.returncode == 1 and "Traceback" not in out.stderr
    assert token_requests == 1, token_requests
    assert (
        out.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "error: Zendesk: configuration fault: the OAuth client 'triage-fleet' was refused (HTTP 401 invalid_client"
        )
    )
    assert "wrong" not in out.stderr.replace("'triage-fleet' was refused", "")
    redis.Redis.from_url(redis_url).delete(*redis.Redis.from_url(redis_url).keys("train-bad:*") or ["none"])
