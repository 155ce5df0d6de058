"""docker-compose resolves docker-compose.yml (a real account, from .env) and, over it,
docker-compose.sim.yml (the demo): `docker-compose config` needs no Docker engine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.processes  # each test runs docker-compose (or sh)

ROOT = Path(__file__).resolve().parents[2]
FLEET = {"zendesk-setup", "webhook", "worker-cpu", "worker-io", "worker-intake", "beat", "flower", "metrics"}
MONITORING = {"prometheus", "grafana"}
SIMULATORS = {"zendesk-sim", "llm-sim"}
# A made-up account, as a user's .env names theirs.
ACCOUNT = {
    "ZENDESK_SUBDOMAIN": "acme",
    "ZENDESK_OAUTH_CLIENT_ID": "acme-triage",
    "ZENDESK_OAUTH_CLIENT_SECRET": "not-a-real-secret",
    "OPENAI_API_KEY": "sk-not-a-real-key",
    "FLOWER_BASIC_AUTH": "ops:not-a-real-password",
    "WEBHOOK_PUBLIC_URL": "https://triage.example.com/zendesk/webhook",
    "GRAFANA_ADMIN_PASSWORD": "not-a-real-grafana-password",
}


def docker_compose() -> str:
    path = shutil.which("docker-compose")
    if path is None:
        pytest.fail(
            "docker-compose is needed: `apt-get install --no-install-recommends docker-compose` (make test installs it)"
        )
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The compose files and the Dockerfile (the build context) beside a .env made from .env.example."""
    for name in ("docker-compose.yml", "docker-compose.sim.yml", "Dockerfile"):
        shutil.copy(ROOT / name, tmp_path / name)
    write_env(tmp_path, ACCOUNT)
    return tmp_path


def write_env(folder: Path, values: dict[str, str]) -> None:
    lines = []
    for line in (ROOT / ".env.example").read_text(encoding="utf-8").splitlines():
        name = line.partition("=")[0].lstrip("# ")
        lines.append(f"{name}={values[name]}" if name in values and "=" in line else line)
    missing = set(values) - {line.partition("=")[0] for line in lines}
    lines += [f"{name}={values[name]}" for name in sorted(missing)]
    (folder / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")


def config(folder: Path, *files: str) -> subprocess.CompletedProcess[str]:
    options = [arg for name in files for arg in ("-f", name)]
    return subprocess.run(
        [docker_compose(), *options, "config"],
        cwd=folder,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "HOME": str(folder)},  # nothing from this shell's environment
        timeout=60,
    )


def resolved(folder: Path, *files: str) -> dict[str, Any]:
    result = config(folder, *files)
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["services"]


def test_a_real_account_reaches_every_fleet_service_from_dot_env(project):
    services = resolved(project, "docker-compose.yml")
    assert set(services) == FLEET | MONITORING | {"redis"}
    for name in FLEET:
        env = services[name]["environment"]
        for key, value in ACCOUNT.items():
            assert env[key] == value, f"{name}: {key}"
        assert "ZENDESK_URL" not in env and not env["LLM_BASE_URL"], name
        assert env["REDIS_URL"] == "redis://redis:6379/0"
        assert not set(services[name].get("depends_on") or {}) & SIMULATORS


def test_the_demo_adds_the_simulators_and_points_the_fleet_at_them(project):
    services = resolved(project, "docker-compose.yml", "docker-compose.sim.yml")
    assert set(services) == FLEET | SIMULATORS | MONITORING | {"redis"}
    for name in FLEET:
        env = services[name]["environment"]
        assert env["ZENDESK_URL"] == "http://zendesk-sim:8081", name
        assert env["LLM_BASE_URL"] == "http://llm-sim:8082/v1", name
        # The account's credentials in .env are replaced, so the demo cannot send them anywhere.
        assert env["OPENAI_API_KEY"] == "sim-llm-key"
        assert env["ZENDESK_OAUTH_CLIENT_SECRET"] == "sim-oauth-secret"
    setup = services["zendesk-setup"]
    assert setup["environment"]["WEBHOOK_PUBLIC_URL"] == "http://webhook:8090/zendesk/webhook"
    assert set(setup["depends_on"]) == SIMULATORS
    assert setup["depends_on"]["zendesk-sim"]["condition"] == "service_healthy"


