"""`python -m app health` as an operator runs it: exit codes and reasons."""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path

import pytest
import redis

from app.clients.llm import llm_breaker
from sim.launcher.stack import LocalStack

pytestmark = pytest.mark.e2e


def health(stack: LocalStack) -> tuple[int, dict]:
    result = stack.run_app("health", "--json", timeout=60)
    return result.returncode, json.loads(result.stdout)


def by_name(report: dict) -> dict[str, dict]:
    return {check["name"]: check for check in report["checks"]}


def test_health_states(tmp_path: Path, redis_url: str):
    stack = LocalStack(
        workdir=tmp_path / "stack", tickets=5, redis_prefix=f"health-{secrets.token_hex(4)}:", sweep_interval=2.0
    )
    with stack:
        stack.start_redis(redis_url)
        stack.start_simulator()
        stack.setup_zendesk()
        stack.start_llm_simulator(["--latency-mean", "0"])
        code, report = health(stack)  # no worker yet
        assert (code, report["status"]) == (2, "unhealthy") and by_name(report)["workers"]["status"] == "unhealthy"

        # Only the I/O half of a host's two workers: redaction and sweeps have no consumer.
        stack.start_io_worker(threads=8)
        stack.wait_for_workers(1)
        code, report = health(stack)
        consumers = by_name(report)["queue consumers"]
        assert report["status"] == "degraded" and consumers["status"] == "degraded"
        assert "no worker takes intake, sweep, redact:" in consumers["detail"], consumers
        stack.start_cpu_worker(concurrency=1)
        stack.wait_for_workers(2)
        stack.start_beat()
        stack.sim("/_sim/tickets", method="POST", json={"count": 1})
        # Healthy once beat has swept and the sweep's run has ended (however long a loaded machine
        # takes to get there); the last report is the one checked below.
        for _ in range(60):
            code, report = health(stack)
            if code == 0:
                break
            time.sleep(1)
        assert (code, report["status"]) == (0, "healthy"), report
        assert by_name(report)["queue consumers"]["detail"] == "every queue has a worker"
        assert by_name(report)["zendesk auth"]["detail"] == "OAuth client 'triage-fleet', scope 'read write'"
        assert "raised by Zendesk's triggers" in by_name(report)["priorities"]["detail"]

        # An admin deletes one of the fleet's triggers by hand: degraded, naming it; setup repairs it.
        token = stack.sim(
            "/oauth/tokens",
            "POST",
            json={
                "grant_type": "client_credentials",
                "client_id": "triage-fleet",
                "client_secret": "sim-oauth-secret",
                "scope": "read write",
            },
        )
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        triggers = stack.sim("/api/v2/triggers.json", headers=headers)["triggers"]
        low = next(t for t in triggers if t["title"] == "Triage Fleet: priority low")
        import requests

        requests.delete(f"{stack.zendesk_url}/api/v2/triggers/{low['id']}.json", headers=headers, timeout=5)
        code, report = health(stack)
        assert (code, report["status"]) == (1, "degraded")
        assert "trigger 'Triage Fleet: priority low': missing" in by_name(report)["zendesk setup"]["detail"]
        stack.setup_zendesk()
        assert health(stack)[0] == 0

        # The LLM breaker opens (as after repeated failures): degraded, and it says why.
        breaker = llm_breaker(redis.Redis.from_url(stack.redis_url), f"{stack.redis_prefix}breaker:llm", 5, 600)
        breaker.open()
        code, report = health(stack)
        assert (code, report["status"]) == (1, "degraded")
        assert "open" in by_name(report)["llm breaker"]["detail"]
        breaker.close()

        # Redis gone: unhealthy.
        stack.redis_url = "redis://127.0.0.1:1/0"
        code, report = health(stack)
        assert (code, report["status"]) == (2, "unhealthy") and report["checks"][0]["name"] == "redis"
