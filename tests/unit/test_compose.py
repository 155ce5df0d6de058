"""docker-compose.yml serves a real account and docker-compose.sim.yml the simulated demo: read as
YAML (tests/integration/test_compose_config.py has docker-compose itself resolve both)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "docker-compose.yml"
SIM = ROOT / "docker-compose.sim.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
# Settings that name an account, a key or where a service is: they come from .env, or in the demo
# from docker-compose.sim.yml, never from docker-compose.yml.
ACCOUNT_SETTING = re.compile(r"^(ZENDESK_|OPENAI_|LLM_)")


def load(path: Path) -> dict[str, Any]:
    compose = yaml.safe_load(path.read_text(encoding="utf-8"))  # PyYAML resolves the `<<:` merges
    assert isinstance(compose, dict)
    return compose


def services(path: Path) -> dict[str, dict[str, Any]]:
    return {name: service or {} for name, service in load(path)["services"].items()}


def command_words(service: dict[str, Any]) -> list[str]:
    command = service.get("command", [])
    return shlex.split(command) if isinstance(command, str) else [str(word) for word in command]


def is_simulator(service: dict[str, Any]) -> bool:
    """Runs `python -m sim.<name>`."""
    words = command_words(service)
    return any(word.startswith("sim.") and words[i - 1] == "-m" for i, word in enumerate(words) if i)


def fleet_services() -> dict[str, dict[str, Any]]:
    """The services that run this repository's code (built from it) and are not simulators; Redis,
    an image of its own, needs none of the fleet's settings."""
    return {name: s for name, s in services(BASE).items() if "build" in s and not is_simulator(s)}


def simulators() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services(SIM).items() if is_simulator(s)}


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(entry.partition("=")[::2] for entry in env)
    return {str(key): str(value) for key, value in env.items()}


def depends_on(service: dict[str, Any]) -> set[str]:
    needs = service.get("depends_on") or []
    return set(needs)  # a list of names, or a mapping name -> condition


# Images of their own beside the fleet: Redis, and what watches the fleet.
MONITORING = {"prometheus", "grafana"}


def test_the_fleet_is_every_service_but_redis_prometheus_and_grafana():
    # Guards the tests below against passing on an empty fleet.
    assert set(fleet_services()) == set(services(BASE)) - {"redis"} - MONITORING
    assert {"zendesk-setup", "webhook", "worker-cpu", "worker-io", "worker-intake", "beat", "flower", "metrics"} <= set(
        fleet_services()
    )


@pytest.mark.parametrize("name", sorted(fleet_services()))
def test_every_fleet_service_reads_dot_env(name):
    env_file = fleet_services()[name].get("env_file")
    assert env_file in (".env", [".env"]), f"{name}: env_file is {env_file!r}, not .env"


@pytest.mark.parametrize("name", sorted(fleet_services()))
def test_no_credential_or_simulator_address_in_a_fleet_service(name):
    service = fleet_services()[name]
    env = environment(service)
    hard_coded = sorted(key for key in env if ACCOUNT_SETTING.match(key))
    assert not hard_coded, f"{name} sets {hard_coded} itself; they belong in .env (or docker-compose.sim.yml)"
    simulator_names = set(simulators())
    for key, value in env.items():
        assert not any(sim in value for sim in simulator_names), f"{name}: {key}={value} names a simulator"
        assert "sim-" not in value, f"{name}: {key} holds a simulator's credential"
    assert not any(sim in " ".join(command_words(service)) for sim in simulator_names)


def test_docker_compose_yml_names_no_simulator_outside_its_comments():
    body = yaml.safe_dump(load(BASE))
    for name in simulators():
        assert name not in body
    assert "sim-oauth-secret" not in body and "sim-llm-key" not in body


def test_no_service_of_a_real_account_depends_on_a_simulator():
    base = services(BASE)
    simulator_names = {name for name, service in base.items() if is_simulator(service)} | set(simulators())
    for name, service in base.items():
        missing = depends_on(service) - set(base)
        assert not missing, f"{name} depends on {sorted(missing)}, which `docker compose up` does not start"
        assert not depends_on(service) & simulator_names, f"{name} depends on a simulator"


