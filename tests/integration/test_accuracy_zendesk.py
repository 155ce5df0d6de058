"""`python -m app accuracy --json` against the Zendesk simulator and the real Redis: tickets created
by customers, predictions recorded as the fleet records them, the fleet's own writes (the API user),
agents' edits in the UI, a trigger that fires on an agent's edit, solved, closed, still open and
deleted tickets, and every figure checked exactly."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests

from app import services
from app.cli.main import main
from app.clients.zendesk_admin import ZendeskAdmin
from app.domain.models import TicketUpdate
from app.fleet.predictions import Prediction

FLEET_VALUES = {"root_cause": "bug", "urgency": "low", "sentiment": "neutral"}
FLEET_TAGS = ["ai_processed", "ai_bug", "ai_low", "ai_neutral"]
LIVE_MODES = {"root_cause": "tag", "urgency": "tag", "sentiment": "tag", "priority": "write"}


@pytest.fixture
def zendesk_sim() -> Iterator[object]:
    """An empty simulator (no seeded ticket, no history): only this test's tickets are in its export."""
    from sim.zendesk import running_simulator

    with running_simulator(tickets=0, solved=0, seed=5, rate_limit=100_000, update_rate_limit=100_000) as sim:
        yield sim


def sim_post(sim: object, path: str, body: dict) -> dict:
    response = requests.post(f"{sim.base_url}{path}", json=body, timeout=5)  # type: ignore[attr-defined]
    response.raise_for_status()
    return response.json()


def customer_ticket(sim: object, priority: str | None) -> int:
    ticket = {"subject": "Checkout", "description": "It fails when I pay.", "priority": priority}
    return sim_post(sim, "/_sim/tickets", {"tickets": [ticket]})["ids"][0]


def agent(sim: object, ticket_id: int, **edit: object) -> None:
    sim_post(sim, f"/_sim/tickets/{ticket_id}/agent_edit", edit)


def record(ticket_id: int, mode: str, values: dict[str, str], confidence: float, written: dict[str, str], at: float):
    field_modes = {"shadow": dict.fromkeys(LIVE_MODES, "shadow"), "suggest": dict.fromkeys(LIVE_MODES, "suggest")}
    services.predictions().record(
        Prediction(
            ticket_id=ticket_id,
            run_id="run-1",
            at=at,
            mode=mode,
            field_modes=field_modes.get(mode, LIVE_MODES),
            values=values,
            confidence=dict.fromkeys(values, confidence),
            provider="openai",
            model="gpt-4o-mini",
            written=written,
        )
    )


