"""End to end: the simulator sends signed webhooks (some twice) for tickets created while the fleet
runs; `python -m app webhook` takes them; a real worker triages each ticket once, while a sweep races
the webhooks for the same tickets."""

from __future__ import annotations

import subprocess
import sys

import pytest

from sim.launcher.stack import ROOT, LocalStack, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture
def stack(new_stack):
    return new_stack("webhooks", tickets=0, sim_options=["--index-lag", "2"])


def test_webhook_tickets_are_triaged_once_while_a_sweep_races_them(stack: LocalStack):
    stack.enable_webhooks("--webhook-repeat", "0.5", form="event")
    stack.start_simulator()
    stack.start_webhook()
    stack.start_worker("alpha", autoscale="4,2")
    stack.wait_for_workers(1)

    first = stack.sim("/_sim/tickets", "POST", json={"count": 20})["ids"]
    # A sweep of the same tickets while their webhooks come in (by id: the index lags).
    race = subprocess.run(
        [sys.executable, "-m", "app", "run", "--ticket-id", str(first[0])],
        cwd=ROOT,
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert race.returncode == 0, race.stderr
    second = stack.sim("/_sim/tickets", "POST", json={"count": 20})["ids"]
    wait_until(lambda: stack.stats()["tickets_ai_processed"] == 40, 180, "40 webhook tickets triaged")

    stats = stack.stats()
    webhooks = stats["webhooks"]
    print(f"\nwebhooks: {webhooks}; intake: {stack.redis().hgetall(stack.redis_prefix + 'intake:stats')}")
    assert webhooks["delivered"] > 40  # every ticket announced, half of them twice
    assert webhooks.get("gave_up", 0) == 0
    assert stats["max_ai_notes_per_ticket"] == 1 and stats["tickets_with_multiple_notes"] == 0
    wait_until(lambda: sum(run["total"] for run in stack.summaries(100)) >= 40, 120, "every run summarized")
    runs = stack.summaries(100)
    triaged = [r["ticket_id"] for run in runs for r in run["results"] if r["status"] in ("success", "fallback")]
    assert sorted(triaged) == sorted(first + second)  # each once, across webhook runs and the sweep
    assert {run["source"] for run in runs} <= {"webhook", "sweep"} and "webhook" in {run["source"] for run in runs}
    # The receiver's lines carry ids and outcomes only.
    lines = (stack.workdir / "results" / "triage.log").read_text()
    assert "webhook for ticket" in lines
    for ticket_id in first[:3]:
        subject = stack.sim(f"/_sim/tickets/{ticket_id}")["ticket"]["subject"]
        assert subject not in lines


def test_a_receiver_whose_broker_is_down_answers_503_and_keeps_the_ticket_waiting(stack: LocalStack):
    import requests

    from app.intake.signature import sign, zendesk_timestamp
    from sim.launcher.stack import free_port

    stack.enable_webhooks()
    stack.start_simulator()
    stack.extra_env["BROKER_URL"] = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    stack.start_webhook()
    body = b'{"ticket_id": "4"}'
    timestamp = zendesk_timestamp(__import__("time").time())
    headers = {
        "X-Zendesk-Webhook-Signature": sign(stack.extra_env["ZENDESK_WEBHOOK_SECRET"], timestamp, body),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "Content-Type": "application/json",
    }
    answer = requests.post(f"{stack.webhook_url}/zendesk/webhook", data=body, headers=headers, timeout=12)
    assert answer.status_code == 503 and float(answer.headers["Retry-After"]) < 60
    # Recorded before the publish failed: the next delivery's intake (or beat's backstop) takes it.
    assert stack.redis().zscore(f"{stack.redis_prefix}intake:pending", "4") is not None


def test_the_sweep_finds_the_tickets_whose_webhooks_zendesk_dropped(stack: LocalStack):
    """Zendesk pauses a failing webhook and drops what it could not deliver: beat's sweep is the net."""
    stack.enable_webhooks("--webhook-drop", "0.5")
    stack.start_simulator()
    stack.start_webhook()
    stack.start_worker("alpha", autoscale="4,2")
    stack.start_beat()
    stack.wait_for_workers(1)
    ids = stack.sim("/_sim/tickets", "POST", json={"count": 30})["ids"]
    wait_until(lambda: stack.stats()["tickets_ai_processed"] == 30, 180, "30 tickets triaged")
    wait_until(lambda: sum(run["total"] for run in stack.summaries(100)) >= 30, 120, "every run summarized")

    stats = stack.stats()
    dropped, delivered = stats["webhooks"].get("dropped", 0), stats["webhooks"].get("delivered", 0)
    runs = stack.summaries(100)
    by_source = {
        source: sorted(
            r["ticket_id"]
            for run in runs
            if run["source"] == source
            for r in run["results"]
            if r["status"] in ("success", "fallback")
        )
        for source in ("webhook", "sweep")
    }
    print(
        f"\n{dropped} webhooks dropped, {delivered} delivered; by webhook {len(by_source['webhook'])}, "
        f"by sweep {len(by_source['sweep'])}"
    )
    assert dropped > 0 and delivered > 0
    assert sorted(by_source["webhook"] + by_source["sweep"]) == sorted(ids)  # each once, one way or the other
    assert len(by_source["sweep"]) >= dropped  # the dropped ones came in through the sweep
    assert stats["max_ai_notes_per_ticket"] == 1