def test_the_simulators_are_only_in_docker_compose_sim_yml():
    assert not [name for name, service in services(BASE).items() if is_simulator(service)]
    assert set(simulators()) == {"zendesk-sim", "llm-sim"}
    # The override adds no fleet service of its own: everything else it names is in docker-compose.yml.
    assert set(services(SIM)) - set(simulators()) <= set(services(BASE))


@pytest.mark.parametrize("name", sorted(fleet_services()))
def test_the_demo_points_every_fleet_service_at_the_simulators(name):
    """Without these a demo service would reach for the account and key in .env."""
    env = environment(services(SIM).get(name, {}))
    assert env.get("ZENDESK_URL") == "http://zendesk-sim:8081"
    assert env.get("LLM_BASE_URL") == "http://llm-sim:8082/v1"
    assert env.get("OPENAI_API_KEY") == "sim-llm-key"
    assert env.get("ZENDESK_OAUTH_CLIENT_ID") and env.get("ZENDESK_OAUTH_CLIENT_SECRET")


def test_in_the_demo_the_fleet_waits_for_the_simulators():
    assert {"zendesk-sim", "llm-sim"} <= depends_on(services(SIM)["zendesk-setup"])
    for name, service in fleet_services().items():
        if name not in ("zendesk-setup", "metrics"):
            assert "zendesk-setup" in depends_on(service), name
    # The exporter reads only Redis: it shows a fleet whose setup failed rather than wait for it.
    assert depends_on(fleet_services()["metrics"]) == {"redis"}


def comments(path: Path) -> str:
    return "\n".join(line.split("#", 1)[1] for line in path.read_text(encoding="utf-8").splitlines() if "#" in line)


# Options of `docker compose run` that take a value (the service comes after them).
RUN_OPTIONS_WITH_VALUE = {"-v", "--volume", "-e", "--env", "-u", "--user", "-w", "--workdir", "--name", "-p", "-l"}


def services_run_in(text: str) -> set[str]:
    """The service of each `docker compose run|exec ... SERVICE` in the text."""
    named = set()
    for match in re.finditer(r"docker[ -]compose (?:-f \S+ )*(?:run|exec) ([^`\n]+)", text):
        words = shlex.split(match.group(1).replace("\\", ""))
        while words and words[0].startswith("-"):
            words = words[2:] if words[0] in RUN_OPTIONS_WITH_VALUE else words[1:]
        if words:
            named.add(words[0])
    return named


def test_every_service_a_comment_or_a_doc_names_exists():
    every = set(services(BASE)) | set(services(SIM))
    volumes = set(load(BASE).get("volumes") or {})
    for path in (BASE, SIM, DOCKERFILE):
        text = comments(path)
        # In these comments a single word in backticks is a service (or a volume).
        for word in re.findall(r"`([a-z][a-z0-9-]*)`", text):
            assert word in every | volumes, f"{path.name}: a comment names `{word}`, which is no service"
        assert services_run_in(text) <= every, path.name
        # A worker by name is a service too (not `celery -A app worker`, the command).
        for word in re.findall(r"(?<!app )\bworker(?:-[a-z]+)?\b", text):
            assert word in every, f"{path.name}: a comment names a {word} service, which does not exist"
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = doc.read_text(encoding="utf-8")
        assert services_run_in(text) <= every, doc.name
        for word in re.findall(r"`([a-z][a-z0-9-]*)` service", text):
            assert word in every, f"{doc.name} names the `{word}` service, which docker compose does not have"


def test_the_services_a_comment_names_are_found():
    # The parser above must see the train command's service, or the test would pass on nothing.
    assert services_run_in(comments(BASE)) == {"worker-cpu"}


