"""`python -m app zendesk setup|check` against the simulator (OAuth only, as a new account), and
what the objects setup makes then do: the announce trigger's signed deliveries, and priorities
raised by Zendesk's triggers in the fleet's own update_many jobs, never over an agent's."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from app import services
from app.clients.bulk import JobPolling
from app.domain.models import Analysis
from app.fleet.writeback import BatchItem, BatchTarget, write_batch
from sim.launcher.stack import ROOT
from tests.conftest import check_signed

pytestmark = pytest.mark.processes  # the command line against the simulator

CLIENT = {"ZENDESK_OAUTH_CLIENT_ID": "triage-fleet", "ZENDESK_OAUTH_CLIENT_SECRET": "sim-oauth-secret"}


@pytest.fixture
def account(fleet_env: Any) -> Iterator[Any]:
    """The test's simulator made OAuth-only, with jobs that run at once."""
    requests.post(
        f"{fleet_env.base_url}/_sim/config", json={"auth": "oauth", "job_delay_ms": 0, "job_item_ms": 0}, timeout=5
    ).raise_for_status()
    yield fleet_env


def cli(sim: Any, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ZENDESK_")}
    env.update(
        {
            "ZENDESK_URL": sim.base_url,
            **CLIENT,
            "REDIS_PREFIX": services.get_settings().redis.prefix,
            "REDIS_URL": services.get_settings().redis.url,
            **extra,
        }
    )
    return subprocess.run(
        [sys.executable, "-m", "app", "zendesk", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def api(sim: Any, method: str, path: str, **kwargs: Any) -> Any:
    return services.zendesk().call(method, path, **kwargs)


def test_setup_plans_makes_is_idempotent_and_check_names_what_changed(account, endpoint, tmp_path: Path):
    receiver = endpoint()
    env_file = tmp_path / ".env"
    plan = cli(account, "setup", "--webhook-url", receiver.url, "--dry-run")
    print("\n$ python -m app zendesk setup --dry-run\n" + plan.stdout)
    assert plan.returncode == 0, plan.stderr
    assert "webhook 'Triage Fleet: new tickets': create" in plan.stdout
    assert "trigger 'Triage Fleet: priority high': create" in plan.stdout
    assert api(account, "GET", "/api/v2/webhooks")["webhooks"] == []  # the dry run changed nothing

    made = cli(account, "setup", "--webhook-url", receiver.url, "--env-file", str(env_file))
    print("$ python -m app zendesk setup\n" + made.stdout)
    assert made.returncode == 0, made.stderr
    assert made.stdout.count("done: trigger '") == 6 and "wrote ZENDESK_WEBHOOK_SECRET" in made.stdout
    secret = env_file.read_text().strip().removeprefix("ZENDESK_WEBHOOK_SECRET=")
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert secret and secret not in made.stdout + made.stderr + plan.stdout + plan.stderr

    before = requests.get(f"{account.base_url}/_sim/stats", timeout=5).json()["requests_by_endpoint"]
    again = cli(account, "setup", "--webhook-url", receiver.url, "--env-file", str(env_file))
    print("$ python -m app zendesk setup   (again)\n" + again.stdout)
    assert again.returncode == 0 and "everything is up to date; nothing changed" in again.stdout
    assert "up to date" in again.stdout and "done:" not in again.stdout
    after = requests.get(f"{account.base_url}/_sim/stats", timeout=5).json()["requests_by_endpoint"]
    writes = [
        name
        for name in after
        if name.startswith(("webhook_create", "webhook_replace", "trigger_create", "trigger_update", "category_create"))
    ]
    assert all(after[name] == before.get(name, 0) for name in writes)

    checked = cli(account, "check")
    print("$ python -m app zendesk check\n" + checked.stdout)
    assert checked.returncode == 0 and "every object is present, active and as setup makes it" in checked.stdout

    triggers = api(account, "GET", "/api/v2/triggers.json")["triggers"]
    high = next(t for t in triggers if t["title"] == "Triage Fleet: priority high")
    api(account, "DELETE", f"/api/v2/triggers/{high['id']}.json")  # an admin deletes one by hand
    done = next(t for t in triggers if t["title"] == "Triage Fleet: priority done")
    api(account, "PUT", f"/api/v2/triggers/{done['id']}.json", json={"trigger": {"active": False}})
    checked = cli(account, "check")
    print("$ python -m app zendesk check   (a trigger deleted, another deactivated by hand)\n" + checked.stdout)
    assert checked.returncode == 1
    assert "not ready: trigger 'Triage Fleet: priority high': missing" in checked.stdout
    assert "not ready: trigger 'Triage Fleet: priority done': inactive" in checked.stdout

    repaired = cli(account, "setup", "--webhook-url", receiver.url)
    assert repaired.returncode == 0 and "done: trigger 'Triage Fleet: priority high': create" in repaired.stdout
    assert cli(account, "check").returncode == 0  # back as setup makes it, in order

    # The announce trigger: every new ticket is delivered, signed with the secret in the env file.
    requests.post(f"{account.base_url}/_sim/tickets", json={"count": 2}, timeout=5).raise_for_status()
    deadline = time.monotonic() + 10
    while len(receiver.deliveries) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(receiver.deliveries) == 2
    for _, headers, body in receiver.deliveries:
        check_signed(secret, headers, body)
        assert set(json.loads(body)) == {"ticket_id"}


def test_a_secret_that_is_not_the_webhooks_is_named_by_check(account, endpoint, tmp_path: Path):
    receiver = endpoint()
    env_file = tmp_path / ".env"
    assert cli(account, "setup", "--webhook-url", receiver.url, "--env-file", str(env_file)).returncode == 0
    right = env_file.read_text().strip().removeprefix("ZENDESK_WEBHOOK_SECRET=")
    assert cli(account, "check", ZENDESK_WEBHOOK_SECRET=right).returncode == 0
    checked = cli(account, "check", ZENDESK_WEBHOOK_SECRET="not-the-signing-secret")
    assert checked.returncode == 1 and "signing secret is not ZENDESK_WEBHOOK_SECRET" in checked.stdout
    assert "not-the-signing-secret" not in checked.stdout


def analysis(urgency: str) -> Analysis:
    return Analysis(
        summary="s",
        values={"root_cause": "bug", "urgency": urgency, "sentiment": "neutral"},
        provider="rules",
        model="rules",
    )


def ticket(sim: Any, ticket_id: int) -> dict:
    return requests.get(f"{sim.base_url}/_sim/tickets/{ticket_id}", timeout=5).json()


def new_ticket(sim: Any, priority: str | None) -> int:
    body = {"tickets": [{"subject": "Cannot log in", "description": "Since this morning", "priority": priority}]}
    return requests.post(f"{sim.base_url}/_sim/tickets", json=body, timeout=5).json()["ids"][0]


def agent_sets(sim: Any, ticket_id: int, priority: str) -> None:
    requests.post(
        f"{sim.base_url}/_sim/tickets/{ticket_id}/agent_edit", json={"priority": priority}, timeout=5
    ).raise_for_status()


def test_zendesks_triggers_raise_priorities_in_the_fleets_own_update_and_never_over_an_agent(account, endpoint):
    receiver = endpoint()
    assert services.priority_mode()[0] == "safe_put"  # not installed yet: the safe PUTs
    services.forget_priority_mode()
    assert cli(account, "setup", "--webhook-url", receiver.url).returncode == 0
    mode, why = services.priority_mode()
    assert mode == "triggers" and "installed" in why

    none_high = new_ticket(account, None)  # no priority: lower than low
    none_low = new_ticket(account, None)
    normal_high = new_ticket(account, "normal")
    urgent_high = new_ticket(account, "urgent")  # higher than the fleet's: stays
    by_hand = new_ticket(account, "normal")
    agent_sets(account, by_hand, "low")  # an agent chose low by hand before the fleet: stays
    items = [
        BatchItem(none_high, analysis("high")),
        BatchItem(none_low, analysis("low")),
        BatchItem(normal_high, analysis("high")),
        BatchItem(urgent_high, analysis("high")),
        BatchItem(by_hand, analysis("high")),
    ]
    target = BatchTarget(
        services.zendesk(),
        services.taxonomy(),
        "run-p",
        services.bulk_jobs(),
        services.job_slots(),
        JobPolling(interval=0.02),
        by_trigger=True,
    )
    progress = write_batch(target, items, "run-p:0")
    final = {i.ticket_id: ticket(account, i.ticket_id)["ticket"] for i in items}
    assert {i: t["priority"] for i, t in final.items()} == {
        none_high: "high",
        none_low: "low",
        normal_high: "high",
        urgent_high: "urgent",
        by_hand: "low",
    }
    assert progress.priorities == {
        none_high: "high",
        none_low: "low",
        normal_high: "high",
        urgent_high: None,
        by_hand: None,
    }
    assert all("ai_priority_pending" not in t["tags"] and "ai_processed" in t["tags"] for t in final.values())
    stats = requests.get(f"{account.base_url}/_sim/stats", timeout=5).json()
    assert stats["requests_by_endpoint"].get("ticket_update", 0) == 0  # no single-ticket PUT
    assert stats["tickets_priority_raised_by_trigger"] == 3

    # Later an agent lowers the raised one by hand; a later API write to it changes nothing of that.
    agent_sets(account, none_high, "normal")
    services.zendesk().call("PUT", f"/api/v2/tickets/{none_high}/tags.json", json={"tags": ["later"]})
    assert ticket(account, none_high)["ticket"]["priority"] == "normal"
    stats = requests.get(f"{account.base_url}/_sim/stats", timeout=5).json()
    assert stats["hand_priorities_overridden"] == 0 and stats["tickets_priority_lowered"] == 0
