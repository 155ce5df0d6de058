"""No personal data leaves the redact task: proven end to end with a real worker, Flower, Redis
and the simulator, for tickets full of personal data.

Checked after a full run: every request body the LLM received (the LLM simulator keeps them),
the worker's and Flower's logs, the CLI output, every Redis key the run left (task results, run
summary, LLM cache, broker leftovers, base64 message bodies decoded), Flower's task list (args,
kwargs, results), the private notes written to Zendesk and the summary file.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path

import pytest
import requests

from sim.launcher.stack import LocalStack, wait_until

pytestmark = pytest.mark.e2e

TICKETS = [
    {
        "subject": "Refund for Margaret Thompson",
        "description": "Hi, I'm Margaret Thompson. Email margaret.thompson@example.org, phone +1 415 555 0132. "
        "Please refund my card 4111 1111 1111 1111, I was charged twice!",
    },
    {
        "subject": "Wire transfer failed",
        "description": "My IBAN is GB82 WEST 1234 5698 7654 32 and my SSN is 123-45-6789. Please send the "
        "papers to 1600 Pennsylvania Avenue NW, Washington, DC 20500.",
    },
    {
        "subject": "Login blocked from 203.0.113.42",
        "description": "Dear support, my password: hunter2secret stopped working after the update.\n"
        "Regards,\nKwame Mensah\n+44 20 7946 0958",
    },
]
VALUES = [
    "Margaret",
    "Thompson",
    "margaret.thompson@example.org",
    "415 555 0132",
    "4111 1111 1111 1111",
    "GB82 WEST 1234 5698 7654 32",
    "123-45-6789",
    "1600 Pennsylvania Avenue",
    "203.0.113.42",
    "hunter2secret",
    "Kwame",
    "Mensah",
    "7946 0958",
]


def leaks(text: str) -> list[str]:
    return [value for value in VALUES if value in text]


def decoded(value: str) -> str:
    """The value plus any base64 message bodies inside it (kombu envelopes)."""
    parts = [value]
    try:
        envelope = json.loads(value)
    except ValueError:
        return value
    if isinstance(envelope, dict) and isinstance(envelope.get("body"), str):
        try:
            parts.append(base64.b64decode(envelope["body"]).decode("utf-8", "replace"))
        except ValueError:
            pass
    return "\n".join(parts)


def redis_dump(stack: LocalStack) -> str:
    client = stack.redis()
    chunks = []
    for key in client.scan_iter(match=f"{stack.redis_prefix}*"):
        kind = client.type(key).decode()
        if kind == "string":
            values = [client.get(key)]
        elif kind == "hash":
            values = list(client.hgetall(key).values())
        elif kind == "list":
            values = client.lrange(key, 0, -1)
        elif kind == "set":
            values = list(client.smembers(key))
        elif kind == "zset":
            values = client.zrange(key, 0, -1)
        else:
            values = []
        chunks += [decoded(v.decode("utf-8", "replace")) for v in values if v is not None]
    return "\n".join(chunks)


def test_personal_data_never_leaves_the_redact_task(tmp_path: Path, redis_url: str):
    stack = LocalStack(
        workdir=tmp_path / "stack",
        tickets=0,
        redis_prefix=f"pii-{secrets.token_hex(4)}:",
        sim_options=["--rate-limit", "100000", "--update-rate-limit", "100000", "--index-lag", "0"],
        extra_env={"FLOWER_UNAUTHENTICATED_API": "1", "LOG_FORMAT": "json"},
    )
    with stack:
        stack.start_redis(redis_url)
        stack.start_simulator()
        ids = stack.sim("/_sim/tickets", method="POST", json={"tickets": TICKETS})["ids"]
        stack.start_llm_simulator(["--latency-mean", "0"])
        stack.start_worker("worker", autoscale="3,2")
        stack.start_flower()
        stack.wait_for_workers(1)
        wait_until(lambda: _flower_up(stack), 30, "Flower")

        run = stack.run_app("run", "--wait", "--timeout", "120", timeout=180)
        assert run.returncode == 0, run.stdout + run.stderr
        assert stack.stats()["tickets_ai_processed"] == 3
        time.sleep(2)  # let Flower take in the last events

        bodies = stack.llm_sim("/_sim/requests")["requests"]
        assert len(bodies) == 3 and all(b["response_format"]["type"] == "json_schema" for b in bodies)
        sent = json.dumps(bodies, ensure_ascii=False)
        assert leaks(sent) == []
        assert "<PERSON>" in sent and "<CREDIT_CARD>" in sent and "<IBAN_CODE>" in sent and "<SECRET>" in sent

        tasks = requests.get(f"http://127.0.0.1:{stack.flower_port}/api/tasks", timeout=10).json()
        assert {t["name"] for t in tasks.values()} >= {
            "triage.redact",
            "triage.classify",
            "triage.update",
            "triage.summarize",
        }
        assert leaks(json.dumps(tasks, ensure_ascii=False)) == []
        redact_args = {t["args"] for t in tasks.values() if t["name"] == "triage.redact"}
        assert redact_args == {f"(ticket_id={i})" for i in ids}

        dump = redis_dump(stack)
        assert "celery-task-meta" in "\n".join(
            k.decode() for k in stack.redis().scan_iter(match=f"{stack.redis_prefix}*")
        )
        assert leaks(dump) == []
        assert "<PERSON>" in dump  # redacted text is there (task results, cache), the values are not

        notes = [c["body"] for i in ids for c in stack.sim(f"/_sim/tickets/{i}")["comments"] if not c["public"]]
        assert len(notes) == 3 and leaks("\n".join(notes)) == []

        summary_files = list((stack.workdir / "results").glob("results_*.json"))
        assert summary_files and leaks("".join(p.read_text() for p in summary_files)) == []
        assert leaks(run.stdout + run.stderr) == []

        # LOG_DIR/triage.log: one JSON line per ticket outcome, nothing personal.
        daily = (stack.workdir / "results" / "triage.log").read_text()
        assert leaks(daily) == []
        outcomes = [line for line in map(json.loads, daily.splitlines()) if "ticket_id" in line and "status" in line]
        assert sorted(line["ticket_id"] for line in outcomes) == sorted(ids)
        assert {line["status"] for line in outcomes} <= {"success", "fallback"}
    for log in (tmp_path / "stack").glob("*.log"):
        if log.name not in ("zendesk-sim.log", "llm-sim.log"):  # the simulators play the outside services
            assert leaks(log.read_text(errors="replace")) == [], log.name


def _flower_up(stack: LocalStack) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{stack.flower_port}/api/workers", timeout=2).ok
    except requests.RequestException:
        return False
