"""The Zendesk simulator's webhook deliveries: webhooks and triggers made through the API, bodies
rendered from the ticket, signed with each webhook's own secret (checked with the fleet's own
verifier), retried as Zendesk retries, repeated and dropped on request, and event subscriptions."""

from __future__ import annotations

import json
import time

import pytest
import requests

from app.intake.signature import SignatureError
from sim.zendesk import SimConfig, parse_args, running_simulator
from tests.conftest import check_signed

AUTH = ("triage-bot@example.com/token", "sim-api-token")
TEMPLATE = (
    '{"ticket_id": "{{ticket.id}}", "status": "{{ ticket.status }}", "priority": "{{ticket.priority}}", '
    '"unknown": "{{ticket.no_such_thing}}"}'
)


def wait_for(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def api(sim, method: str, path: str, **json_body) -> requests.Response:
    return requests.request(method, f"{sim.base_url}/api/v2/{path}", auth=AUTH, json=json_body or None, timeout=5)


def make_webhook(sim, url: str, **fields) -> tuple[str, str]:
    """Create a webhook through the API; its id and its signing secret."""
    webhook = {
        "name": "Fleet intake",
        "endpoint": url,
        "http_method": "POST",
        "request_format": "json",
        "status": "active",
        "subscriptions": ["conditional_ticket_events"],
        **fields,
    }
    made = api(sim, "POST", "webhooks", webhook=webhook)
    assert made.status_code == 201, made.text
    webhook_id = made.json()["webhook"]["id"]
    return webhook_id, secret_of(sim, webhook_id)


def secret_of(sim, webhook_id: str) -> str:
    return api(sim, "GET", f"webhooks/{webhook_id}/signing_secret").json()["signing_secret"]["secret"]


def make_trigger(sim, title: str, conditions: dict, actions: list[dict], path: str = "triggers") -> None:
    """Create a trigger in the default category through the API."""
    trigger = {"title": title, "category_id": "10001", "conditions": conditions, "actions": actions}
    made = api(sim, "POST", path, trigger=trigger)
    assert made.status_code == 201, made.text


def announce_creations(sim, webhook_id: str, body: str = '{"ticket_id": "{{ticket.id}}"}') -> None:
    """The trigger the fleet's setup makes: every created ticket is announced to the webhook."""
    make_trigger(
        sim,
        "Announce new tickets",
        {"all": [{"field": "update_type", "operator": "is", "value": "Create"}], "any": []},
        [{"field": "notification_webhook", "value": [webhook_id, body]}],
        path="triggers.json",
    )


def create_tickets(sim, count: int) -> list[int]:
    return requests.post(f"{sim.base_url}/_sim/tickets", json={"count": count}, timeout=5).json()["ids"]


def hook_stats(sim) -> dict:
    return requests.get(f"{sim.base_url}/_sim/stats", timeout=5).json()["webhooks"]


def test_a_trigger_calls_its_webhook_signed_with_that_webhooks_secret(endpoint):
    receiver = endpoint()
    with running_simulator(tickets=5, seed=3) as sim:
        webhook_id, secret = make_webhook(sim, receiver.url)
        other_id, other_secret = make_webhook(sim, receiver.url, name="Unused")
        announce_creations(sim, webhook_id, TEMPLATE)
        ids = create_tickets(sim, 2)
        urgent = requests.post(
            f"{sim.base_url}/_sim/tickets",
            json={"tickets": [{"subject": "Down", "description": "All down", "priority": "urgent", "status": "open"}]},
        ).json()["ids"]
        wait_for(lambda: len(receiver.deliveries) == 3)
        # An update is no creation: no more deliveries.
        api(sim, "PUT", f"tickets/{ids[0]}.json", ticket={"additional_tags": ["x"]})
        time.sleep(0.3)
    assert len(receiver.deliveries) == 3
    # Seeded tickets existed before: only the three created while running are announced.
    bodies = sorted(receiver.bodies(), key=lambda body: int(body["ticket_id"]))
    assert [body["ticket_id"] for body in bodies] == [str(i) for i in ids + urgent]
    assert bodies[-1] == {"ticket_id": str(urgent[0]), "status": "Open", "priority": "Urgent", "unknown": ""}
    assert bodies[0]["status"] == "New"
    invocations = set()
    for method, headers, body in receiver.deliveries:
        assert method == "POST" and headers["Content-Type"] == "application/json"
        assert headers["x-zendesk-webhook-id"] == webhook_id
        invocations.add(headers["x-zendesk-webhook-invocation-id"])
        check_signed(secret, headers, body)
        with pytest.raises(SignatureError):
            check_signed(other_secret, headers, body)  # each webhook signs with its own secret
    assert len(invocations) == 3 and other_id != webhook_id


def test_event_subscriptions_and_a_503_retried_after_its_retry_after(endpoint):
    receiver = endpoint(script=[503])
    with running_simulator(tickets=0) as sim:
        webhook_id, secret = make_webhook(sim, receiver.url, subscriptions=["zen:event-type:ticket.created"])
        make_webhook(sim, receiver.url, subscriptions=["zen:event-type:ticket.status_changed"])  # never sent here
        create_tickets(sim, 1)
        wait_for(lambda: len(receiver.deliveries) == 2)
        stats = hook_stats(sim)
    (_, first_headers, first), (_, second_headers, second) = receiver.deliveries
    assert json.loads(first) == json.loads(second)
    event = json.loads(first)
    assert event["type"] == "zen:event-type:ticket.created" and event["detail"]["id"] == "1"
    assert event["detail"]["status"] == "NEW"
    # The retry is the same invocation, signed anew.
    assert first_headers["x-zendesk-webhook-invocation-id"] == second_headers["x-zendesk-webhook-invocation-id"]
    check_signed(secret, second_headers, second)
    assert stats["answered_503"] == 1 and stats["delivered"] == 1


def test_a_4xx_is_not_retried_dropped_deliveries_never_come_and_repeats_come_twice(endpoint):
    receiver = endpoint(script=[401])
    with running_simulator(tickets=0) as sim:
        webhook_id, _ = make_webhook(sim, receiver.url)
        announce_creations(sim, webhook_id)
        create_tickets(sim, 1)
        wait_for(lambda: hook_stats(sim).get("gave_up"))
    assert len(receiver.deliveries) == 1

    quiet = endpoint()
    with running_simulator(tickets=0, webhook_drop=1.0) as sim:
        webhook_id, _ = make_webhook(sim, quiet.url)
        announce_creations(sim, webhook_id)
        make_webhook(sim, quiet.url, subscriptions=["zen:event-type:ticket.created"])
        create_tickets(sim, 4)
        stats = hook_stats(sim)
    assert stats["dropped"] == 8 and quiet.deliveries == []  # trigger and event deliveries alike

    twice = endpoint()
    with running_simulator(tickets=0, webhook_repeat=1.0) as sim:
        webhook_id, secret = make_webhook(sim, twice.url)
        announce_creations(sim, webhook_id)
        create_tickets(sim, 2)
        wait_for(lambda: len(twice.deliveries) == 4, timeout=15)
    assert sorted(body["ticket_id"] for body in twice.bodies()) == ["1", "1", "2", "2"]
    by_invocation: dict[str, list[str]] = {}
    for _, headers, body in twice.deliveries:
        check_signed(secret, headers, body)
        by_invocation.setdefault(headers["x-zendesk-webhook-invocation-id"], []).append(
            headers["X-Zendesk-Webhook-Signature-Timestamp"]
        )
    # A repeat is the same invocation a moment later, with a timestamp of its own.
    assert len(by_invocation) == 2 and all(len(set(stamps)) == 2 for stamps in by_invocation.values())


def test_inactive_webhooks_are_not_called_and_a_reset_secret_signs_what_follows(endpoint):
    receiver = endpoint()
    with running_simulator(tickets=0) as sim:
        webhook_id, old_secret = make_webhook(sim, receiver.url)
        announce_creations(sim, webhook_id)
        assert api(sim, "PATCH", f"webhooks/{webhook_id}", webhook={"status": "inactive"}).status_code == 204
        create_tickets(sim, 1)
        assert hook_stats(sim)["skipped_inactive"] == 1
        assert api(sim, "PATCH", f"webhooks/{webhook_id}", webhook={"status": "active"}).status_code == 204
        new_secret = api(sim, "POST", f"webhooks/{webhook_id}/signing_secret").json()["signing_secret"]["secret"]
        create_tickets(sim, 1)
        wait_for(lambda: len(receiver.deliveries) == 1)
        # A deleted webhook is no longer called by the trigger that named it.
        assert api(sim, "DELETE", f"webhooks/{webhook_id}").status_code == 204
        create_tickets(sim, 1)
        assert hook_stats(sim)["missing_webhook"] == 1
    ((_, headers, body),) = receiver.deliveries
    assert json.loads(body) == {"ticket_id": "2"}
    check_signed(new_secret, headers, body)
    with pytest.raises(SignatureError):
        check_signed(old_secret, headers, body)


def test_the_webhooks_method_and_format_are_used(endpoint):
    receiver = endpoint()
    with running_simulator(tickets=0) as sim:
        put_id, put_secret = make_webhook(sim, receiver.url, http_method="PUT", request_format="form_encoded")
        get_id, get_secret = make_webhook(sim, receiver.url, http_method="GET")
        announce_creations(sim, put_id, "ticket_id={{ticket.id}}")
        announce_creations(sim, get_id, "ignored")
        create_tickets(sim, 1)
        wait_for(lambda: len(receiver.deliveries) == 2)
    by_method = {method: (headers, body) for method, headers, body in receiver.deliveries}
    headers, body = by_method["PUT"]
    assert body == b"ticket_id=1" and headers["Content-Type"] == "application/x-www-form-urlencoded"
    check_signed(put_secret, headers, body)
    headers, body = by_method["GET"]
    assert body == b""  # bodyless: the signature covers the empty body
    check_signed(get_secret, headers, body)


def test_a_trigger_on_api_updates_calls_the_webhook_with_the_ticket_as_saved(endpoint):
    receiver = endpoint()
    with running_simulator(tickets=3, seed=4) as sim:
        webhook_id, _ = make_webhook(sim, receiver.url)
        # A priority trigger first, then the notifier: the body shows what every trigger did.
        make_trigger(
            sim,
            "Escalate",
            {"all": [{"field": "current_tags", "operator": "includes", "value": "escalate"}]},
            [{"field": "priority", "value": "urgent"}],
        )
        make_trigger(
            sim,
            "Tell the fleet",
            {"all": [{"field": "current_via_id", "operator": "is", "value": "5"}]},
            [{"field": "notification_webhook", "value": [webhook_id, TEMPLATE]}],
        )
        api(sim, "PUT", "tickets/2.json", ticket={"additional_tags": ["escalate"], "status": "pending"})
        wait_for(lambda: len(receiver.deliveries) == 1)
    assert receiver.bodies() == [{"ticket_id": "2", "status": "Pending", "priority": "Urgent", "unknown": ""}]


def test_the_old_webhook_options_are_gone():
    with pytest.raises(TypeError):
        SimConfig(webhook_url="http://127.0.0.1:9/x")  # type: ignore[call-arg]
    for option in ("--webhook-url", "--webhook-secret", "--webhook-format"):
        with pytest.raises(SystemExit):
            parse_args([option, "x"])