def runtime_user() -> str:
    users = [
        line.split()[1] for line in DOCKERFILE.read_text(encoding="utf-8").splitlines() if line.startswith("USER ")
    ]
    assert users, "the image must not run as root"
    return users[-1]


def chowned_to(user: str) -> set[str]:
    """Directories one RUN line of the Dockerfile both creates and gives to USER."""
    owned: set[str] = set()
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("RUN "):
            continue
        made: set[str] = set()
        given: set[str] = set()
        for step in line[4:].split("&&"):
            words = shlex.split(step)
            paths = {word for word in words[1:] if word.startswith("/")}
            if words[:1] == ["mkdir"]:
                made |= paths
            elif words[:1] == ["chown"] and words[1:] and words[1].split(":")[0] == user:
                given |= paths
        owned |= made & given
    return owned


@pytest.mark.parametrize("name", sorted(fleet_services()))
def test_what_a_fleet_service_writes_is_writable_by_the_image_user(name):
    """A named volume takes the image's directory with its owner; a host folder Docker creates is root's."""
    declared = set(load(BASE).get("volumes") or {})
    owned = chowned_to(runtime_user())
    mounts = fleet_services()[name].get("volumes") or []
    for mount in mounts:
        source, target = str(mount).split(":")[:2]
        assert source in declared, f"{name}: {source} is not a named volume (Docker would create it as root)"
        assert target in owned, f"{name}: the Dockerfile does not give {target} to {runtime_user()}"


def test_the_local_model_is_in_a_volume():
    model_path = Path(environment(fleet_services()["worker-cpu"])["LOCAL_MODEL_PATH"])
    targets = {str(mount).split(":")[1] for mount in fleet_services()["worker-cpu"]["volumes"]}
    assert str(model_path.parent) in targets
    assert str(model_path.parent) in chowned_to(runtime_user())


def ignored(pattern: str) -> bool:
    """Whether .dockerignore leaves PATTERN (a top-level name) out: its last matching line decides."""
    verdict = False
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        if line.lstrip("!").rstrip("/") == pattern:
            verdict = not negated
    return verdict


@pytest.mark.parametrize("name", [".venv", ".git", ".env", "logs", "models", ".demo"])
def test_the_build_context_leaves_out(name):
    assert ignored(name), f".dockerignore does not leave out {name}"


def test_the_dockerfile_installs_the_locked_hashes():
    assert "pip install --no-cache-dir --require-hashes -r requirements.txt" in DOCKERFILE.read_text(encoding="utf-8")


# -- Prometheus and Grafana beside the fleet (docs/operations.md, "Metrics") --------------------------

DEPLOY = ROOT / "deploy"


def option(service: dict[str, Any], name: str) -> str:
    """The value of a `--name=value` or `--name value` word of a service's command."""
    words = command_words(service)
    for i, word in enumerate(words):
        if word.startswith(f"--{name}="):
            return word.split("=", 1)[1]
        if word == f"--{name}" and i + 1 < len(words):
            return words[i + 1]
    raise AssertionError(f"no --{name} in {words}")


def bind_mounts(service: dict[str, Any]) -> list[tuple[Path, str, str]]:
    """A service's mounts of the repository's files: (path in the repository, target, options)."""
    found = []
    for mount in service.get("volumes") or []:
        source, target, *rest = str(mount).split(":")
        if source.startswith("./"):
            found.append((ROOT / source[2:], target, rest[0] if rest else "rw"))
    return found


def mounted_at(service: dict[str, Any], target: str) -> Path:
    """The repository file (or folder) a service sees at TARGET, through its bind mounts."""
    for source, mount_target, _ in sorted(bind_mounts(service), key=lambda m: -len(m[1])):
        if target == mount_target or target.startswith(mount_target.rstrip("/") + "/"):
            return source / target[len(mount_target) :].lstrip("/")
    raise AssertionError(f"nothing of the repository is mounted at {target}")


