"""Webhook deliveries of the Zendesk simulator, sent as Zendesk sends them.

Two things call a webhook: a trigger's ``notification_webhook`` action (``sim.zendesk.triggers``)
and a Zendesk event it subscribes to (``zen:event-type:ticket.created`` for each ticket created
while the simulator runs). Only active webhooks are called, each at its endpoint with its
http_method, signed with its own secret.

https://developer.zendesk.com/documentation/webhooks/verifying/ : every request carries
X-Zendesk-Webhook-Signature, base64(HMAC-SHA256(secret, timestamp + body)), and
X-Zendesk-Webhook-Signature-Timestamp; a bodyless request signs the empty body.
https://developer.zendesk.com/documentation/webhooks/anatomy-of-a-webhook-request/ : also
x-zendesk-account-id, x-zendesk-webhook-id and x-zendesk-webhook-invocation-id.
https://developer.zendesk.com/documentation/webhooks/troubleshooting/ : Zendesk waits 12 s for an
answer; it retries a timeout (up to 5 times), a 409 (up to 3 times) and a 429 or 503 only when its
Retry-After is under 60 s; delivery is at least once. Each attempt is signed afresh here (the
documentation is silent, and a fresh timestamp is what a receiver's replay guard must let
through); the attempts of one invocation share its invocation id. Signed independently of
app.intake, so the tests check one against the other.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import aiohttp

from sim.zendesk.webhooks_api import Webhook
from sim.zendesk.wire import TicketRecord

if TYPE_CHECKING:
    from sim.zendesk.state import SimState

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 12.0
MAX_TIMEOUT_RETRIES = 5
MAX_CONFLICT_RETRIES = 3
MAX_RETRY_AFTER = 60.0
REPEAT_DELAY = 1.5  # seconds: timestamps are to the second, so a repeat is always signed anew
ACCOUNT_ID = "1"
CONTENT_TYPES = {
    "json": "application/json",
    "xml": "application/xml",
    "form_encoded": "application/x-www-form-urlencoded",
}
BODYLESS_METHODS = ("GET", "DELETE")


def ticket_created_event(record: TicketRecord) -> bytes:
    """The body of a zen:event-type:ticket.created event."""
    return json.dumps(
        {
            "type": "zen:event-type:ticket.created",
            "account_id": int(ACCOUNT_ID),
            "id": secrets.token_hex(16),
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "zendesk_event_version": "2022-11-06",
            "subject": f"zen:ticket:{record.id}",
            "detail": {"id": str(record.id), "status": record.status.upper()},
        }
    ).encode()


def signed_headers(webhook: Webhook, body: bytes, invocation_id: str) -> dict[str, str]:
    """The headers of one attempt, signed now with the webhook's current secret."""
    timestamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac.new(webhook.signing_secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    headers = {
        "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
        "X-Zendesk-Webhook-Signature-Timestamp": timestamp,
        "x-zendesk-account-id": ACCOUNT_ID,
        "x-zendesk-webhook-id": webhook.id,
        "x-zendesk-webhook-invocation-id": invocation_id,
    }
    if body:
        headers["Content-Type"] = CONTENT_TYPES[webhook.request_format]
    return headers


def _retry_wait(status: int | None, headers: dict[str, str], attempt: int) -> float | None:
    """Seconds before Zendesk tries again, or None when it gives up."""
    if status is None:  # timeout or connection failure
        return 1.0 if attempt < MAX_TIMEOUT_RETRIES else None
    if status == 409:
        return 1.0 if attempt < MAX_CONFLICT_RETRIES else None
    if status in (429, 503):
        try:
            wait = float(headers.get("Retry-After", ""))
        except ValueError:
            return None
        return wait if wait < MAX_RETRY_AFTER and attempt < MAX_TIMEOUT_RETRIES else None
    return None


class WebhookSender:
    """Sends webhooks from the simulator's event loop; ``state.webhook_outbox`` while running."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.session: aiohttp.ClientSession | None = None
        self.rng = random.Random(f"{state.config.seed}:webhooks")
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
        self.state.webhook_outbox = self.send

    async def stop(self) -> None:
        self.state.webhook_outbox = None
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    def send(self, webhook: Webhook, body: bytes) -> None:
        """Deliver ``body`` to an active webhook: maybe dropped, maybe twice (--webhook-drop,
        --webhook-repeat)."""
        config, counts = self.state.config, self.state.webhooks
        if webhook.status != "active":
            counts["skipped_inactive"] += 1
            return
        if self.rng.random() < config.webhook_drop:
            counts["dropped"] += 1
            return
        body = b"" if webhook.http_method in BODYLESS_METHODS else body
        invocation_id = str(secrets.randbelow(10**10))
        # A repeat comes as a second delivery a moment later (as after a retry), so it carries a
        # timestamp of its own: it is a duplicate to deduplicate, not a replay to refuse.
        delays = [0.0, REPEAT_DELAY] if self.rng.random() < config.webhook_repeat else [0.0]
        for delay in delays:
            task = asyncio.get_running_loop().create_task(self._deliver(webhook, body, invocation_id, delay))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _deliver(self, webhook: Webhook, body: bytes, invocation_id: str, delay: float) -> None:
        assert self.session is not None
        await asyncio.sleep(delay)
        counts = self.state.webhooks
        for attempt in range(MAX_TIMEOUT_RETRIES + 1):
            status, headers = None, {}
            started = time.monotonic()
            try:
                async with self.session.request(
                    webhook.http_method,
                    webhook.endpoint,
                    data=body or None,
                    headers=signed_headers(webhook, body, invocation_id),
                ) as response:
                    status, headers = response.status, dict(response.headers)
            except (TimeoutError, aiohttp.ClientError):
                pass
            counts[f"answered_{status or 'timeout'}"] += 1
            answer_ms = int((time.monotonic() - started) * 1000)
            counts["answer_ms_total"] += answer_ms  # with answered_*: the mean answer time
            counts["max_answer_ms"] = max(counts["max_answer_ms"], answer_ms)
            if status is not None and 200 <= status < 300:
                counts["delivered"] += 1
                return
            wait = _retry_wait(status, headers, attempt)
            if wait is None:
                counts["gave_up"] += 1
                return
            await asyncio.sleep(wait)