def test_accuracy_measures_people_against_predictions_triggers_and_the_fleet_excluded(fleet_env, monkeypatch, capsys):
    sim = fleet_env
    monkeypatch.setenv("ZENDESK_INCREMENTAL_RATE_LIMIT", "100000")  # two reports in a row, without the 6 s wait
    services.reset()
    client = services.zendesk()
    # A trigger of the account: an agent's "vip" tag makes the ticket urgent. Its change is the rule's.
    admin = ZendeskAdmin(client)
    admin.create_trigger(
        {
            "title": "VIPs are urgent",
            "category_id": admin.create_trigger_category("Escalations")["id"],
            "conditions": {
                "all": [
                    {"field": "current_tags", "operator": "includes", "value": "vip"},
                    {"field": "priority", "operator": "less_than", "value": "urgent"},
                ]
            },
            "actions": [{"field": "priority", "value": "urgent"}],
        }
    )
    kept, corrected, shadowed, suggested, still_open, deleted = (
        customer_ticket(sim, priority) for priority in (None, None, "high", "normal", None, None)
    )

    def fleet_writes(ticket_id: int, priority: str | None = "low", tags: list[str] = FLEET_TAGS) -> None:
        stamp = client.get_ticket(ticket_id).updated_at
        client.update_ticket(ticket_id, TicketUpdate(tags, "AI Analysis: ...", priority, stamp))

    for ticket_id in (kept, corrected, still_open, deleted):
        fleet_writes(ticket_id)
    fleet_writes(suggested, priority=None, tags=[])  # a note only
    now = time.time()
    live = {**FLEET_VALUES, "priority": "low"}
    record(kept, "live", FLEET_VALUES, 0.95, live, now)
    record(corrected, "live", FLEET_VALUES, 0.85, live, now)
    record(shadowed, "shadow", {**FLEET_VALUES, "urgency": "high"}, 0.75, {}, now)
    record(suggested, "suggest", {**FLEET_VALUES, "urgency": "medium"}, 0.55, {}, now)
    record(still_open, "live", FLEET_VALUES, 0.95, live, now)
    record(deleted, "live", FLEET_VALUES, 0.95, live, now)
    record(999, "live", FLEET_VALUES, 0.95, live, now - 3 * 86400)  # before the window: not counted

    agent(sim, kept, status="solved")
    agent(sim, corrected, additional_tags=["ai_high"], priority="high", status="solved")  # corrects urgency
    agent(sim, shadowed, status="closed")  # the customer's own "high" stands
    agent(sim, suggested, additional_tags=["vip", "ai_refund"], status="solved")  # the trigger: urgent
    agent(sim, still_open, comment="Looking into it")
    client.call("DELETE", f"/api/v2/tickets/{deleted}.json")
    sim_post(sim, "/_sim/config", {"incremental_delay": 0})
    # Zendesk's stamps are whole seconds, each update's past the last: a ticket updated several times
    # within a second is stamped ahead of the clock, and the export lists no change from the future.
    latest = max(record.updated_at for record in [*sim.state.tickets.values(), *sim.state.deleted.values()])
    time.sleep(max(0.0, latest + 1 - time.time()))
    suggested_ticket = requests.get(f"{sim.base_url}/_sim/tickets/{suggested}", timeout=5).json()
    assert suggested_ticket["ticket"]["priority"] == "urgent"  # the trigger did fire
    before = sim.state.stats()["requests_by_endpoint"]

    capsys.readouterr()
    assert main(["accuracy", "--since", "24h", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    after = sim.state.stats()["requests_by_endpoint"]
    assert after["audits"] - before["audits"] == 4  # the decided ones only
    assert after["incremental"] - before["incremental"] == 1  # one pass, one page

    assert report["since"] == "24h"
    assert report["totals"] == {"predictions": 6, "decided": 4, "pending": 1, "not_found": 1}
    fields = report["fields"]
    assert list(fields) == ["root_cause", "urgency", "sentiment", "priority"]
    summary = {
        name: (f["labelled"], f["correct"], f["written"], f["overrides"], f["labels"]["by_person"])
        for name, f in fields.items()
    }
    assert summary == {
        "root_cause": (3, 2, 2, 0, 1),  # kept and corrected: the fleet's bug kept; suggested: a person's refund
        "urgency": (2, 1, 2, 1, 1),  # corrected: ai_high added over the fleet's ai_low
        "sentiment": (2, 2, 2, 0, 0),
        "priority": (4, 3, 2, 1, 3),  # shadowed: the customer's high; suggested: normal, the trigger's urgent ignored
    }
    priority = fields["priority"]
    assert priority["action"] == "write" and priority["accuracy"] == 0.75 and priority["override_rate"] == 0.5
    assert priority["confusion"]["low"] == {"low": 1, "normal": 0, "high": 1, "urgent": 0}
    assert priority["confusion"]["high"]["high"] == 1 and priority["confusion"]["normal"]["normal"] == 1
    assert [(b["band"], b["labelled"], b["correct"], b["coverage"]) for b in priority["bands"]] == [
        (">=0.9", 1, 1, 0.25),
        ("0.8-0.9", 1, 0, 0.25),
        ("0.7-0.8", 1, 1, 0.25),
        ("0.6-0.7", 0, 0, 0.0),
        ("<0.6", 1, 1, 0.25),
    ]
    assert priority["modes"] == {
        "shadow": {"labelled": 1, "correct": 1, "accuracy": 1.0},
        "suggest": {"labelled": 1, "correct": 1, "accuracy": 1.0},
        "live": {"labelled": 2, "correct": 1, "accuracy": 0.5},
    }
    assert priority["recommendation"]["text"] == "too few decided tickets (4 of 30 needed)"
    assert fields["urgency"]["confusion"]["low"] == {"high": 1, "medium": 0, "low": 1}

    assert main(["accuracy", "--since", "24h"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("6 predictions recorded in the last 24h")
    assert "priority (write): 4 labelled, 75.0% right" in text


def test_no_predictions_in_the_window_is_said_and_zendesk_is_not_asked(fleet_env, capsys):
    assert main(["accuracy", "--json"]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip() == (
        "no predictions recorded in the last 30d: the fleet records one for every ticket it handles "
        "(shadow, suggest or live)"
    )
    assert json.loads(captured.out)["totals"] == {"predictions": 0, "decided": 0, "pending": 0, "not_found": 0}
    assert fleet_env.state.stats()["requests_total"] == 0


@pytest.mark.parametrize(
    "setting,value,says",
    [
        ("ZENDESK_OAUTH_CLIENT_SECRET", "not-the-secret", "the OAuth client 'triage-fleet' was refused"),
        ("ZENDESK_URL", "http://127.0.0.1:9", "cannot connect to http://127.0.0.1:9"),
    ],
)
def test_zendesk_refusing_or_out_of_reach_is_one_line_and_exit_1(fleet_env, monkeypatch, capsys, setting, value, says):
    record(1, "live", FLEET_VALUES, 0.9, {}, time.time())
    monkeypatch.setenv(setting, value)
    services.reset()
    assert main(["accuracy"]) == 1
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Zendesk: ") and says in lines[0], lines
    assert "not-the-secret" not in captured.err and captured.out == ""


def test_redis_out_of_reach_is_one_line_and_exit_1(monkeypatch, capsys):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1")
    services.reset()
    try:
        assert main(["accuracy"]) == 1
    finally:
        services.reset()
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: Redis (REDIS_URL) cannot be reached"), lines
    assert captured.out == ""
