"""Shared fixtures: a real Redis (REDIS_URL when reachable, else an embedded redis-server),
per-test key prefixes so tests never see each other's keys, and fleet settings pointed at an
in-process Zendesk simulator."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

# Importing app.celery needs no environment; tests that read the settings without setting them get
# the simulator's OAuth client, as a new account has (API tokens are tested where they are the point).
os.environ.setdefault("ZENDESK_URL", "http://127.0.0.1:9")
os.environ["ZENDESK_SUBDOMAIN"] = ""  # a developer's own (shell or .env) with ZENDESK_URL would be an error
os.environ.setdefault("ZENDESK_OAUTH_CLIENT_ID", "triage-fleet")
os.environ.setdefault("ZENDESK_OAUTH_CLIENT_SECRET", "sim-oauth-secret")
os.environ.setdefault("LOG_DIR", tempfile.mkdtemp(prefix="triage-test-logs-"))

from app import services
from app.intake.signature import verify
from sim.launcher.stack import LocalStack

TIER_OF_FOLDER = {"e2e": ("e2e",), "hosts": ("e2e", "hosts")}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with what it needs, so a tier can be chosen with -m: tests/e2e and
    tests/hosts are `e2e` (tests/hosts also `hosts`, one at a time under xdist), a test that uses
    the real Redis server (the redis_url fixture, directly or through fleet_env) is `redis`, and one
    that starts a simulator as a process is `processes`."""
    # The multi-host scenarios run one after another on one xdist worker: start them first, so the
    # other worker takes everything else meanwhile instead of waiting at the end.
    items.sort(key=lambda item: item.path.parent.name != "hosts")
    for item in items:
        folder = item.path.parent.name
        for marker in TIER_OF_FOLDER.get(folder, ()):
            item.add_marker(marker)
        if folder == "hosts":  # one network lab at a time: under xdist, on one worker, in turn
            item.add_marker(pytest.mark.xdist_group("hosts"))
        fixtures = getattr(item, "fixturenames", ())
        if "redis_url" in fixtures:
            item.add_marker("redis")
        if "command_line" in fixtures:  # tests/sim: a simulator started as `python -m ...`
            item.add_marker("processes")


@pytest.fixture(scope="session")
def redis_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """A Redis server for the whole session: REDIS_URL if reachable, else embedded."""
    stack = LocalStack(workdir=tmp_path_factory.mktemp("redis"))
    stack.start_redis()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def redis_url(redis_stack: LocalStack) -> str:
    return redis_stack.redis_url


@pytest.fixture
def redis_prefix() -> str:
    return f"test-{secrets.token_hex(4)}:"


@pytest.fixture
def prefixed_redis(redis_url: str, redis_prefix: str) -> Iterator[object]:
    """A client of the session's Redis; every key under the test's prefix is deleted after."""
    import redis

    connection = redis.Redis.from_url(redis_url)
    yield connection
    for key in connection.scan_iter(match=f"{redis_prefix}*"):
        connection.delete(key)


