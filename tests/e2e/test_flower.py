"""`celery -A app flower` as operators start it: a login, or loopback only."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
import requests

from sim.launcher.stack import LocalStack, celery_command, run_to_end, wait_until

pytestmark = pytest.mark.e2e


def flower_stack(tmp_path: Path, redis_url: str, **env: str) -> LocalStack:
    stack = LocalStack(workdir=tmp_path / "stack", redis_prefix=f"flower-{secrets.token_hex(4)}:", extra_env=env)
    stack.zendesk_url = "http://127.0.0.1:9"  # Flower never calls Zendesk
    stack.start_redis(redis_url)
    return stack


def test_flower_refuses_to_listen_on_the_network_without_a_login(tmp_path: Path, redis_url: str):
    with flower_stack(tmp_path, redis_url) as stack:
        for login in (None, ""):  # unset, or set to nothing
            env = {k: v for k, v in stack.env().items() if k != "FLOWER_BASIC_AUTH"}
            if login is not None:
                env["FLOWER_BASIC_AUTH"] = login
            result = run_to_end(celery_command("flower", "--address=0.0.0.0", "--port=0"), env, timeout=60)
            assert result.returncode != 0
            assert "without a login" in result.stderr and "FLOWER_BASIC_AUTH" in result.stderr
            assert "Visit me" not in result.stdout + result.stderr  # refused before it listened


def test_flower_binds_loopback_by_default_and_asks_for_the_login(tmp_path: Path, redis_url: str):
    with flower_stack(tmp_path, redis_url, FLOWER_BASIC_AUTH="ops:s3cret-pass") as stack:
        flower = stack.spawn("flower", stack.celery("flower", "--port=0"))  # no --address: the config's
        wait_until(
            lambda: "Visit me at" in flower.log_path.read_text(errors="replace") or not flower.alive(),
            60,
            "Flower to start",
        )
        log = flower.log_path.read_text(errors="replace")
        assert flower.alive(), log
        assert "Visit me at http://127.0.0.1:" in log
        port = int(log.split("Visit me at http://127.0.0.1:")[1].split()[0].strip("/"))
        url = f"http://127.0.0.1:{port}"
        assert requests.get(f"{url}/api/workers", timeout=10).status_code == 401
        assert requests.get(f"{url}/api/workers", auth=("ops", "wrong"), timeout=10).status_code == 401
        assert requests.get(f"{url}/api/workers", auth=("ops", "s3cret-pass"), timeout=10).status_code == 200
        metrics = requests.get(f"{url}/metrics", auth=("ops", "s3cret-pass"), timeout=10)
        assert metrics.status_code == 200 and "flower_events_total" in metrics.text
        assert "s3cret-pass" not in log


def test_flower_behind_a_reverse_proxy_prefix(tmp_path: Path, redis_url: str):
    """`--url_prefix=flower`: the dashboard, its API and /metrics move under /flower/, login kept."""
    with flower_stack(tmp_path, redis_url, FLOWER_BASIC_AUTH="ops:s3cret-pass") as stack:
        stack.start_flower("--url_prefix=flower")
        url = f"http://127.0.0.1:{stack.flower_port}/flower"
        login = ("ops", "s3cret-pass")
        wait_until(lambda: _status(f"{url}/api/workers", login) == 200, 60, "Flower under /flower")
        assert _status(f"{url}/api/workers", None) == 401
        assert _status(f"{url}/metrics", login) == 200
        assert _status(f"http://127.0.0.1:{stack.flower_port}/api/workers", login) == 404


def _status(url: str, login: tuple[str, str] | None) -> int:
    try:
        return requests.get(url, auth=login, timeout=5).status_code
    except requests.RequestException:
        return 0