def test_without_dot_env_compose_says_so(project):
    (project / ".env").unlink()
    result = config(project, "docker-compose.yml")
    assert result.returncode != 0
    assert ".env" in result.stderr


def test_without_a_flower_login_compose_starts_nothing_and_says_why(project):
    write_env(project, {**ACCOUNT, "FLOWER_BASIC_AUTH": ""})
    result = config(project, "docker-compose.yml")
    assert result.returncode != 0
    assert "set FLOWER_BASIC_AUTH=user:password in .env for Flower" in result.stderr


def test_zendesk_setup_without_webhook_public_url_says_one_line_and_exits_2():
    """Its command as the container's sh runs it (compose turns `$$` into `$`), with no URL in .env."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    words = compose["services"]["zendesk-setup"]["command"]
    assert words[:2] == ["sh", "-c"]
    result = subprocess.run(
        ["sh", "-c", words[2].replace("$$", "$")],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin"},
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("configuration error: set WEBHOOK_PUBLIC_URL in .env")
    assert len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


def test_prometheus_and_grafana_get_only_their_own_logins_from_dot_env(project):
    services = resolved(project, "docker-compose.yml")
    assert services["grafana"]["environment"]["GF_SECURITY_ADMIN_PASSWORD"] == ACCOUNT["GRAFANA_ADMIN_PASSWORD"]
    assert services["prometheus"]["environment"] == {"FLOWER_BASIC_AUTH": ACCOUNT["FLOWER_BASIC_AUTH"]}
    for name in MONITORING:
        assert "env_file" not in services[name], f"{name} would see the account's credentials"
        assert not {k for k in services[name]["environment"] if k in ACCOUNT} - {"FLOWER_BASIC_AUTH"}
    # The repository's deploy/ files, resolved against the project folder, read-only (docker-compose
    # 1.29 prints mounts and ports in the short syntax: source:target:mode, ip:published:target/tcp).
    assert (
        f"{project}/deploy/grafana/triage-fleet.json:/var/lib/grafana/dashboards/triage-fleet.json:ro"
        in (services["grafana"]["volumes"])
    )
    assert f"{project}/deploy/prometheus:/etc/prometheus:ro" in services["prometheus"]["volumes"]
    published = [str(port).split(":")[:2] for service in services.values() for port in service.get("ports") or []]
    assert ["127.0.0.1", "9090"] in published and ["127.0.0.1", "3000"] in published
    assert ["127.0.0.1", "9808"] in published
    assert {host for host, _ in published} == {"127.0.0.1"}


def test_without_a_grafana_password_compose_starts_nothing_and_says_why(project):
    write_env(project, {**ACCOUNT, "GRAFANA_ADMIN_PASSWORD": ""})
    result = config(project, "docker-compose.yml")
    assert result.returncode != 0
    assert "set GRAFANA_ADMIN_PASSWORD in .env for Grafana's admin login" in result.stderr


@pytest.mark.parametrize(
    ("login", "username", "password"),
    [("ops:s3cret", "ops", "s3cret"), ("ops:pa:ss w$rd,other:x", "ops", "pa:ss w$rd")],
)
def test_prometheus_writes_flowers_first_login_to_its_two_files(tmp_path, login, username, password):
    """Its entrypoint as the container's sh runs it (compose turns `$$` into `$`), with the tmpfs a
    folder here and a stand-in for /bin/prometheus that prints its arguments."""
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    service = compose["services"]["prometheus"]
    entrypoint = service["entrypoint"]
    assert entrypoint[:2] == ["sh", "-c"] and entrypoint[3:] == ["--"]
    (tmpfs,) = service["tmpfs"]
    script = entrypoint[2].replace("$$", "$").replace(tmpfs, str(tmp_path)).replace("/bin/prometheus", "echo")
    result = subprocess.run(
        ["sh", "-c", script, "--", *service["command"]],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "FLOWER_BASIC_AUTH": login},
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == service["command"]  # Prometheus gets the service's command
    assert (tmp_path / "username").read_text() == username
    assert (tmp_path / "password").read_text() == password
    assert (tmp_path / "password").stat().st_mode & 0o077 == 0  # the login is the image user's alone
