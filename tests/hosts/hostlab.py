"""Hosts on one machine: Linux network namespaces joined by a bridge, for the multi-host suite.

Each lab host is a network namespace with one interface, `eth0`, on 10.77.0.0/24, plugged into
a bridge that lives in a switch namespace of its own, so no address or link is ever added to the
machine's own namespace. Processes run as `ip netns exec <ns> unshare --uts`, with the host's name
as their hostname: Celery's `%h`, claim owners and logs name the lab host they ran on.

Faults are made the way a network makes them:
- `cut`: nftables in the host drops every packet to and from a peer (or one port of it), silently,
  both ways, as a failed switch port or firewall would; `heal` removes the rule.
- `lossy`: nftables drops a share of the packets on eth0 at random (`numgen random`).
- `slow`: adds latency to everything the host sends to the services host (see slowlink.py).
- `lose`: SIGKILL to every process in the namespace, then the namespace is deleted.

The test process stays in the machine's namespace: it reads Redis through a Unix socket (the
filesystem is shared) and the simulators through curl run inside the services host.

`Lab.close()` kills everything it started and deletes every namespace; a lab left behind by a run
that was itself killed is removed by the next (see `remove_stale_labs`).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis

from app.fleet.claims import Claims, DeadLetters
from app.fleet.store import RunStore
from sim.launcher.stack import (
    ROOT,
    SIM_LLM_KEY,
    SIM_OAUTH_CLIENT_ID,
    SIM_OAUTH_SECRET,
    WORKERS_ONLINE,
    ManagedProcess,
    celery_command,
    embedded_redis_server,
    llm_quota_env,
    scratch_redis_options,
    spawn_logged,
    wait_until,
    zendesk_quota_env,
)

SUBNET = "10.77.0"
NS_PREFIX = "tfl"  # tfl<hex>-<host>: every namespace a lab makes
SLOWLINK = Path(__file__).resolve().parent / "slowlink.py"
SLOWLINK_PORT = 15000


def can_build_labs() -> str | None:
    """Why labs cannot be built here, or None when they can."""
    if os.geteuid() != 0:
        return "the multi-host suite needs root: it creates network namespaces (ip netns) and veth pairs"
    for tool in ("ip", "unshare", "nft", "curl"):
        if shutil.which(tool) is None:
            return (
                f"the multi-host suite needs `{tool}` (make test installs nftables; iproute2, util-linux "
                "and curl are Debian's)"
            )
    return None


def sh(*argv: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=timeout)


def namespace_pids(namespace: str) -> list[int]:
    result = sh("ip", "netns", "pids", namespace, check=False)
    return [int(pid) for pid in result.stdout.split()]


def kill_namespace(namespace: str) -> None:
    """SIGKILL every process in the namespace, until none is left, then delete it."""
    for _ in range(50):
        pids = namespace_pids(namespace)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.1)
    sh("ip", "netns", "del", namespace, check=False)


def remove_stale_labs(older_than: float = 3 * 3600) -> None:
    """Namespaces of labs whose test run died before it could clean up (older than any test run,
    so a second test session on the same machine keeps its own)."""
    listing = sh("ip", "netns", "list", check=False).stdout
    for namespace in re.findall(rf"^({NS_PREFIX}[0-9a-f]{{6}}-\S+)", listing, flags=re.M):
        handle = Path("/run/netns") / namespace
        if handle.exists() and time.time() - handle.stat().st_mtime > older_than:
            kill_namespace(namespace)


@dataclass
class Host:
    name: str
    namespace: str
    address: str
    lost: bool = False


@dataclass
class Lab:
    """A switch and the hosts plugged into it. Use as a context manager."""

    workdir: Path
    tag: str = field(default_factory=lambda: f"{NS_PREFIX}{secrets.token_hex(3)}")
    hosts: dict[str, Host] = field(default_factory=dict)
    processes: list[ManagedProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.switch = f"{self.tag}-sw"
        sh("ip", "netns", "add", self.switch)
        sh("ip", "-n", self.switch, "link", "add", "br0", "type", "bridge")
        sh("ip", "-n", self.switch, "link", "set", "br0", "up")

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    # -- hosts ------------------------------------------------------------------------------

    def add_host(self, name: str) -> Host:
        number = len(self.hosts) + 1
        host = Host(name, f"{self.tag}-{name}", f"{SUBNET}.{number}")
        port = f"p{number}"  # the switch's side of the cable
        sh("ip", "netns", "add", host.namespace)
        # Made inside the switch namespace, so not even for a moment a link of the machine's own.
        sh(
            "ip",
            "-n",
            self.switch,
            "link",
            "add",
            port,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            host.namespace,
        )
        sh("ip", "-n", self.switch, "link", "set", port, "master", "br0", "up")
        sh("ip", "-n", host.namespace, "addr", "add", f"{host.address}/24", "dev", "eth0")
        sh("ip", "-n", host.namespace, "link", "set", "eth0", "up")
        sh("ip", "-n", host.namespace, "link", "set", "lo", "up")
        self.hosts[name] = host
        return host

    def _in(self, host: Host, argv: list[str]) -> list[str]:
        """argv run on `host`: in its network namespace, with its name as the hostname."""
        return [
            "ip",
            "netns",
            "exec",
            host.namespace,
            "unshare",
            "--uts",
            "--",
            "sh",
            "-c",
            'hostname "$0" && exec "$@"',
            host.name,
            *argv,
        ]

    def spawn(self, host: Host, name: str, argv: list[str], env: dict[str, str]) -> ManagedProcess:
        """A long-running process on `host` in its own process group; output in <workdir>/<name>.log."""
        log_path = self.workdir / f"{name}.log"
        process = ManagedProcess(name, spawn_logged(self._in(host, argv), log_path, env), log_path)
        self.processes.append(process)
        return process

    def run(
        self, host: Host, argv: list[str], env: dict[str, str] | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        return subprocess.run(
            self._in(host, argv), cwd=ROOT, env=env or dict(os.environ), capture_output=True, text=True, timeout=timeout
        )

    def nft(self, host: Host, ruleset: str) -> None:
        result = subprocess.run(
            ["ip", "netns", "exec", host.namespace, "nft", "-f", "-"],
            input=ruleset,
            capture_output=True,
            text=True,
            timeout=30,
        )
        if result.returncode != 0:
            raise RuntimeError(f"nft on {host.name} failed: {result.stderr}\n{ruleset}")

    # -- faults -----------------------------------------------------------------------------

    def cut(self, host: Host, peer: Host, port: int | None = None) -> None:
        """Drop, silently and both ways, the host's packets to and from `peer` (only `port` of it
        when given). Several cuts add up; `heal` removes them all."""
        to_peer = f"ip daddr {peer.address}" + (f" tcp dport {port}" if port else "")
        from_peer = f"ip saddr {peer.address}" + (f" tcp sport {port}" if port else "")
        self.nft(
            host,
            f"""
            table inet cut {{
              chain out {{ type filter hook output priority 0; policy accept; {to_peer} drop; }}
              chain in {{ type filter hook input priority 0; policy accept; {from_peer} drop; }}
            }}""",
        )

    def heal(self, host: Host) -> None:
        self.nft(host, "table inet cut {}\ndelete table inet cut")

    def lossy(self, host: Host, percent: int) -> None:
        """Drop `percent`% of the packets leaving and reaching eth0, each at random."""
        self.nft(
            host,
            f"""
            table inet loss {{
              chain out {{ type filter hook output priority 0; policy accept;
                           oifname "eth0" numgen random mod 100 < {percent} drop; }}
              chain in {{ type filter hook input priority 0; policy accept;
                          iifname "eth0" numgen random mod 100 < {percent} drop; }}
            }}""",
        )

    def slow(self, host: Host, to: Host, delay: float) -> None:
        """`delay` seconds more on everything the host sends to `to`: its connections there are
        redirected through slowlink.py, running on the host."""
        self.spawn(
            host,
            f"slowlink-{host.name}",
            [sys.executable, str(SLOWLINK), "--port", str(SLOWLINK_PORT), "--delay", str(delay)],
            dict(os.environ),
        )
        wait_until(
            lambda: "slowlink on" in (self.workdir / f"slowlink-{host.name}.log").read_text(),
            15,
            f"the slow link on {host.name}",
        )
        self.nft(
            host,
            f"""
            table ip slow {{
              chain out {{ type nat hook output priority -100; policy accept;
                           meta mark 0x4c return;
                           ip daddr {to.address} tcp dport != {SLOWLINK_PORT} redirect to :{SLOWLINK_PORT}; }}
            }}""",
        )

    def lose(self, host: Host) -> None:
        """The host is gone: every process on it killed at once, its namespace and link deleted."""
        kill_namespace(host.namespace)
        host.lost = True

    # -- teardown ---------------------------------------------------------------------------

    def close(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.finish(grace=5)
        self.processes.clear()
        for host in self.hosts.values():
            kill_namespace(host.namespace)
        kill_namespace(self.switch)


def curl_json(lab: Lab, host: Host, url: str, method: str = "GET", payload: Any = None) -> Any:
    """JSON from an HTTP endpoint reachable from `host` (the test process is not on the lab network)."""
    argv = ["curl", "-sS", "--fail", "-m", "15", "-X", method, url]
    if payload is not None:
        argv += ["-H", "Content-Type: application/json", "--data", json.dumps(payload)]
    result = subprocess.run(["ip", "netns", "exec", host.namespace, *argv], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        raise RuntimeError(f"{method} {url} from {host.name}: {result.stderr.strip()}")
    return json.loads(result.stdout)


# -- a fleet on a lab ----------------------------------------------------------------------------

REDIS_PORT = 6379
ZENDESK_PORT = 8081
LLM_PORT = 8082
SENTINEL_PORT = 26379
MASTER_NAME = "triage"


@dataclass
class LabFleet:
    """Redis and both simulators on a services host; workers and beat on hosts of their own.
    Every fleet process gets the same settings, pointing at the services host's address."""

    lab: Lab
    tickets: int
    sim_options: list[str] = field(default_factory=list)
    llm_options: list[str] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)
    # Redis as a primary on host redis-a, a replica on redis-b and three sentinels (on redis-a,
    # redis-b and services), instead of one Redis on the services host.
    sentinel: bool = False
    redis_nodes: dict[str, ManagedProcess] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lab = self.lab
        self.services = lab.add_host("services")
        address = self.services.address
        base = dict(os.environ)
        redis_settings = self._start_sentinels() if self.sentinel else self._start_redis()
        lab.spawn(
            self.services,
            "zendesk-sim",
            [
                sys.executable,
                "-m",
                "sim.zendesk",
                "--host",
                address,
                "--port",
                str(ZENDESK_PORT),
                "--tickets",
                str(self.tickets),
                "--auth",
                "oauth",
                "--oauth-client-id",
                SIM_OAUTH_CLIENT_ID,
                f"--oauth-client-secret={SIM_OAUTH_SECRET}",
                *self.sim_options,
            ],
            base,
        )
        lab.spawn(
            self.services,
            "llm-sim",
            [
                sys.executable,
                "-m",
                "sim.llm",
                "--host",
                address,
                "--port",
                str(LLM_PORT),
                "--api-key",
                SIM_LLM_KEY,
                *self.llm_options,
            ],
            base,
        )
        self.zendesk_url = f"http://{address}:{ZENDESK_PORT}"
        self.llm_url = f"http://{address}:{LLM_PORT}"
        wait_until(self._services_up, 30, "Redis and the simulators on the services host", interval=0.3)
        self.env = {
            key: value
            for key, value in base.items()
            if key
            not in (
                "BROKER_URL",
                "OPENAI_API_KEY",
                "LLM_PROVIDER",
                "TAXONOMY_FILE",
                "REDIS_PREFIX",
                "REDIS_SENTINELS",
                "REDIS_MASTER_NAME",
            )
            and not key.startswith("ZENDESK_")
        }
        self.env.update(
            {
                **redis_settings,
                "ZENDESK_URL": self.zendesk_url,
                "ZENDESK_SUBDOMAIN": "",  # above a .env's: both set is a configuration error
                "ZENDESK_OAUTH_CLIENT_ID": SIM_OAUTH_CLIENT_ID,
                "ZENDESK_OAUTH_CLIENT_SECRET": SIM_OAUTH_SECRET,
                "LLM_BASE_URL": f"{self.llm_url}/v1",
                "OPENAI_API_KEY": SIM_LLM_KEY,
                **zendesk_quota_env(self.zendesk("/_sim/config")),
                **llm_quota_env(self.llm("/_sim/config")),
                "LOG_DIR": str(lab.workdir / "results"),
                "PYTHONUNBUFFERED": "1",
                **self.settings,
            }
        )

    def _redis_server(self, host: Host, name: str, *options: str) -> ManagedProcess:
        """redis-server on `host`, also on a Unix socket (<workdir>/<name>.sock) for the test process."""
        data_dir = self.lab.workdir / f"{name}-data"
        data_dir.mkdir(exist_ok=True)
        process = self.lab.spawn(
            host,
            name,
            [
                embedded_redis_server(),
                "--port",
                str(REDIS_PORT),
                "--bind",
                host.address,
                "--protected-mode",
                "no",
                "--unixsocket",
                str(self.lab.workdir / f"{name}.sock"),
                "--unixsocketperm",
                "700",
                *scratch_redis_options(data_dir),
                *options,
            ],
            dict(os.environ),
        )
        self.redis_nodes[name] = process
        return process

    def _start_redis(self) -> dict[str, str]:
        self._redis_server(self.services, "redis")
        return {"REDIS_URL": f"redis://{self.services.address}:{REDIS_PORT}/0"}

    def _start_sentinels(self) -> dict[str, str]:
        primary, replica = self.lab.add_host("redis-a"), self.lab.add_host("redis-b")
        self._redis_server(primary, "redis-a")
        self._redis_server(replica, "redis-b", "--replicaof", primary.address, str(REDIS_PORT))
        for host in (primary, replica, self.services):
            config = self.lab.workdir / f"sentinel-{host.name}.conf"  # sentinels rewrite their file
            config.write_text(
                f"port {SENTINEL_PORT}\nbind {host.address}\nprotected-mode no\n"
                f"sentinel monitor {MASTER_NAME} {primary.address} {REDIS_PORT} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} 2000\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
            )
            self.lab.spawn(
                host, f"sentinel-{host.name}", [embedded_redis_server(), str(config), "--sentinel"], dict(os.environ)
            )
        sentinels = ",".join(f"{host.address}:{SENTINEL_PORT}" for host in (primary, replica, self.services))
        # REDIS_URL's host is not used with sentinels (only its database number and password).
        return {
            "REDIS_URL": f"redis://{primary.address}:{REDIS_PORT}/0",
            "REDIS_SENTINELS": sentinels,
            "REDIS_MASTER_NAME": MASTER_NAME,
        }

    def master_name(self, timeout: float = 30) -> str:
        """Which node is the master now, asked of each node over its Unix socket; waits out the
        moments of a failover when none answers as one."""
        deadline = time.monotonic() + timeout
        while True:
            for name in self.redis_nodes:
                try:
                    role = redis.Redis(unix_socket_path=str(self.lab.workdir / f"{name}.sock"), socket_timeout=5).role()
                except (redis.RedisError, OSError):
                    continue
                if role[0] in (b"master", "master"):
                    return name
            if time.monotonic() > deadline:
                raise RuntimeError("no Redis node answers as master")
            time.sleep(0.2)

    def _services_up(self) -> bool:
        try:
            self.zendesk("/_sim/stats")
            self.llm("/_sim/stats")
            return bool(self.redis().ping())
        except Exception:
            return False

    # -- looking in -------------------------------------------------------------------------

    def zendesk(self, path: str, method: str = "GET", payload: Any = None) -> Any:
        return curl_json(self.lab, self.services, f"{self.zendesk_url}{path}", method, payload)

    def llm(self, path: str) -> Any:
        return curl_json(self.lab, self.services, f"{self.llm_url}{path}")

    def redis(self) -> redis.Redis:
        socket_path = self.lab.workdir / f"{self.master_name()}.sock"
        return redis.Redis(unix_socket_path=str(socket_path), socket_timeout=10)

    def processed(self) -> int:
        return self.zendesk("/_sim/stats")["tickets_ai_processed"]

    # -- running it -------------------------------------------------------------------------

    def celery(self, *args: str) -> list[str]:
        return celery_command(*args)

    def start_worker(self, host: Host, autoscale: str = "4,4") -> ManagedProcess:
        return self.lab.spawn(
            host,
            f"worker-{host.name}",
            self.celery("worker", f"--autoscale={autoscale}", "-n", "worker@%h", "--loglevel=INFO"),
            self.env,
        )

    def start_beat(self, host: Host) -> ManagedProcess:
        return self.lab.spawn(host, f"beat-{host.name}", self.celery("beat", "--loglevel=INFO"), self.env)

    def wait_for_workers(self, count: int, timeout: float = 90) -> None:
        """Until `count` workers answer a ping, asked from the services host."""
        wait_until(
            lambda: (
                self.lab.run(self.services, [sys.executable, "-c", WORKERS_ONLINE, str(count)], self.env).returncode
                == 0
            ),
            timeout,
            f"{count} worker(s) on the lab hosts",
            interval=1.0,
        )

    def start_run(self, host: Host, timeout: float = 400) -> subprocess.Popen:
        """`python -m app run --wait` on `host`: one sweep of every open ticket, then its summary."""
        log = (self.lab.workdir / f"run-{host.name}.log").open("ab")
        return subprocess.Popen(
            self.lab._in(host, [sys.executable, "-m", "app", "run", "--wait", "--timeout", str(timeout)]),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    # -- the verdict ------------------------------------------------------------------------

    def tally(self) -> dict[str, int]:
        """Every seeded and created ticket counted once: updated once, updated more than once,
        dead-lettered (failed for good, waiting for a requeue), or lost (none of these)."""
        stats = self.zendesk("/_sim/stats")
        dead = {entry["ticket_id"] for entry in DeadLetters(Claims(self.redis(), 60, 60)).entries()}
        twice = stats["tickets_with_multiple_notes"]
        once = stats["tickets_ai_processed"] - twice
        total = stats["tickets_total"] - stats["tickets_deleted"]
        return {
            "tickets": total,
            "once": once,
            "twice": twice,
            "dead_lettered": len(dead),
            "lost": total - once - twice - len(dead),
            "notes": stats["notes_total"],
            "responses_429": stats["responses_429"],
        }

    def run_summaries(self, limit: int = 500) -> list[dict[str, Any]]:
        """The run summaries in Redis, newest first."""
        return [summary.model_dump(mode="json") for summary in RunStore(self.redis()).recent(limit)]

    def received_and_succeeded(self, host: Host) -> tuple[set[str], set[str]]:
        """Task ids the host's worker log shows received, and succeeded."""
        text = (self.lab.workdir / f"worker-{host.name}.log").read_text(errors="replace")
        received = set(re.findall(r"Task triage\.\w+\[([0-9a-f-]{36})\] received", text))
        succeeded = set(re.findall(r"Task triage\.\w+\[([0-9a-f-]{36})\] succeeded", text))
        return received, succeeded
