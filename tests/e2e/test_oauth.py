"""End to end on today's Zendesk (bench/oauth_run.py, smaller): OAuth only, tokens that expire and
are revoked mid-run, agents editing; then a client secret that stops working while a run is in
flight. Real workers, Redis and simulators."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from sim.launcher.stack import ROOT

sys.path.insert(0, str(ROOT / "bench"))

from oauth_run import oauth_run, refused_client

pytestmark = pytest.mark.e2e


def test_expiring_and_revoked_tokens_lose_nothing_and_cost_a_token_per_lifetime(tmp_path: Path, redis_url: str):
    # Tokens live 10 s; revoked 15 s in, new tickets for 15 s more: a few lifetimes, one revocation.
    figures = oauth_run(tickets=60, token_ttl=10.0, redis_url=redis_url, workdir=tmp_path, phase_seconds=15.0)
    print(f"\n{figures}")
    assert figures["run_exit"] == 0, figures.get("run_output")
    assert figures["written"] == figures["eligible"] and figures["written_twice"] == 0
    assert figures["failed"] == 0 and figures["dead_letters"] == 0
    assert figures["revoked_live_tokens"] >= 1 and figures["responses_401"] >= 1
    # About one token per 0.75 x lifetime for the whole fleet, not one per process or request.
    assert figures["fleet_token_requests"] <= figures["expected_token_requests"] + 3
    assert figures["api_token_requests"] == 0
    assert figures["agent_priorities_lowered"] == 0 and figures["hand_priorities_overridden"] == 0


def test_a_refused_client_holds_the_tickets_says_why_once_and_loses_none(tmp_path: Path, redis_url: str):
    figures = refused_client(tickets=40, redis_url=redis_url, workdir=tmp_path)
    print(f"\n{figures}")
    assert figures["run_exit"] == 0, figures.get("run_output")
    assert figures["written_while_refused"] <= 2  # at most what was in flight when it changed
    assert figures["summaries_while_refused"] == 0  # the run waited, it did not end
    assert figures["health_exit"] == 2 and "Traceback" not in figures["health_output"] + figures["health_stderr"]
    assert any(
        "the OAuth client 'triage-fleet' was refused (HTTP 401 invalid_client" in line
        for line in figures["health_fault_lines"]
    )
    breaker_alerts = [text for text in figures["alerts"] if "circuit breaker" in text]
    assert len(breaker_alerts) == 1 and "invalid_client" in breaker_alerts[0]
    assert figures["written"] == figures["eligible"] and figures["written_twice"] == 0
    assert figures["failed"] == 0 and figures["dead_letters"] == 0
