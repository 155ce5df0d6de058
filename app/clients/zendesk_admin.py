"""The administrative endpoints `python -m app zendesk setup|check` reads and writes: webhooks and
their signing secrets, trigger categories and ticket triggers. They go through the fleet's Zendesk
client (its auth, quotas, pause and breaker); only the paths and the JSON shapes live here.

References (each checked against its page):
- Webhooks API, https://developer.zendesk.com/api-reference/webhooks/webhooks-api/webhooks/ : paths
  without `.json`; cursor pages; create answers 201 `{"webhook"}`, PUT answers 204 and replaces the
  webhook; `GET /api/v2/webhooks/{id}/signing_secret` answers `{"signing_secret": {"algorithm",
  "secret"}}`.
- Triggers API, https://developer.zendesk.com/api-reference/ticketing/business-rules/triggers/ :
  cursor pages of at most 100; create answers 201 `{"trigger"}`; a PUT carrying conditions or actions
  replaces both, so every update here sends both; `PUT /api/v2/triggers/update_many` sets positions.
- Trigger categories, https://developer.zendesk.com/api-reference/ticketing/business-rules/trigger_categories/ :
  every trigger belongs to one; the fleet keeps its own.
"""

from __future__ import annotations

from typing import Any

from app.clients.zendesk import ZendeskClient

PAGE_SIZE = 100


class ZendeskAdmin:
    """Webhooks, trigger categories and triggers, as plain JSON objects."""

    def __init__(self, client: ZendeskClient) -> None:
        self.client = client

    def _all(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        return [
            item
            for body in self.client.cursor_pages(path, {"page[size]": PAGE_SIZE, **params})
            for item in body.get(key, [])
        ]

    # Webhooks ---------------------------------------------------------------------------------

    def webhooks(self, name_contains: str) -> list[dict[str, Any]]:
        return self._all("/api/v2/webhooks", "webhooks", **{"filter[name_contains]": name_contains})

    def create_webhook(self, webhook: dict[str, Any]) -> dict[str, Any]:
        return self.client.call("POST", "/api/v2/webhooks", json={"webhook": webhook})["webhook"]

    def replace_webhook(self, webhook_id: str, webhook: dict[str, Any]) -> None:
        self.client.call("PUT", f"/api/v2/webhooks/{webhook_id}", json={"webhook": webhook})

    def signing_secret(self, webhook_id: str) -> str:
        return str(self.client.call("GET", f"/api/v2/webhooks/{webhook_id}/signing_secret")["signing_secret"]["secret"])

    # Trigger categories -------------------------------------------------------------------------

    def trigger_categories(self) -> list[dict[str, Any]]:
        return self._all("/api/v2/trigger_categories", "trigger_categories")

    def create_trigger_category(self, name: str) -> dict[str, Any]:
        body = self.client.call("POST", "/api/v2/trigger_categories", json={"trigger_category": {"name": name}})
        return body["trigger_category"]

    # Triggers ---------------------------------------------------------------------------------

    def triggers(self) -> list[dict[str, Any]]:
        """Every ticket trigger of the account, active or not."""
        return self._all("/api/v2/triggers.json", "triggers")

    def create_trigger(self, trigger: dict[str, Any]) -> dict[str, Any]:
        return self.client.call("POST", "/api/v2/triggers.json", json={"trigger": trigger})["trigger"]

    def update_trigger(self, trigger_id: int, trigger: dict[str, Any]) -> dict[str, Any]:
        return self.client.call("PUT", f"/api/v2/triggers/{trigger_id}.json", json={"trigger": trigger})["trigger"]

    def set_positions(self, positions: dict[int, int]) -> None:
        items = [{"id": trigger_id, "position": position} for trigger_id, position in positions.items()]
        self.client.call("PUT", "/api/v2/triggers/update_many.json", json={"triggers": items})