def test_the_exporter_prometheus_and_grafana_are_services():
    base = services(BASE)
    assert {"metrics", "prometheus", "grafana"} <= set(base)
    assert command_words(base["metrics"])[:4] == ["python", "-m", "app", "metrics"]
    assert option(base["metrics"], "host") == "0.0.0.0"
    assert base["prometheus"]["image"].startswith("prom/prometheus:")
    assert base["grafana"]["image"].startswith("grafana/grafana:")


@pytest.mark.parametrize("name", sorted(MONITORING))
def test_monitoring_images_are_pinned_to_a_version(name):
    image = services(BASE)[name]["image"]
    tag = image.rpartition(":")[2]
    assert ":" in image and re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: {image} is not pinned to a version"


@pytest.mark.parametrize("name", sorted(services(BASE)))
def test_every_published_port_is_bound_to_loopback(name):
    for port in services(BASE)[name].get("ports") or []:
        assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond this host"


def every_bind_mount() -> list[tuple[str, Path, str, str]]:
    return [(name, *mount) for name, service in sorted(services(BASE).items()) for mount in bind_mounts(service)]


def test_the_monitoring_services_mount_the_repository_read_only():
    mounts = {(name, source.relative_to(ROOT).as_posix(), target) for name, source, target, _ in every_bind_mount()}
    assert ("prometheus", "deploy/prometheus", "/etc/prometheus") in mounts
    assert ("grafana", "deploy/grafana/provisioning", "/etc/grafana/provisioning") in mounts
    assert ("grafana", "deploy/grafana/triage-fleet.json", "/var/lib/grafana/dashboards/triage-fleet.json") in mounts
    for name, source, _, options in every_bind_mount():
        assert options == "ro", f"{name} may write into the repository's {source}"


@pytest.mark.parametrize(
    "source", sorted({source.relative_to(ROOT).as_posix() for _, source, _, _ in every_bind_mount()})
)
def test_every_mount_is_a_file_of_the_repository(source):
    # deploy/prometheus/prometheus.yml, alerts.yml and deploy/grafana/triage-fleet.json come with the
    # alert rules and the dashboard (issue 27, part 2).
    assert (ROOT / source).exists(), f"docker-compose.yml mounts {source}, which is not in the repository"


def compose_scrape_config() -> dict[str, Any]:
    prometheus = services(BASE)["prometheus"]
    path = mounted_at(prometheus, option(prometheus, "config.file"))
    assert path == DEPLOY / "prometheus" / "prometheus.compose.yml"
    return load(path)


def test_prometheus_in_compose_reads_the_alert_rules_beside_its_config():
    config = compose_scrape_config()
    assert config["rule_files"] == ["alerts.yml"]  # relative to the config file
    assert (DEPLOY / "prometheus" / "alerts.yml").is_file()
    assert option(services(BASE)["prometheus"], "storage.tsdb.path") == "/prometheus"
    assert "prometheus-data:/prometheus" in services(BASE)["prometheus"]["volumes"]
    assert "prometheus-data" in load(BASE)["volumes"] and "grafana-data" in load(BASE)["volumes"]


def test_prometheus_in_compose_scrapes_the_exporter_and_flower_by_service_name():
    base = services(BASE)
    targets = {
        job["job_name"]: [target for group in job["static_configs"] for target in group["targets"]]
        for job in compose_scrape_config()["scrape_configs"]
    }
    assert targets == {
        "triage-fleet": [f"metrics:{option(base['metrics'], 'port')}"],
        "flower": [f"flower:{option(base['flower'], 'port')}"],
    }


def test_flowers_login_reaches_prometheus_through_files_on_a_tmpfs():
    prometheus = services(BASE)["prometheus"]
    (flower,) = [job for job in compose_scrape_config()["scrape_configs"] if job["job_name"] == "flower"]
    auth = flower["basic_auth"]
    assert set(auth) == {"username_file", "password_file"}  # never the login itself
    for path in auth.values():
        assert any(path.startswith(folder + "/") for folder in prometheus["tmpfs"]), path
        assert path in " ".join(prometheus["entrypoint"])  # written when the service starts
    assert set(environment(prometheus)) == {"FLOWER_BASIC_AUTH"}


