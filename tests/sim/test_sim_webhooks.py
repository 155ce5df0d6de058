"""The Zendesk simulator's webhooks: signed as Zendesk documents (checked with the fleet's own
verifier), sent for tickets created while it runs, retried as Zendesk retries, dropped on request."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from app.intake.signature import verify
from sim.common.settings import SimConfigError
from sim.zendesk import SimConfig, running_simulator

SECRET = "sim-webhook-secret"


class Endpoint:
    """A receiver on 127.0.0.1 that records each delivery and answers the statuses scripted."""

    def __init__(self, script: list[int] | None = None) -> None:
        self.deliveries: list[tuple[dict[str, str], bytes]] = []
        self.script = list(script or [])
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.deliveries.append((dict(self.headers), body))
                status = endpoint.script.pop(0) if endpoint.script else 202
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "1")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/zendesk/webhook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def endpoint():
    made: list[Endpoint] = []

    def make(script: list[int] | None = None) -> Endpoint:
        made.append(Endpoint(script))
        return made[-1]
    yield make
    for each in made:
        each.close()


def wait_for(check, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_each_created_ticket_is_announced_with_a_valid_signature(endpoint):
    receiver = endpoint()
    with running_simulator(tickets=5, seed=3, webhook_url=receiver.url, webhook_secret=SECRET) as sim:
        ids = requests.post(f"{sim.base_url}/_sim/tickets", json={"count": 3}, timeout=5).json()["ids"]
        wait_for(lambda: len(receiver.deliveries) == 3)
    # Seeded tickets existed before: only the three created while running are announced.
    assert sorted(json.loads(body)["ticket_id"] for _, body in receiver.deliveries) == [str(i) for i in ids]
    for headers, body in receiver.deliveries:
        verify(SECRET, headers["X-Zendesk-Webhook-Signature-Timestamp"], headers["X-Zendesk-Webhook-Signature"],
               body, time.time())


def test_event_bodies_and_a_503_retried_after_its_retry_after(endpoint):
    receiver = endpoint(script=[503])
    with running_simulator(tickets=0, webhook_url=receiver.url, webhook_secret=SECRET,
                           webhook_format="event") as sim:
        requests.post(f"{sim.base_url}/_sim/tickets", json={"count": 1}, timeout=5)
        wait_for(lambda: len(receiver.deliveries) == 2)
        stats = requests.get(f"{sim.base_url}/_sim/stats", timeout=5).json()["webhooks"]
    first, second = (json.loads(body) for _, body in receiver.deliveries)
    assert first == second and first["type"] == "zen:event-type:ticket.created" and first["detail"]["id"] == "1"
    assert stats["answered_503"] == 1 and stats["delivered"] == 1


def test_a_4xx_is_not_retried_and_dropped_deliveries_never_come(endpoint):
    receiver = endpoint(script=[401])
    with running_simulator(tickets=0, webhook_url=receiver.url, webhook_secret=SECRET) as sim:
        requests.post(f"{sim.base_url}/_sim/tickets", json={"count": 1}, timeout=5)
        wait_for(lambda: requests.get(f"{sim.base_url}/_sim/stats", timeout=5).json()["webhooks"].get("gave_up"))
    assert len(receiver.deliveries) == 1
    quiet = endpoint()
    with running_simulator(tickets=0, webhook_url=quiet.url, webhook_secret=SECRET, webhook_drop=1.0) as sim:
        requests.post(f"{sim.base_url}/_sim/tickets", json={"count": 4}, timeout=5)
        stats = requests.get(f"{sim.base_url}/_sim/stats", timeout=5).json()["webhooks"]
    assert stats["dropped"] == 4 and quiet.deliveries == []


def test_a_webhook_url_without_a_secret_is_refused():
    with pytest.raises(SimConfigError, match="webhook-secret"):
        SimConfig(webhook_url="http://127.0.0.1:9/x")
