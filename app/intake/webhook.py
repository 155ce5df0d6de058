"""`python -m app webhook`: the HTTP receiver for Zendesk's signed webhooks.

A delivery is checked (size, signature, timestamp, repeat, body), its ticket id recorded in Redis
(app.fleet.intake) and one triage.intake task sent; a worker claims and dispatches it as a sweep
does. Nothing slow happens in the request: no Zendesk call, no triage, so the answer comes in
milliseconds (Zendesk waits 12 s, then retries). Answers:

- 202 accepted (also a ticket already waiting); 200 for a ticket already done, claimed or
  dead-lettered, for an event that asks for nothing, and for a repeat of a delivery already taken
  (same signature: Zendesk delivers at least once, and pauses a webhook whose deliveries fail, so
  a harmless repeat must not look like a failure);
- 401 no signature, a wrong one, or a stale timestamp;
- 400 a body that is not JSON or names no ticket; 413 a body over 1 MB;
- 503 with Retry-After when Redis or the broker cannot take it, so Zendesk delivers it again.

aiohttp serves it (already a dependency, a production server); the Redis and Celery calls are
blocking, so they run on a small thread pool beside the event loop. Log lines carry ticket ids and
reasons, never a body.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import redis
from aiohttp import web
from kombu.exceptions import OperationalError

from app.fleet.claims import Claims
from app.fleet.intake import IntakeQueue
from app.intake.deliveries import MAX_BODY_BYTES, BadDelivery, parse_delivery
from app.intake.signature import REPLAY_MEMORY, SIGNATURE_HEADER, TIMESTAMP_HEADER, SignatureError, verify

log = logging.getLogger(__name__)

PATH = "/zendesk/webhook"
HEALTH_PATH = "/healthz"
RETRY_AFTER_SECONDS = "10"  # Zendesk retries a 503 only when Retry-After is under 60 s
# Failures that mean "not now": Redis or the broker unreachable. Zendesk is asked to come back.
UNAVAILABLE = (redis.RedisError, OperationalError, ConnectionError, TimeoutError)


@dataclass(frozen=True)
class Answer:
    status: int
    outcome: str  # counted in intake:stats and shown in the body

    def response(self, ticket_id: int | None = None, detail: str | None = None) -> web.Response:
        body: dict[str, object] = {"status": self.outcome}
        if ticket_id is not None:
            body["ticket_id"] = ticket_id
        if detail:
            body["detail"] = detail
        headers = {"Retry-After": RETRY_AFTER_SECONDS} if self.status == 503 else None
        return web.json_response(body, status=self.status, headers=headers)


ACCEPTED = Answer(202, "accepted")
ALREADY_WAITING = Answer(202, "already_waiting")
ALREADY_HANDLED = Answer(200, "already_handled")
IGNORED = Answer(200, "ignored")
REFUSED_SIGNATURE = Answer(401, "refused_signature")
DUPLICATE = Answer(200, "duplicate")
BAD_BODY = Answer(400, "refused_body")
UNAVAILABLE_ANSWER = Answer(503, "unavailable")


class Receiver:
    """What the receiver does with a verified delivery: blocking Redis and broker calls."""

    def __init__(self, intake: IntakeQueue, claims: Claims, send_intake: Callable[[], None]) -> None:
        self.intake = intake
        self.claims = claims
        self.send_intake = send_intake

    def accept(self, signature: str, ticket_id: int) -> Answer:
        """Record the ticket and send one triage.intake, or say why not. Raises UNAVAILABLE errors
        (the delivery is then forgotten, so Zendesk's retry of it is taken)."""
        # Zendesk delivers at least once, a repeat with the same signature.
        if not self.intake.first_sight(signature, REPLAY_MEMORY):
            return DUPLICATE  # the ticket is already waiting, claimed or done: nothing to start
        try:
            if self.claims.unavailable([ticket_id]):
                return ALREADY_HANDLED
            newly = self.intake.add(ticket_id)
            # Sent for a ticket already waiting too: if the send that went with its first
            # announcement failed, this one takes it.
            self.send_intake()
        except BaseException:
            self.intake.forget_sight(signature)  # Zendesk's retry of it must then be taken
            raise
        return ACCEPTED if newly else ALREADY_WAITING

    def count(self, outcome: str) -> None:
        try:
            self.intake.count(outcome)
        except UNAVAILABLE:
            pass  # counting is best effort; the answer already says what happened

    def healthy(self) -> bool:
        try:
            return bool(self.intake.redis.ping())
        except UNAVAILABLE:
            return False


def create_app(
    receiver: Receiver, secret: str, clock: Callable[[], float] = time.time, threads: int = 16
) -> web.Application:
    """The receiver's aiohttp application (also what the tests drive)."""
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="webhook")

    async def blocking(call: Callable[..., object], *args: object) -> object:
        return await asyncio.get_running_loop().run_in_executor(pool, call, *args)

    def count(outcome: str) -> None:
        pool.submit(receiver.count, outcome)  # not awaited: the answer does not wait for the tally

    async def refuse(answer: Answer, reason: str) -> web.Response:
        log.info("webhook refused (%s): %s", answer.status, reason)
        count(answer.outcome)
        return answer.response(detail=reason)

    async def handle_delivery(request: web.Request) -> web.Response:
        body = await request.read()  # over client_max_size: aiohttp answers 413
        signature = request.headers.get(SIGNATURE_HEADER)
        try:
            verify(secret, request.headers.get(TIMESTAMP_HEADER), signature, body, clock())
        except SignatureError as e:
            return await refuse(REFUSED_SIGNATURE, str(e))
        try:
            delivery = parse_delivery(body)
        except BadDelivery as e:
            return await refuse(BAD_BODY, str(e))
        if delivery.ticket_id is None:
            log.info("webhook ignored: %s", delivery.ignored)
            count(IGNORED.outcome)
            return IGNORED.response(detail=delivery.ignored)
        assert signature is not None  # verify() refused a delivery without one
        try:
            answer = await blocking(receiver.accept, signature, delivery.ticket_id)
        except UNAVAILABLE as e:
            log.warning(
                "webhook for ticket %s not accepted, Redis or the broker is unavailable (%s)",
                delivery.ticket_id,
                type(e).__name__,
            )
            return UNAVAILABLE_ANSWER.response(delivery.ticket_id, "Redis or the broker is unavailable")
        assert isinstance(answer, Answer)
        log.info("webhook for ticket %s: %s", delivery.ticket_id, answer.outcome)
        count(answer.outcome)
        return answer.response(delivery.ticket_id)

    async def handle_health(request: web.Request) -> web.Response:
        ok = await blocking(receiver.healthy)
        return web.json_response({"status": "ok" if ok else "redis unavailable"}, status=200 if ok else 503)

    async def shut_pool(app: web.Application) -> None:
        pool.shutdown(wait=True)  # lets the last tallies land

    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app.router.add_post(PATH, handle_delivery)
    app.router.add_get(HEALTH_PATH, handle_health)
    app.on_cleanup.append(shut_pool)
    return app


