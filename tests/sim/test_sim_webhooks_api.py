"""The Webhooks API of the Zendesk simulator: create, list, show, update, patch, delete, and the
signing secret, validated as strictly as the documentation allows."""

from __future__ import annotations

import re

import pytest
import requests

from sim.zendesk import running_simulator

AUTH = ("triage-bot@example.com/token", "sim-api-token")
ULID_RE = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")


def valid(**overrides) -> dict:
    webhook = {
        "name": "Fleet intake",
        "endpoint": "https://fleet.example.com/zendesk/webhook",
        "http_method": "POST",
        "request_format": "json",
        "status": "active",
        "subscriptions": ["conditional_ticket_events"],
    }
    webhook.update(overrides)
    return {name: value for name, value in webhook.items() if value is not None}


def call(sim, method: str, path: str, **json) -> requests.Response:
    return requests.request(method, f"{sim.base_url}/api/v2/webhooks{path}", auth=AUTH, json=json or None)


def create(sim, **overrides) -> dict:
    response = call(sim, "POST", "", webhook=valid(**overrides))
    assert response.status_code == 201, response.text
    return response.json()["webhook"]


def pointers(response: requests.Response) -> list[str]:
    assert response.status_code == 400, response.text
    errors = response.json()["errors"]
    assert all(
        error["code"] == "InvalidInput" and error["title"] == "Invalid input" and error["detail"] for error in errors
    )
    return [error["source"]["pointer"] for error in errors]


@pytest.fixture
def sim():
    with running_simulator(tickets=1) as simulator:
        yield simulator


def test_create_show_and_list_a_webhook(sim):
    webhook = create(sim, description="Announces new tickets")
    assert ULID_RE.match(webhook["id"])
    assert set(webhook) == {
        "id",
        "name",
        "description",
        "status",
        "endpoint",
        "http_method",
        "request_format",
        "subscriptions",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
    }
    assert webhook["subscriptions"] == ["conditional_ticket_events"] and webhook["created_by"] == "1000001"
    shown = call(sim, "GET", f"/{webhook['id']}")
    assert shown.status_code == 200 and shown.json() == {"webhook": webhook}
    listed = call(sim, "GET", "").json()
    assert listed["webhooks"] == [webhook] and listed["meta"]["has_more"] is False
    # No .json suffix on the Webhooks API.
    assert requests.get(f"{sim.base_url}/api/v2/webhooks.json", auth=AUTH).status_code == 404
    assert (
        requests.post(f"{sim.base_url}/api/v2/webhooks.json", auth=AUTH, json={"webhook": valid()}).status_code == 404
    )
    events = create(sim, name="Events", subscriptions=["zen:event-type:ticket.created"])
    assert events["id"] != webhook["id"]


def test_invalid_webhooks_are_refused_with_pointers(sim):
    assert sorted(pointers(call(sim, "POST", "", webhook={}))) == sorted(
        f"/webhook/{name}" for name in ("name", "endpoint", "http_method", "request_format", "status", "subscriptions")
    )
    assert pointers(call(sim, "POST", "", webhook=valid(name="  "))) == ["/webhook/name"]
    for endpoint in ("http://fleet.example.com/hook", "ftp://fleet.example.com/hook", "/zendesk/webhook", "not a url"):
        assert pointers(call(sim, "POST", "", webhook=valid(endpoint=endpoint))) == ["/webhook/endpoint"], endpoint
    for loopback in ("http://127.0.0.1:8090/zendesk/webhook", "http://localhost/x", "http://[::1]:80/x"):
        create(sim, endpoint=loopback)  # the simulator's one concession, for local demos
    assert pointers(call(sim, "POST", "", webhook=valid(http_method="post"))) == ["/webhook/http_method"]
    assert pointers(call(sim, "POST", "", webhook=valid(request_format="yaml"))) == ["/webhook/request_format"]
    assert pointers(call(sim, "POST", "", webhook=valid(status="paused"))) == ["/webhook/status"]
    for subscriptions in (
        [],
        "conditional_ticket_events",
        ["conditional_ticket_events", "zen:event-type:ticket.created"],
        ["ticket.created"],
        ["zen:event-type:"],
    ):
        assert pointers(call(sim, "POST", "", webhook=valid(subscriptions=subscriptions))) == ["/webhook/subscriptions"]
    # Zendesk events are JSON POSTs only.
    assert sorted(
        pointers(
            call(
                sim,
                "POST",
                "",
                webhook=valid(subscriptions=["zen:event-type:ticket.created"], http_method="PUT", request_format="xml"),
            )
        )
    ) == ["/webhook/http_method", "/webhook/request_format"]
    create(sim, http_method="PUT", request_format="form_encoded")  # fine for triggers
    assert pointers(call(sim, "POST", "", webhook=valid(secret_header="x"))) == ["/webhook/secret_header"]
    create(sim, custom_headers={"x": "y"}, id="ignored", created_at="ignored")  # documented: ignored
    assert pointers(call(sim, "POST", "", trigger=valid())) == ["/webhook"]
    raw = requests.post(
        f"{sim.base_url}/api/v2/webhooks", auth=AUTH, data="{oops", headers={"Content-Type": "application/json"}
    )
    assert pointers(raw) == ["/webhook"]