def bench_module(name: str) -> Iterator[object]:
    """bench/<name>.py loaded as module `name` (bench/ is scripts, not a package), for a fixture
    to yield; forgotten again after."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "bench" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[name]


@pytest.fixture
def zendesk_sim() -> Iterator[object]:
    """An in-process simulator with generous limits, 30 generated tickets."""
    from sim.zendesk import running_simulator

    with running_simulator(tickets=30, seed=7, rate_limit=100_000, update_rate_limit=100_000) as sim:
        yield sim


@pytest.fixture
def fleet_env(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, redis_prefix: str, zendesk_sim: object, tmp_path: Path
) -> Iterator[object]:
    """Settings and per-process clients pointed at this test's Redis prefix and simulator."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("REDIS_PREFIX", redis_prefix)
    monkeypatch.setenv("ZENDESK_URL", zendesk_sim.base_url)
    monkeypatch.setenv("ZENDESK_RATE_LIMIT", "100000")
    monkeypatch.setenv("ZENDESK_UPDATE_RATE_LIMIT", "100000")
    monkeypatch.setenv("LOG_DIR", str(tmp_path / "results"))
    services.reset()
    yield zendesk_sim
    services.reset()
    try:
        client = services.redis_client()
        keys = list(client.scan_iter(match=f"{redis_prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        services.reset()


class QuietHandler(BaseHTTPRequestHandler):
    """A test server's request handler that logs nothing: tests print what they check."""

    def log_message(self, *args: object) -> None:
        pass


def serve_in_background(handler: type[BaseHTTPRequestHandler]) -> ThreadingHTTPServer:
    """An HTTP server on a free port of 127.0.0.1, serving from a daemon thread until shut down."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class WebhookReceiver:
    """A Slack-style incoming webhook on 127.0.0.1 that records every message."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.status = 200
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.messages.append(json.loads(body))
                self.send_response(receiver.status)
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = serve_in_background(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/XXXX"

    def texts(self) -> list[str]:
        return [m["text"] for m in self.messages]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """An alert webhook that records what it is sent."""
    receiver = WebhookReceiver()
    yield receiver
    receiver.server.shutdown()


def labelled_tickets(count: int, seed: int = 11) -> list[dict[str, str]]:
    """Generated English tickets with their true labels in the default taxonomy's words: the
    training file format of `python -m app train FILE` (subject, description, one key per field)."""
    import random

    from sim.ticketgen import generate_ticket
    from sim.zendesk.history import truth_of

    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        ticket = generate_ticket(rng, 0.0)
        rows.append({"subject": ticket.subject, "description": ticket.description, **truth_of(ticket)})
    return rows


@pytest.fixture(scope="session")
def local_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local model for the default taxonomy, trained once per session on 400 generated tickets."""
    from app.domain.taxonomy import load_taxonomy
    from app.learn.training import Example, save_card, train

    path = tmp_path_factory.mktemp("model") / "local-model.npz"
    examples = [Example(row.pop("subject"), row.pop("description"), row) for row in labelled_tickets(400)]
    _, card = train(examples, load_taxonomy(), services.redactor(), "generated", path)
    save_card(card, path)
    return path


@pytest.fixture(scope="session")
def urgency_model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A local model that learned urgency alone (what a team's priority history labels), trained
    once per session on 300 generated tickets; the rules or the LLM answer the other fields."""
    from app.domain.taxonomy import load_taxonomy
    from app.learn.training import Example, save_card, train

    path = tmp_path_factory.mktemp("model") / "urgency-model.npz"
    examples = [
        Example(row["subject"], row["description"], {"urgency": row["urgency"]}) for row in labelled_tickets(300)
    ]
    _, card = train(examples, load_taxonomy(), services.redactor(), "generated", path)
    save_card(card, path)
    return path


class WebhookEndpoint:
    """A receiver on 127.0.0.1 that records each delivery and answers the statuses scripted."""

    def __init__(self, script: list[int] | None = None) -> None:
        self.deliveries: list[tuple[str, dict[str, str], bytes]] = []
        self.script = list(script or [])
        endpoint = self

        class Handler(QuietHandler):
            def answer(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                endpoint.deliveries.append((self.command, dict(self.headers), body))
                status = endpoint.script.pop(0) if endpoint.script else 202
                self.send_response(status)
                if status == 503:
                    self.send_header("Retry-After", "1")
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = answer  # noqa: N815 - http.server's naming

        self.server = serve_in_background(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/zendesk/webhook"

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, _, body in self.deliveries]

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def endpoint():
    """`endpoint(script)`: a webhook receiver (see WebhookEndpoint), shut down after the test."""
    made: list[WebhookEndpoint] = []

    def make(script: list[int] | None = None) -> WebhookEndpoint:
        made.append(WebhookEndpoint(script))
        return made[-1]

    yield make
    for each in made:
        each.close()


def check_signed(secret: str, headers: dict[str, str], body: bytes) -> None:
    """Raises unless the delivery carries a valid Zendesk signature made with `secret`."""
    verify(
        secret,
        headers["X-Zendesk-Webhook-Signature-Timestamp"],
        headers["X-Zendesk-Webhook-Signature"],
        body,
        time.time(),
    )


def run_side_by_side(targets: Iterable[Callable[[], object]], timeout: float | None = None) -> None:
    """Runs each target in a thread of its own, all started before any is waited for (each wait up
    to `timeout`), as the I/O pool's threads run."""
    threads = [threading.Thread(target=target) for target in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
