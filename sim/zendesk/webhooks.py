"""Webhooks the Zendesk simulator sends for tickets created while it runs, as Zendesk sends them.

https://developer.zendesk.com/documentation/webhooks/verifying/ : every request carries
X-Zendesk-Webhook-Signature, base64(HMAC-SHA256(secret, timestamp + body)), and
X-Zendesk-Webhook-Signature-Timestamp. https://developer.zendesk.com/documentation/webhooks/troubleshooting/ :
Zendesk waits 12 s for an answer; it retries a timeout (up to 5 times), a 409 (up to 3 times) and a
429 or 503 only when its Retry-After is under 60 s; delivery is at least once. Each attempt is
signed afresh here (the documentation is silent, and a fresh timestamp is what a receiver's
replay guard must let through). Signed independently of app.intake, so the tests check one
against the other.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import random
import time
from datetime import datetime, timezone

import aiohttp

from sim.zendesk.state import SimState
from sim.zendesk.wire import TicketRecord

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 12.0
MAX_TIMEOUT_RETRIES = 5
MAX_CONFLICT_RETRIES = 3
MAX_RETRY_AFTER = 60.0
REPEAT_DELAY = 1.5  # seconds: timestamps are to the second, so a repeat is always signed anew


def _body(record: TicketRecord, event_format: str) -> bytes:
    if event_format == "event":
        return json.dumps({"type": "zen:event-type:ticket.created", "account_id": 1,
                           "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                           "zendesk_event_version": "2022-11-06",
                           "detail": {"id": str(record.id), "status": record.status.upper()}}).encode()
    return json.dumps({"ticket_id": str(record.id)}).encode()


def _signed_headers(secret: str, body: bytes) -> dict[str, str]:
    timestamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return {"Content-Type": "application/json", "X-Zendesk-Webhook-Signature": base64.b64encode(digest).decode(),
            "X-Zendesk-Webhook-Signature-Timestamp": timestamp}


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
    """Sends each created ticket's webhook from the simulator's event loop."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        self.session: aiohttp.ClientSession | None = None
        self.rng = random.Random(f"{state.config.seed}:webhooks")
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
        self.state.on_created = self.announce

    async def stop(self) -> None:
        self.state.on_created = None
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.session is not None:
            await self.session.close()

    def announce(self, record: TicketRecord) -> None:
        config = self.state.config
        if not config.webhook_url:
            return
        if self.rng.random() < config.webhook_drop:
            self.state.webhooks["dropped"] += 1
            return
        # A repeat comes as a second delivery a moment later (as after a retry), so it carries a
        # timestamp of its own: it is a duplicate to deduplicate, not a replay to refuse.
        delays = [0.0, REPEAT_DELAY] if self.rng.random() < config.webhook_repeat else [0.0]
        for delay in delays:
            task = asyncio.get_running_loop().create_task(
                self._deliver(_body(record, config.webhook_format), delay))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _deliver(self, body: bytes, delay: float) -> None:
        assert self.session is not None
        await asyncio.sleep(delay)
        config = self.state.config
        for attempt in range(MAX_TIMEOUT_RETRIES + 1):
            status, headers = None, {}
            started = time.monotonic()
            try:
                async with self.session.post(config.webhook_url, data=body,
                                             headers=_signed_headers(config.webhook_secret, body)) as response:
                    status, headers = response.status, dict(response.headers)
            except (aiohttp.ClientError, asyncio.TimeoutError):
                pass
            self.state.webhooks[f"answered_{status or 'timeout'}"] += 1
            answer_ms = int((time.monotonic() - started) * 1000)
            self.state.webhooks["answer_ms_total"] += answer_ms  # with answered_*: the mean answer time
            self.state.webhooks["max_answer_ms"] = max(self.state.webhooks["max_answer_ms"], answer_ms)
            if status is not None and 200 <= status < 300:
                self.state.webhooks["delivered"] += 1
                return
            wait = _retry_wait(status, headers, attempt)
            if wait is None:
                self.state.webhooks["gave_up"] += 1
                return
            await asyncio.sleep(wait)