def test_update_patch_and_delete(sim):
    webhook = create(sim)
    path = f"/{webhook['id']}"
    replaced = call(sim, "PUT", path, webhook=valid(name="Renamed", endpoint="https://other.example.com/x"))
    assert replaced.status_code == 204 and replaced.content == b""
    shown = call(sim, "GET", path).json()["webhook"]
    assert (shown["name"], shown["endpoint"], shown["description"]) == ("Renamed", "https://other.example.com/x", None)
    # PUT replaces the whole webhook: what it leaves out is missing.
    assert pointers(call(sim, "PUT", path, webhook={"name": "Only a name"})) == [
        "/webhook/endpoint",
        "/webhook/http_method",
        "/webhook/request_format",
        "/webhook/status",
        "/webhook/subscriptions",
    ]
    patched = call(sim, "PATCH", path, webhook={"status": "inactive"})
    assert patched.status_code == 204
    shown = call(sim, "GET", path).json()["webhook"]
    assert shown["status"] == "inactive" and shown["name"] == "Renamed"
    assert pointers(call(sim, "PATCH", path, webhook={"http_method": "TRACE"})) == ["/webhook/http_method"]
    # "You can't change an existing webhook's connection method".
    event_switch = {"subscriptions": ["zen:event-type:ticket.created"]}
    assert pointers(call(sim, "PATCH", path, webhook=event_switch)) == ["/webhook/subscriptions"]
    assert pointers(call(sim, "PUT", path, webhook=valid(**event_switch))) == ["/webhook/subscriptions"]
    events = create(sim, subscriptions=["zen:event-type:ticket.created"])
    assert pointers(
        call(sim, "PATCH", f"/{events['id']}", webhook={"subscriptions": ["conditional_ticket_events"]})
    ) == ["/webhook/subscriptions"]
    assert (
        call(
            sim,
            "PATCH",
            f"/{events['id']}",
            webhook={"subscriptions": ["zen:event-type:ticket.created", "zen:event-type:ticket.status_changed"]},
        ).status_code
        == 204
    )

    assert call(sim, "DELETE", path).status_code == 204
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        gone = call(sim, method, path, webhook=valid())
        assert gone.status_code == 404, method
        assert gone.json()["errors"][0]["code"] == "WebhookNotFound"
        assert gone.json()["errors"][0]["title"] == "Webhook not found"


def test_each_webhook_has_its_own_signing_secret_which_can_be_reset(sim):
    first, second = create(sim), create(sim)
    secrets = []
    for webhook in (first, second):
        answer = call(sim, "GET", f"/{webhook['id']}/signing_secret")
        assert answer.status_code == 200
        secret = answer.json()["signing_secret"]
        assert secret["algorithm"] == "SHA256" and len(secret["secret"]) >= 32
        secrets.append(secret["secret"])
    assert secrets[0] != secrets[1]
    reset = call(sim, "POST", f"/{first['id']}/signing_secret")
    assert reset.status_code == 201
    new_secret = reset.json()["signing_secret"]["secret"]
    assert new_secret != secrets[0]
    assert call(sim, "GET", f"/{first['id']}/signing_secret").json()["signing_secret"]["secret"] == new_secret
    assert call(sim, "GET", "/01AAAAAAAAAAAAAAAAAAAAAAAA/signing_secret").status_code == 404


def test_the_list_pages_by_cursor_and_filters(sim):
    made = [
        create(sim, name=f"Hook {index:02d}", status="inactive" if index % 5 == 0 else "active")["id"]
        for index in range(25)
    ]
    first = call(sim, "GET", "").json()
    assert [webhook["id"] for webhook in first["webhooks"]] == made[:20]  # 20 a page by default
    assert first["meta"]["has_more"] is True
    second = requests.get(first["links"]["next"], auth=AUTH).json()
    assert [webhook["id"] for webhook in second["webhooks"]] == made[20:]
    assert second["meta"]["has_more"] is False
    back = requests.get(second["links"]["prev"], auth=AUTH).json()
    assert [webhook["id"] for webhook in back["webhooks"]] == made[:20]

    sized = requests.get(f"{sim.base_url}/api/v2/webhooks", auth=AUTH, params={"page[size]": 100}).json()
    assert len(sized["webhooks"]) == 25
    for size in ("101", "0", "x"):
        refused = requests.get(f"{sim.base_url}/api/v2/webhooks", auth=AUTH, params={"page[size]": size})
        assert refused.status_code == 400 and refused.json()["errors"][0]["code"] == "InvalidPaginationParameter"
    forged = requests.get(f"{sim.base_url}/api/v2/webhooks", auth=AUTH, params={"page[after]": "bm9wZQ"})
    assert forged.status_code == 400 and "errors" in forged.json()

    def names(**params) -> list[str]:
        body = requests.get(f"{sim.base_url}/api/v2/webhooks", auth=AUTH, params=params).json()
        return [webhook["name"] for webhook in body["webhooks"]]

    assert names(**{"filter[name_contains]": "HOOK 1"}) == [f"Hook 1{i}" for i in range(10)]
    assert names(**{"filter[status]": "inactive"}) == [f"Hook {i:02d}" for i in range(0, 25, 5)]
    assert (
        requests.get(f"{sim.base_url}/api/v2/webhooks", auth=AUTH, params={"filter[status]": "paused"}).status_code
        == 400
    )


def test_plain_http_reaches_only_the_hosts_the_simulator_is_told_of():
    """A compose network's receiver (http://webhook:8090) is allowed only when named."""
    with running_simulator(tickets=0, http_webhook_hosts="webhook") as named:
        create(named, endpoint="http://webhook:8090/zendesk/webhook")
        assert pointers(call(named, "POST", "", webhook=valid(endpoint="http://127.0.0.1:8090/x"))) == [
            "/webhook/endpoint"
        ]
