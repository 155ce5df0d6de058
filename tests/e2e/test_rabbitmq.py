"""RabbitMQ as the broker: two real workers on an amqp:// broker, Redis still the result backend
and the fleet's store (claims, done markers, run summaries, limiter, breakers).

Runs against RABBITMQ_URL (default amqp://guest:guest@127.0.0.1:5672//) and is skipped, with the
reason, when nothing answers there. Each test gets a fresh vhost (rabbitmqctl add_vhost, deleted
afterwards), so it never sees another fleet's queues, workers or pings."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import pytest
from kombu import Connection

from app.names import Queue
from sim.launcher.stack import LocalStack
from tests.e2e.scenarios import FAST_ZENDESK, assert_nothing_lost_or_written_twice, kill_a_worker_mid_run

pytestmark = pytest.mark.e2e

RABBITMQ_URL = os.environ.get("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672//")
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
SUCCEEDED = re.compile(r"Task (triage\.\w+)\[[^\]]+\] succeeded")


def shown(url: str) -> str:
    """The URL without its password, for skip reasons and output."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":**@", 1)))


def unreachable(url: str) -> str | None:
    """Why no RabbitMQ answers at `url` (None: one does)."""
    try:
        with Connection(url, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
    except Exception as e:
        return f"{type(e).__name__}: {e}"
    return None


def rabbitmqctl(*args: str) -> subprocess.CompletedProcess[str] | None:
    """rabbitmqctl on this machine's node; None when it is missing, fails or hangs."""
    executable = shutil.which("rabbitmqctl")
    if executable is None:
        return None
    try:
        done = subprocess.run([executable, *args], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done if done.returncode == 0 else None


def queue_counts(url: str) -> dict[str, tuple[int, int] | None]:
    """(messages ready, consumers) of each of the fleet's queues on `url`'s vhost; None: no such queue."""
    counts: dict[str, tuple[int, int] | None] = {}
    with Connection(url, connect_timeout=3) as connection:
        for queue in Queue:
            channel = connection.channel()  # a passive declare of a missing queue closes its channel
            try:
                _, messages, consumers = channel.queue_declare(queue=str(queue), passive=True)
                counts[str(queue)] = (messages, consumers)
            except connection.channel_errors:
                counts[str(queue)] = None
            finally:
                try:
                    channel.close()
                except Exception:
                    pass
    return counts


def unacknowledged(vhost: str) -> dict[str, int]:
    """Messages delivered and not yet acknowledged, per queue of `vhost` (needs rabbitmqctl)."""
    listed = rabbitmqctl("list_queues", "-p", vhost, "-q", "--no-table-headers", "name", "messages_unacknowledged")
    if listed is None:
        return {}
    rows = (line.split() for line in listed.stdout.splitlines())
    fleet = {str(queue) for queue in Queue}  # not Celery's event and remote-control queues
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[0] in fleet and row[1].isdigit()}


@pytest.fixture
def rabbitmq() -> Iterator[tuple[str, str | None]]:
    """(broker URL, vhost created for this test or None). Skips when no RabbitMQ answers."""
    reason = unreachable(RABBITMQ_URL)
    if reason:
        pytest.skip(f"no RabbitMQ answers at {shown(RABBITMQ_URL)} ({reason}); start one or set RABBITMQ_URL")
    parts = urlsplit(RABBITMQ_URL)
    vhost = f"triage-test-{secrets.token_hex(4)}"
    # rabbitmqctl speaks to this machine's node only, so a vhost is made with it only for a local URL.
    if parts.hostname in LOCAL_HOSTS and rabbitmqctl("add_vhost", vhost):
        url = urlunsplit(parts._replace(path="/" + quote(vhost, safe="")))
        try:
            user = unquote(parts.username or "guest")
            if rabbitmqctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*") and not unreachable(url):
                yield url, vhost
                return
        finally:
            rabbitmqctl("delete_vhost", vhost)  # its queues, exchanges and bindings go with it
    # No vhost of our own: the default vhost. The fleet's queue names (app.names.Queue) are fixed and
    # kombu's amqp transport has no key prefix (REDIS_PREFIX only separates Redis keys), so the test's
    # queues would be another fleet's on "/". Run there only when no other fleet is using them.
    busy = {name: count for name, count in queue_counts(RABBITMQ_URL).items() if count and any(count)}
    if busy:
        pytest.skip(
            f"no vhost of its own (rabbitmqctl missing or refused) and the fleet's queues on "
            f"{shown(RABBITMQ_URL)} are in use: {busy} (messages, consumers)"
        )
    yield RABBITMQ_URL, None


@pytest.fixture
def stack(tmp_path: Path, redis_url: str, rabbitmq: tuple[str, str | None]) -> Iterator[LocalStack]:
    broker_url, _ = rabbitmq
    stack = LocalStack(
        workdir=tmp_path / "stack",
        tickets=100,
        broker_url=broker_url,
        redis_prefix=f"rabbit-{secrets.token_hex(4)}:",
        sim_options=FAST_ZENDESK,
    )
    stack.start_redis(redis_url)
    yield stack
    stack.stop()


def succeeded(stack: LocalStack, worker: str) -> Counter[str]:
    """Tasks the worker finished, by name, from its log."""
    return Counter(SUCCEEDED.findall((stack.workdir / f"{worker}.log").read_text()))


def test_two_workers_on_rabbitmq_triage_every_ticket_once(stack: LocalStack, rabbitmq: tuple[str, str | None]):
    broker_url, vhost = rabbitmq
    stack.start_simulator()
    stack.start_llm_simulator(["--latency-mean", "0.3", "--rpm", "100000", "--tpm", "100000000"])
    stack.extra_env = {"RETRY_MAX_COUNTDOWN": "15"}
    stack.start_worker("alpha", autoscale="4,4")
    stack.start_worker("bravo", autoscale="4,4")
    stack.wait_for_workers(2)
    started = time.monotonic()
    runner = stack.start_app("run", "--wait", "--timeout", "400")
    out, err = runner.communicate(timeout=460)
    elapsed = time.monotonic() - started
    assert runner.returncode == 0, out + err

    stats = stack.stats()
    assert stats["tickets_ai_processed"] == 100, stats
    assert stats["max_ai_notes_per_ticket"] == 1 and stats["tickets_with_multiple_notes"] == 0, stats
    (summary,) = stack.summaries(5)
    assert summary["total"] == 100 and summary["processed"] + summary["skipped"] == 100, summary
    assert summary["failed"] == 0, summary
    work = {name: succeeded(stack, name) for name in ("alpha", "bravo")}
    for name, tasks in work.items():
        assert "amqp://" in (stack.workdir / f"{name}.log").read_text()  # the banner's transport
        assert tasks["triage.classify"] > 0, (name, tasks)  # both took tickets
    left = queue_counts(broker_url)
    assert all(count is not None and count[0] == 0 for count in left.values()), left  # declared, drained
    print(
        f"rabbitmq ({'vhost ' + vhost if vhost else 'default vhost'}): 100 tickets in {elapsed:.1f}s, "
        f"updated {stats['tickets_ai_processed']}, notes {stats['notes_total']}, "
        f"summary processed {summary['processed']} skipped {summary['skipped']} failed {summary['failed']}; "
        + "; ".join(
            f"{name} {sum(tasks.values())} tasks ({tasks['triage.classify']} classify, "
            f"{tasks['triage.update_batch']} update_batch)"
            for name, tasks in work.items()
        )
    )


def test_kill_9_of_a_worker_on_rabbitmq_loses_nothing_and_writes_nothing_twice(
    stack: LocalStack, rabbitmq: tuple[str, str | None]
):
    """RabbitMQ gives a dead consumer's unacknowledged deliveries back as soon as its connection
    closes: no visibility timeout. BROKER_VISIBILITY_TIMEOUT stays at its default (an hour), which
    the amqp transport ignores; the run finishing within minutes shows it was not needed."""
    _, vhost = rabbitmq
    stack.start_simulator()
    stack.start_llm_simulator(["--latency-mean", "0.4", "--rpm", "100000", "--tpm", "100000000"])
    # Batches of 25 (4 update_many jobs instead of 1), so the kill lands between writes.
    stack.extra_env = {"RETRY_MAX_COUNTDOWN": "15", "BULK_BATCH_SIZE": "25"}
    in_flight: dict[str, int] = {}
    classified: list[int] = []

    def look_before_the_kill() -> None:
        in_flight.update(unacknowledged(vhost) if vhost else {})
        classified.append(stack.llm_sim("/_sim/stats")["completions_ok"])

    outcome = kill_a_worker_mid_run(
        stack, {"autoscale": "4,4"}, written_before_kill=25, before_kill=look_before_the_kill
    )
    assert_nothing_lost_or_written_twice(outcome, stack, 100)
    assert succeeded(stack, "doomed")["triage.classify"] > 0  # it was working when killed
    stats, dead, at_kill, after_kill = (
        outcome.stats,
        outcome.dead_letters,
        outcome.written_at_kill,
        outcome.seconds_after_kill,
    )
    classified_at_kill = classified[0]
    (summary,) = stack.summaries(5)
    unacked = sum(in_flight.values())
    print(
        f"rabbitmq kill -9 ({'vhost ' + vhost if vhost else 'default vhost'}): killed with {at_kill} of 100 "
        f"written, {classified_at_kill} classified, {unacked if vhost else 'n/a'} deliveries unacknowledged "
        f"across both workers {in_flight if vhost else ''}; "
        f"run ended {after_kill:.1f}s later; updated once {stats['tickets_ai_processed']}, dead-lettered "
        f"{len(dead)}, notes {stats['notes_total']}, LLM completions "
        f"{stack.llm_sim('/_sim/stats')['completions_ok']}, summary processed {summary['processed']} "
        f"skipped {summary['skipped']} failed {summary['failed']}"
    )
