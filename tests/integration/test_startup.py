"""Start-up as a fresh process sees it: importing the Celery app needs no environment, a bad
configuration stops a worker or a command with one line, and the Celery configuration each
Redis layout gives (plain, Sentinel, RabbitMQ with Sentinel results). These start processes, so
they live here rather than in tests/unit; those that start `celery worker` are marked e2e."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from sim.launcher.stack import ROOT, celery_command, run_to_end

pytestmark = pytest.mark.processes

SENTINELS = "10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379"


def _bare_run(args: list[str], cwd, **env: str):
    """A fresh process with none of the fleet's environment: no ZENDESK_*, no .env."""
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "HOME": str(cwd), "PYTHONPATH": str(ROOT), **env}
    return run_to_end([sys.executable, *args], env, cwd=cwd, timeout=120)


def _configured_env(tmp_path: Path, **env: str) -> dict[str, str]:
    """A fresh process's environment with the least the settings require (a Zendesk and a login)."""
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "ZENDESK_URL": "http://127.0.0.1:9",
        "ZENDESK_EMAIL": "a@b.c",
        "ZENDESK_API_TOKEN": "t",
        **env,
    }


def test_importing_the_celery_app_needs_no_environment(tmp_path):
    result = _bare_run(["-c", "import app.celery, app.fleet.dispatch; print(app.celery.app.configured)"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"  # the settings are read when Celery first needs them


@pytest.mark.parametrize(
    "command,exit_code",
    [
        pytest.param(["-m", "celery", "-A", "app", "worker"], 1, marks=pytest.mark.e2e),  # Celery's own
        (["-m", "app", "health"], 2),  # unhealthy, and the CLI's "could not start"
    ],
)
def test_a_worker_or_the_cli_refuses_bad_config_with_one_clear_line(tmp_path, command, exit_code):
    result = _bare_run(command, tmp_path)
    assert result.returncode == exit_code
    assert result.stderr.startswith("configuration error:") and "ZENDESK_EMAIL" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    bad = _bare_run(
        command,
        tmp_path,
        ZENDESK_URL="http://127.0.0.1:9",
        ZENDESK_EMAIL="a@b.c",
        ZENDESK_API_TOKEN="t",
        SWEEP_INTERVAL="-5",
        LLM_PROVIDER="magic",
    )
    assert bad.returncode == exit_code and "Traceback" not in bad.stderr
    assert "LLM_PROVIDER: Input should be" in bad.stderr
    assert "SWEEP_INTERVAL: Input should be greater than 0" in bad.stderr


def celery_conf(env_vars: dict[str, str], tmp_path: Path) -> dict:
    """app.celery's configuration as a fresh process builds it from these variables."""
    code = (
        "import json; from app.celery import app; c = app.conf; "
        "print(json.dumps({k: c[k] for k in ('broker_url', 'result_backend', 'broker_transport', "
        "'broker_transport_options', 'result_backend_transport_options', 'redbeat_redis_url', "
        "'redbeat_redis_options')}, default=repr)); "
        "conn = app.connection_for_write(); print(type(conn.transport).__module__ + '.' + "
        "type(conn.transport).__name__)"
    )
    env = _configured_env(tmp_path, LOG_DIR=str(tmp_path / "logs"), **env_vars)
    result = run_to_end([sys.executable, "-c", code], env, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    conf_line, transport = result.stdout.strip().splitlines()
    return {**json.loads(conf_line), "transport": transport}


def test_the_celery_app_is_configured_for_sentinel(tmp_path):
    conf = celery_conf(
        {
            "REDIS_SENTINELS": SENTINELS,
            "REDIS_MASTER_NAME": "triage-master",
            "REDIS_URL": "redis://:pw@ignored:6379/1",
            "REDIS_PREFIX": "fleet-a:",
        },
        tmp_path,
    )
    assert conf["broker_url"].startswith("sentinel://:pw@10.0.0.1:26379/1;")
    assert conf["result_backend"] == conf["broker_url"]
    assert conf["broker_transport"] == "app.broker:SentinelTransport"
    assert conf["transport"] == "app.broker.SentinelTransport"
    broker = conf["broker_transport_options"]
    assert broker["master_name"] == "triage-master" and broker["global_keyprefix"] == "fleet-a:"
    assert broker["visibility_timeout"] == 3600
    backend = conf["result_backend_transport_options"]
    assert backend["master_name"] == "triage-master" and backend["global_keyprefix"] == "fleet-a:"
    assert conf["redbeat_redis_url"].startswith("redis-sentinel://")
    assert conf["redbeat_redis_options"]["service_name"] == "triage-master"


def test_the_celery_app_keeps_a_rabbitmq_broker_with_sentinel_results(tmp_path):
    conf = celery_conf(
        {
            "REDIS_SENTINELS": SENTINELS,
            "REDIS_MASTER_NAME": "triage-master",
            "BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        },
        tmp_path,
    )
    assert conf["broker_url"].startswith("amqp://") and conf["broker_transport"] is None
    assert "master_name" not in conf["broker_transport_options"]
    assert conf["result_backend"].startswith("sentinel://")
    assert conf["result_backend_transport_options"]["master_name"] == "triage-master"


def test_the_celery_app_without_sentinel_is_as_before(tmp_path):
    conf = celery_conf({"REDIS_URL": "redis://127.0.0.1:6379/0"}, tmp_path)
    assert conf["broker_url"] == conf["result_backend"] == "redis://127.0.0.1:6379/0"
    assert conf["broker_transport"] == "app.broker:Transport" and conf["transport"] == "app.broker.Transport"
    assert "master_name" not in conf["broker_transport_options"]
    assert conf["redbeat_redis_url"] == "redis://127.0.0.1:6379/0" and conf["redbeat_redis_options"] == {}


@pytest.mark.e2e
def test_a_worker_without_the_master_name_stops_with_a_configuration_error(tmp_path):
    env = _configured_env(tmp_path, REDIS_SENTINELS=SENTINELS)
    result = run_to_end(celery_command("worker"), env, cwd=tmp_path, timeout=60)
    assert result.returncode == 1
    assert "configuration error: REDIS_SENTINELS: set REDIS_MASTER_NAME too" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.e2e
@pytest.mark.parametrize(
    "redis_url,says",
    [
        ("redis://127.0.0.1:6379/abc", "configuration error: REDIS_URL: database 'abc' in redis://127.0.0.1:6379/abc"),
        ("redis://127.0.0.1:99999/0", "configuration error: REDIS_URL: port '99999'"),
    ],
)
def test_a_worker_with_a_redis_url_it_cannot_use_stops_with_one_line(tmp_path, redis_url, says):
    """Caught in the settings, before redis-py or Celery parse the URL (37-115 lines of traceback before)."""
    result = run_to_end(
        celery_command("worker"), _configured_env(tmp_path, REDIS_URL=redis_url), cwd=tmp_path, timeout=60
    )
    assert result.returncode != 0 and "Traceback" not in result.stderr
    [problem] = [line for line in result.stderr.splitlines() if line.startswith(("error:", "configuration error:"))]
    assert problem.startswith(says)


@pytest.mark.e2e
def test_a_worker_on_a_database_redis_does_not_have_stops_instead_of_retrying(tmp_path, redis_url):
    """Redis answers SELECT 99 with "DB index is out of range": Celery would retry that every 10 s."""
    url = redis_url.rsplit("/", 1)[0] + "/99"
    result = run_to_end(celery_command("worker"), _configured_env(tmp_path, REDIS_URL=url), cwd=tmp_path, timeout=60)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    # Celery's own SecurityWarning about running as root may come before it.
    problems = [line for line in result.stderr.splitlines() if line.startswith(("error:", "configuration error:"))]
    assert problems == [
        "configuration error: REDIS_URL: database 99 does not exist on this Redis server (a server has 16, "
        "numbered 0-15, unless its `databases` setting gives it more)"
    ]