def serve(host: str, port: int) -> None:
    """Run the receiver until SIGINT or SIGTERM, with the fleet's settings, Redis and broker."""
    from app.settings import ConfigError, get_settings

    settings = get_settings()
    if settings.intake.zendesk_webhook_secret is None:
        raise ConfigError(
            "ZENDESK_WEBHOOK_SECRET: required by `webhook` (the signing secret Zendesk shows for the webhook)"
        )
    from app import services
    from app.celery import app as celery_app
    from app.names import Task

    # A broker that is down must become a 503 now, not after Zendesk's 12 s: in this process,
    # connecting gives up after one quick retry (kombu's default backs off for seconds) and a
    # publish is not retried.
    celery_app.conf.broker_transport_options = {
        **celery_app.conf.broker_transport_options,
        "max_retries": 1,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    }
    intake_task = celery_app.signature(str(Task.INTAKE)).set(argsrepr="()", kwargsrepr="{}")

    def send_intake() -> None:
        intake_task.apply_async(retry=False)

    receiver = Receiver(services.intake_queue(), services.claims(), send_intake)
    log.info("webhook receiver on http://%s:%s%s", host, port, PATH)
    web.run_app(
        create_app(receiver, settings.intake.zendesk_webhook_secret.get_secret_value()),
        host=host,
        port=port,
        print=None,
        access_log=None,
    )