def test_no_credential_is_written_in_the_monitoring_services_or_deploy():
    for name in sorted(MONITORING):
        for key, value in environment(services(BASE)[name]).items():
            if re.search(r"PASSWORD|AUTH|SECRET|TOKEN|KEY", key):
                assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", value), f"{name}: {key} is not read from .env"
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file() and path.suffix in (".yml", ".yaml"):
            body = load(path)
            flat_keys = re.findall(r"\b(password|username|credentials|bearer_token)\s*:", yaml.safe_dump(body))
            assert not flat_keys, f"{path.relative_to(ROOT)} holds {flat_keys}"


def test_grafanas_admin_password_comes_from_dot_env():
    env = environment(services(BASE)["grafana"])
    assert env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    assert re.search(r"^GRAFANA_ADMIN_PASSWORD=$", example, re.M), ".env.example must list it, empty"


def test_grafana_is_provisioned_with_prometheus_and_the_dashboard():
    base = services(BASE)
    grafana = base["grafana"]
    (source,) = load(mounted_at(grafana, "/etc/grafana/provisioning/datasources/prometheus.yml"))["datasources"]
    assert (source["uid"], source["type"]) == ("prometheus", "prometheus")
    assert source["url"] == "http://prometheus:9090"
    assert "prometheus" in depends_on(grafana)
    # The prometheus service listens on the port the datasource names (the image's default, published).
    assert [str(port).rsplit(":", 1)[1] for port in base["prometheus"]["ports"]] == ["9090"]
    (provider,) = load(mounted_at(grafana, "/etc/grafana/provisioning/dashboards/triage-fleet.yml"))["providers"]
    assert provider["type"] == "file"
    folder = provider["options"]["path"]
    dashboard = mounted_at(grafana, f"{folder}/triage-fleet.json")
    assert dashboard == DEPLOY / "grafana" / "triage-fleet.json"


def test_prometheus_in_compose_has_the_jobs_and_rules_of_the_local_config():
    """deploy/prometheus/prometheus.yml scrapes a fleet on this host; the alert rules may name its
    jobs, so inside compose only the targets differ."""
    local = load(DEPLOY / "prometheus" / "prometheus.yml")
    compose = compose_scrape_config()
    assert compose["rule_files"] == local["rule_files"]
    assert [job["job_name"] for job in compose["scrape_configs"]] == [
        job["job_name"] for job in local["scrape_configs"]
    ]


def datasource_refs(node: Any) -> list[Any]:
    """Every `datasource` a dashboard's panels, targets and variables name."""
    if isinstance(node, dict):
        found = [node["datasource"]] if "datasource" in node else []
        return found + [ref for value in node.values() for ref in datasource_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in datasource_refs(value)]
    return []


def test_the_dashboard_names_the_provisioned_datasource():
    """File provisioning resolves no import `__inputs` (`${DS_PROMETHEUS}`): a panel must name the
    datasource's uid, or a datasource variable of the dashboard that picks a Prometheus."""
    import json

    dashboard = json.loads((DEPLOY / "grafana" / "triage-fleet.json").read_text(encoding="utf-8"))
    (source,) = load(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    variables = {
        variable["name"]
        for variable in (dashboard.get("templating") or {}).get("list") or []
        if variable.get("type") == "datasource" and variable.get("query") == "prometheus"
    }
    refs = datasource_refs(dashboard.get("panels") or [])
    assert refs, "the dashboard's panels name no datasource"
    for ref in refs:
        uid = ref.get("uid") if isinstance(ref, dict) else ref
        if isinstance(uid, str) and uid.startswith("$"):
            assert uid.strip("${}") in variables, f"the dashboard names {uid}, which Grafana cannot resolve"
        elif uid is not None:
            assert uid == source["uid"], f"the dashboard names datasource {uid!r}, not {source['uid']!r}"
