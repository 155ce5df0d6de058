"""The seed's single-host design, re-implemented faithfully as the throughput baseline.

What the seed specification (../shared/seeds, "AI Ticket Processor" v2.2) describes:
- one process, `ThreadPoolExecutor(max_workers=10)`, one task per ticket;
- per ticket: ask the LLM, then fetch-merge-update: GET the ticket, merge its tags with ours,
  PUT `tags`, `priority` and a private `comment` (one Update Ticket request per ticket);
- retries: a `requests` session with urllib3 `Retry(total=3, backoff_factor=2,
  status_forcelist=[429, 500, 502, 503, 504])` (it honours Retry-After), nothing shared between
  threads, no claim, no quota of its own; the OpenAI SDK with its default retries.
The only change: it lists the tickets through the search export, because the seed reads one
search page per run and 2,000 tickets would take twenty runs. That listing is a few requests.

    python bench/seed_baseline.py --zendesk-url URL --llm-url URL/v1 [--workers 10]

Prints one JSON line: per-ticket outcomes and times, and wall time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import openai
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.clients.llm import build_messages  # noqa: E402  (the same prompt, so LLM work is equal)
from app.domain.taxonomy import load_taxonomy  # noqa: E402

TAXONOMY = load_taxonomy()


class SeedZendesk:
    """The seed's Zendesk client: fetch-merge-update with a retrying session."""

    def __init__(self, base_url: str, email: str, token: str) -> None:
        self.base_url = f"{base_url.rstrip('/')}/api/v2"
        self.session = requests.Session()
        retry = Retry(total=3, backoff_factor=2, status_forcelist=[429, 500, 502, 503, 504])
        adapter = HTTPAdapter(max_retries=retry, pool_maxsize=16)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)  # the seed mounts https:// only; the simulator is http
        self.session.auth = (f"{email}/token", token)

    def list_unprocessed(self) -> list[dict[str, Any]]:
        url: str | None = f"{self.base_url}/search/export.json"
        params: dict[str, Any] | None = {
            "query": "status<solved -tags:ai_processed",
            "filter[type]": "ticket",
            "page[size]": 100,
        }
        tickets: list[dict[str, Any]] = []
        while url:
            body = self.session.get(url, params=params, timeout=30).json()
            params = None
            tickets += body.get("results", [])
            url = body["links"]["next"] if body.get("meta", {}).get("has_more") else None
        return tickets

    def update_ticket(self, ticket_id: int, tags: list[str], priority: str | None, comment: str) -> None:
        response = self.session.get(f"{self.base_url}/tickets/{ticket_id}.json", timeout=30)
        response.raise_for_status()
        existing = response.json()["ticket"].get("tags", [])
        ticket: dict[str, Any] = {"tags": list(set(existing + tags)), "comment": {"body": comment, "public": False}}
        if priority:
            ticket["priority"] = priority
        response = self.session.put(f"{self.base_url}/tickets/{ticket_id}.json", json={"ticket": ticket}, timeout=30)
        response.raise_for_status()


class SeedLLM:
    def __init__(self, base_url: str, api_key: str) -> None:
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=30)
        self.output = TAXONOMY.output_model

    def analyze(self, subject: str, description: str) -> dict[str, Any]:
        completion = self.client.chat.completions.parse(
            model="gpt-4o-mini",
            messages=build_messages(TAXONOMY, subject, description),
            response_format=self.output,
            max_tokens=400,
            temperature=0,
        )
        return completion.choices[0].message.parsed.model_dump()


def process_ticket(zendesk: SeedZendesk, llm: SeedLLM, ticket: dict[str, Any]) -> dict[str, Any]:
    started = time.time()
    try:
        analysis = llm.analyze(ticket.get("subject", ""), ticket.get("description", ""))
        values = {name: analysis[name] for name in TAXONOMY.fields}
        tags = TAXONOMY.tags_for(values)
        note = f"AI Analysis:\n\nSummary: {analysis['summary']}\n" + "\n".join(f"{k}: {v}" for k, v in values.items())
        zendesk.update_ticket(ticket["id"], tags, TAXONOMY.priority_for(values), note)
        return {"id": ticket["id"], "status": "success", "time": time.time() - started}
    except Exception as error:
        text = str(error)
        return {
            "id": ticket["id"],
            "status": "failed",
            "time": time.time() - started,
            "error_429": "429" in text or "too many 429" in text.lower(),
            "error": text[:200],
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zendesk-url", required=True)
    parser.add_argument("--llm-url", required=True)
    parser.add_argument("--email", default="triage-bot@example.com")
    parser.add_argument("--token", default="sim-api-token")
    parser.add_argument("--llm-key", default="sk-sim-local")
    parser.add_argument("--workers", type=int, default=10)
    args = parser.parse_args(argv)
    zendesk = SeedZendesk(args.zendesk_url, args.email, args.token)
    llm = SeedLLM(args.llm_url, args.llm_key)
    tickets = zendesk.list_unprocessed()
    started = time.time()
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(lambda t: process_ticket(zendesk, llm, t), tickets))
    print(json.dumps({"elapsed": time.time() - started, "listed": len(tickets), "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
