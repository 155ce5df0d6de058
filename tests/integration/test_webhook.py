"""The webhook receiver against real Redis and the in-process Zendesk simulator: what it answers,
what it records, and that a ticket announced many ways is claimed once."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import requests
from aiohttp.test_utils import TestClient, TestServer
from kombu.exceptions import OperationalError

from app import services
from app.clients.zendesk import ZendeskError
from app.fleet import dispatch
from app.fleet.claims import Claims
from app.fleet.intake import IntakeQueue
from app.fleet.sweep import sweep
from app.intake.signature import sign, zendesk_timestamp
from app.intake.webhook import PATH, Receiver, create_app

SECRET = "webhook-test-secret"


def signed(body: bytes, secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    timestamp = zendesk_timestamp(time.time() if at is None else at)
    return {
        "X-Zendesk-Webhook-Signature": sign(secret, timestamp, body),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "Content-Type": "application/json",
    }


def trigger(ticket_id: int) -> bytes:
    return json.dumps({"ticket_id": str(ticket_id)}).encode()


class Sends:
    """Stands in for the triage.intake publish; can fail like a broker that is down."""

    def __init__(self) -> None:
        self.count = 0
        self.fail = False

    def __call__(self) -> None:
        if self.fail:
            raise OperationalError("broker unavailable")
        self.count += 1


def post_all(receiver: Receiver, requests_: list[tuple[bytes, dict[str, str]]]) -> list[tuple[int, dict]]:
    """POST each (body, headers) in order to a receiver served on a real socket."""

    async def go() -> list[tuple[int, dict]]:
        async with TestClient(TestServer(create_app(receiver, SECRET))) as client:
            answers = []
            for body, headers in requests_:
                response = await client.post(PATH, data=body, headers=headers)
                answers.append((response.status, await response.json()))
            return answers

    return asyncio.run(go())


@pytest.fixture
def intake(fleet_env: Any) -> tuple[Receiver, Sends]:
    sends = Sends()
    return Receiver(services.intake_queue(), services.claims(), sends), sends


def test_a_signed_delivery_is_accepted_recorded_and_sent_once(intake):
    receiver, sends = intake
    [(status, body)] = post_all(receiver, [(trigger(7), signed(trigger(7)))])
    assert (status, body) == (202, {"status": "accepted", "ticket_id": 7})
    assert sends.count == 1 and services.intake_queue().take(10) == [7]
    assert services.intake_queue().stats()["accepted"] == 1


def test_a_ticket_announced_three_times_waits_once(intake):
    receiver, sends = intake
    deliveries = [(trigger(9), signed(trigger(9), at=time.time() - age)) for age in (2, 1, 0)]
    answers = post_all(receiver, deliveries)
    assert [status for status, _ in answers] == [202, 202, 202]
    assert [body["status"] for _, body in answers] == ["accepted", "already_waiting", "already_waiting"]
    assert services.intake_queue().take(10) == [9]


def test_a_repeated_delivery_gets_200_starts_nothing_and_is_counted(intake):
    receiver, sends = intake
    headers = signed(trigger(11))
    answers = post_all(receiver, [(trigger(11), headers), (trigger(11), headers), (trigger(11), headers)])
    assert answers[0] == (202, {"status": "accepted", "ticket_id": 11})
    assert answers[1:] == [(200, {"status": "duplicate", "ticket_id": 11})] * 2
    assert sends.count == 1 and services.intake_queue().take(10) == [11]
    assert services.intake_queue().stats()["duplicate"] == 2


def test_a_delivery_refused_for_an_outage_is_taken_when_zendesk_sends_it_again(intake):
    receiver, sends = intake
    headers = signed(trigger(12))
    sends.fail = True
    [(status, body)] = post_all(receiver, [(trigger(12), headers)])
    assert status == 503 and body["status"] == "unavailable"
    sends.fail = False
    [(status, body)] = post_all(receiver, [(trigger(12), headers)])  # the very same signed request
    assert status == 202 and sends.count == 1


def test_a_ticket_already_done_or_claimed_is_answered_2xx_and_not_sent(intake):
    receiver, sends = intake
    services.claims().finish(21, written=True)
    services.claims().take(22)
    answers = post_all(receiver, [(trigger(21), signed(trigger(21))), (trigger(22), signed(trigger(22)))])
    assert [a[1]["status"] for a in answers] == ["already_handled", "already_handled"]
    assert [a[0] for a in answers] == [200, 200]
    assert sends.count == 0 and services.intake_queue().waiting() == 0


@pytest.mark.parametrize(
    "case",
    [
        "no signature",
        "wrong secret",
        "stale timestamp",
        "future timestamp",
        "hex signature",
        "not json",
        "no ticket id",
        "over 1 MB",
    ],
)
def test_bad_deliveries_get_a_clear_4xx_and_start_nothing(intake, case):
    receiver, sends = intake
    body = trigger(31)
    headers = signed(body)
    if case == "no signature":
        headers = {"Content-Type": "application/json"}
    elif case == "wrong secret":
        headers = signed(body, secret="not-the-secret")
    elif case == "stale timestamp":
        headers = signed(body, at=time.time() - 301)
    elif case == "future timestamp":
        headers = signed(body, at=time.time() + 400)
    elif case == "hex signature":
        import hashlib
        import hmac

        headers["X-Zendesk-Webhook-Signature"] = hmac.new(
            SECRET.encode(), headers["X-Zendesk-Webhook-Signature-Timestamp"].encode() + body, hashlib.sha256
        ).hexdigest()
    elif case == "not json":
        body = b"ticket_id=31"
        headers = signed(body)
    elif case == "no ticket id":
        body = b'{"ticket": {"id": 31}}'
        headers = signed(body)
    elif case == "over 1 MB":
        body = json.dumps({"ticket_id": "31", "padding": "x" * (1024 * 1024)}).encode()
        headers = signed(body)

    async def go() -> tuple[int, str]:
        async with TestClient(TestServer(create_app(receiver, SECRET))) as client:
            response = await client.post(PATH, data=body, headers=headers)
            return response.status, await response.text()

    status, text = asyncio.run(go())
    expected = {"not json": 400, "no ticket id": 400, "over 1 MB": 413}.get(case, 401)
    assert status == expected, text
    if expected != 413:
        assert json.loads(text)["detail"]  # says why
    assert sends.count == 0 and services.intake_queue().waiting() == 0


def test_redis_down_answers_503_and_health_says_so(fleet_env):
    import redis

    dead = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    receiver = Receiver(IntakeQueue(dead), Claims(dead, 60, 60), Sends())

    async def go() -> tuple[int, dict, str | None, int]:
        async with TestClient(TestServer(create_app(receiver, SECRET))) as client:
            response = await client.post(PATH, data=trigger(5), headers=signed(trigger(5)))
            health = await client.get("/healthz")
            return response.status, await response.json(), response.headers.get("Retry-After"), health.status

    status, body, retry_after, health = asyncio.run(go())
    assert (status, body["status"], health) == (503, "unavailable", 503)
    assert retry_after is not None and float(retry_after) < 60  # Zendesk retries only under 60 s


def create_ticket(sim, status="new") -> int:
    body = {
        "tickets": [{"subject": "Cannot log in", "description": "The login page says error 500.", "status": status}]
    }
    return requests.post(f"{sim.base_url}/_sim/tickets", json=body, timeout=5).json()["ids"][0]


def test_a_webhook_and_a_sweep_racing_for_one_ticket_dispatch_it_once(fleet_env, monkeypatch):
    dispatched: list[list[int]] = []
    monkeypatch.setattr(
        dispatch,
        "dispatch_run",
        lambda fleet, outcome, bulk=None, queue=None: dispatched.append([t.ticket_id for t in outcome.inputs]),
    )
    ticket_id = create_ticket(fleet_env)
    services.intake_queue().add(ticket_id)
    beat = sweep(services.zendesk(), services.claims(), limit=1000, ticket_ids=[ticket_id])  # the sweep wins
    announced = dispatch.start_announced_run(services.fleet())
    assert [t.ticket_id for t in beat.inputs] == [ticket_id]
    assert announced is not None and announced.inputs == [] and announced.skipped_done_or_claimed == 1
    assert dispatched == [[]]  # the webhook's run found it claimed: nothing to triage


def test_announced_tickets_that_are_solved_or_gone_are_recorded_and_skipped(fleet_env, monkeypatch):
    dispatched: list[tuple[list[int], bool | None, str | None]] = []
    monkeypatch.setattr(
        dispatch,
        "dispatch_run",
        lambda fleet, outcome, bulk=None, queue=None: dispatched.append(
            ([t.ticket_id for t in outcome.inputs], bulk, queue)
        ),
    )
    fresh, solved = create_ticket(fleet_env), create_ticket(fleet_env, status="solved")
    for ticket_id in (fresh, solved, 999_999):
        services.intake_queue().add(ticket_id)
    outcome = dispatch.start_announced_run(services.fleet())
    assert outcome is not None and outcome.source == "webhook"
    # Written through update_many whatever the size, on the intake queue (served beside a backlog).
    assert dispatched == [([fresh], True, "intake")]
    stats = services.intake_queue().stats()
    assert stats["claimed"] == 1 and stats["skipped_not_found"] == 1
    assert stats["skipped_solved_closed_or_tagged"] == 1
    assert services.intake_queue().waiting() == 0


def test_tickets_go_back_to_wait_when_zendesk_cannot_be_read(fleet_env, monkeypatch):
    def unreadable(*args, **kwargs):
        raise ZendeskError("503 from Zendesk")

    monkeypatch.setattr(dispatch, "sweep", unreadable)
    services.intake_queue().add(41)
    with pytest.raises(ZendeskError):
        dispatch.start_announced_run(services.fleet())
    assert services.intake_queue().take(10) == [41]


def test_health_shows_the_intake_and_says_when_tickets_wait_for_no_worker(fleet_env):
    from app.ops.health import DEGRADED, HEALTHY, intake_check

    client, prefix = services.redis_client(), services.intake_queue().prefix
    services.intake_queue().count("accepted", 3)
    assert intake_check(services.intake_queue(), time.time()).status == HEALTHY
    client.zadd(f"{prefix}intake:pending", {"77": time.time() - 600})
    check = intake_check(services.intake_queue(), time.time())
    assert check.status == DEGRADED and "1 waiting (oldest 600s)" in check.detail and "accepted 3" in check.detail
