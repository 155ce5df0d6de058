"""The fleet on today's Zendesk: OAuth only, short-lived tokens revoked mid-run, agents editing, and
a client secret that stops working while a run is in flight.

    .venv/bin/python bench/oauth_run.py [--tickets 300] [--token-ttl 20] [--refused-tickets 60]

Two scenarios, each on a fresh simulator in OAuth-only mode (it refuses API tokens, as a new account
does), with the workers of a host, the LLM simulator and the account made ready by
`python -m app zendesk setup`:

1. oauth: `python -m app run --wait` over the backlog while new tickets arrive (30 a minute for
   80 s, each announced by the account's webhook) and simulated agents edit tickets, so the fleet
   calls Zendesk all along; every token lives `--token-ttl` seconds and every live token is
   revoked once, 40 s in. Counts the tickets written once, failed and dead-lettered, the token
   requests against the run's length divided by the token lifetime, and the requests that carried
   an API token.
2. refused: a run is swept and classifying when the account's client secret changes (every token
   revoked with it): the tickets wait; `python -m app health` says why in one line and exits non-zero; one
   alert fires; once the secret is right again every ticket is written, none failed.

Ends with one JSON line of the figures. tests/e2e/test_oauth.py runs both with assertions.
"""

from __future__ import annotations

import argparse
import json
import secrets
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from common import parse_args  # noqa: E402

from app.fleet.claims import Claims, DeadLetters  # noqa: E402
from sim.launcher.stack import LocalStack, wait_until  # noqa: E402

AGENT_EDITS_PER_MIN = 30


class AlertInbox:
    """A Slack-style incoming webhook on 127.0.0.1 that keeps each alert's text."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                inbox.texts.append(json.loads(body).get("text", ""))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def start_fleet(
    workdir: Path, tickets: int, redis_url: str | None, sim_options: list[str], extra_env: dict[str, str] | None = None
) -> LocalStack:
    stack = LocalStack(
        workdir=workdir,
        tickets=tickets,
        redis_prefix=f"bench-{secrets.token_hex(4)}:",
        sim_options=sim_options,
        extra_env=dict(extra_env or {}),
    )
    stack.start_redis(redis_url)
    stack.start_simulator()
    stack.setup_zendesk()  # the account as an operator makes it ready: triggers, webhook, its secret
    stack.start_llm_simulator()
    stack.wait_for_workers(stack.start_host_workers(), timeout=180)
    return stack


def run_in_background(stack: LocalStack, timeout: float) -> subprocess.Popen:
    return stack.start_app("run", "--wait", "--timeout", str(timeout))


def eligible(stack: LocalStack) -> int:
    by_status = stack.stats()["tickets_by_status"]
    return sum(count for status, count in by_status.items() if status not in ("solved", "closed"))


def outcome(stack: LocalStack) -> dict[str, Any]:
    stats = stack.stats()
    runs = stack.summaries(50)
    results = [r for run in runs for r in run["results"]]
    dead = DeadLetters(Claims(stack.redis(), 60, 60, stack.redis_prefix)).entries()
    return {
        "written": stats["tickets_ai_processed"],
        "written_twice": stats["tickets_with_multiple_notes"],
        "failed": sum(r["status"] == "failed" for r in results),
        "dead_letters": len(dead),
        "token_requests": stats["oauth"]["token_requests"],
        "tokens_issued": stats["oauth"]["tokens_issued"],
        "tokens_revoked": stats["oauth"]["tokens_revoked"],
        "api_token_requests": stats["requests_by_auth"].get("api_token", 0),
        "bearer_requests": stats["requests_by_auth"].get("bearer", 0),
        "responses_401": stats["responses_by_status"].get("401", 0),
        "agent_edits": stats["agent_edits_total"],
        "agent_priorities_lowered": stats["tickets_priority_lowered"],
        "hand_priorities_overridden": stats["hand_priorities_overridden"],
    }


def oauth_run(
    tickets: int,
    token_ttl: float,
    redis_url: str | None,
    workdir: Path,
    arrivals_per_min: float = 30.0,
    phase_seconds: float = 40.0,
) -> dict[str, Any]:
    """Scenario 1: a backlog swept while new tickets arrive (announced by the account's webhook) and
    agents edit, so the fleet calls Zendesk all along; tokens live `token_ttl` s and every live one
    is revoked once, `phase_seconds` in; new tickets arrive for `phase_seconds` more."""
    options = ["--token-ttl", f"{token_ttl:g}", "--agent-edit-rate", str(AGENT_EDITS_PER_MIN)]
    stack = LocalStack(
        workdir=workdir / "oauth", tickets=tickets, redis_prefix=f"bench-{secrets.token_hex(4)}:", sim_options=options
    )
    with stack:
        stack.start_redis(redis_url)
        stack.enable_webhooks()
        stack.start_simulator()  # made ready by setup: the webhook, its secret, the triggers
        stack.start_llm_simulator()
        stack.start_webhook()
        stack.wait_for_workers(stack.start_host_workers(), timeout=180)
        due = eligible(stack)
        issued_before = stack.stats()["oauth"]["tokens_issued"]  # setup's own token, and the workers' first look
        started = time.monotonic()
        run = run_in_background(stack, 1800)
        stack.sim("/_sim/config", "POST", json={"arrival_rate": arrivals_per_min})
        time.sleep(phase_seconds)
        revoked = stack.sim("/_sim/oauth/revoke", "POST")["revoked"]
        revoked_at = time.monotonic() - started
        time.sleep(phase_seconds)
        stack.sim("/_sim/config", "POST", json={"arrival_rate": 0})
        out, err = run.communicate(timeout=1800)
        arrived = stack.stats()["tickets_created"] - tickets
        wait_until(lambda: stack.stats()["tickets_ai_processed"] >= due + arrived, 600, "every new ticket written")
        seconds = time.monotonic() - started
        figures = {
            "tickets": tickets,
            "arrived": arrived,
            "eligible": due + arrived,
            "run_seconds": round(seconds, 1),
            "token_ttl_s": token_ttl,
            "revoked_live_tokens": revoked,
            "revoked_at_s": round(revoked_at, 1),
            "run_exit": run.returncode,
            **outcome(stack),
        }
        figures["fleet_token_requests"] = figures["token_requests"] - issued_before
        # A token is renewed when a quarter of its life is left: one every 0.75 x TTL while the
        # fleet calls Zendesk, plus the revocation's.
        figures["expected_token_requests"] = round(seconds / (0.75 * token_ttl) + 1, 1)
    if run.returncode != 0:
        figures["run_output"] = (out + err)[-2000:]
    return figures


def refused_client(tickets: int, redis_url: str | None, workdir: Path) -> dict[str, Any]:
    """Scenario 2: the client's secret changes mid-run (its tokens revoked with it), then is put back."""
    inbox = AlertInbox()
    env = {"ZENDESK_BREAKER_RESET_TIMEOUT": "5", "ALERT_WEBHOOK_URL": inbox.url}
    try:
        with start_fleet(workdir / "refused", tickets, redis_url, [], env) as stack:
            due = eligible(stack)
            run = run_in_background(stack, 900)
            # Once the run is swept and claimed, while its tickets are classified: their writes to come.
            wait_until(lambda: stack.redis().zcard(f"{stack.redis_prefix}runs") >= 1, 300, "the run dispatched")
            stack.sim("/_sim/config", "POST", json={"oauth_client_secret": "rotated-by-an-admin"})
            stack.sim("/_sim/oauth/revoke", "POST")
            written_then = stack.stats()["tickets_ai_processed"]
            wait_until(
                lambda: stack.redis().get(f"{stack.redis_prefix}zendesk:fault") is not None,
                120,
                "the fleet to meet the refused client",
            )
            time.sleep(10)  # tickets wait: two breaker periods at least
            waiting = stack.stats()["tickets_ai_processed"]
            health = stack.run_app("health", timeout=120)
            summaries_while_refused = len(stack.summaries(50))
            stack.sim("/_sim/config", "POST", json={"oauth_client_secret": "sim-oauth-secret"})  # fixed
            fixed_at = time.monotonic()
            out, err = run.communicate(timeout=900)
            figures = {
                "tickets": tickets,
                "eligible": due,
                "written_before_refusal": written_then,
                "written_while_refused": waiting - written_then,
                "summaries_while_refused": summaries_while_refused,
                "health_exit": health.returncode,
                "health_output": health.stdout.strip(),
                "health_stderr": health.stderr.strip(),
                "health_fault_lines": [
                    line.strip() for line in health.stdout.splitlines() if "configuration fault" in line
                ],
                "alerts": inbox.texts,
                "breaker_alerts": sum("circuit breaker" in text for text in inbox.texts),
                "run_exit": run.returncode,
                "seconds_to_finish_after_fix": round(time.monotonic() - fixed_at, 1),
                **outcome(stack),
            }
        if run.returncode != 0:
            figures["run_output"] = (out + err)[-2000:]
        return figures
    finally:
        inbox.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=300)
    parser.add_argument("--token-ttl", type=float, default=20.0, help="seconds every OAuth token lives")
    parser.add_argument("--refused-tickets", type=int, default=60)
    args, workdir = parse_args(parser, argv, "bench-oauth-")
    print(f"logs: {workdir}", flush=True)
    first = oauth_run(args.tickets, args.token_ttl, args.redis_url, workdir)
    print(
        f"oauth: {first['written']}/{first['eligible']} eligible tickets ({first['tickets']} swept, "
        f"{first['arrived']} new) written, {first['written_twice']} twice, "
        f"{first['failed']} failed, {first['dead_letters']} dead letters in {first['run_seconds']} s; "
        f"{first['fleet_token_requests']} token requests by the fleet (run length / {args.token_ttl:g} s tokens "
        f"renewed at 75%: {first['expected_token_requests']}), {first['revoked_live_tokens']} live tokens revoked "
        f"at {first['revoked_at_s']} s, {first['responses_401']} answers 401; {first['api_token_requests']} requests "
        f"with an API token of {first['bearer_requests'] + first['api_token_requests']}; {first['agent_edits']} agent "
        f"edits, {first['agent_priorities_lowered']} agent priorities lowered, "
        f"{first['hand_priorities_overridden']} hand-set priorities overridden",
        flush=True,
    )
    second = refused_client(args.refused_tickets, args.redis_url, workdir)
    print(
        f"refused: the secret changed after {second['written_before_refusal']} tickets; "
        f"{second['written_while_refused']} written while refused, {second['summaries_while_refused']} run summaries; "
        f"health exit {second['health_exit']}:\n  "
        + "\n  ".join(second["health_fault_lines"])
        + f"\n  breaker alerts: {second['breaker_alerts']}: {[t for t in second['alerts'] if 'breaker' in t]}\n"
        f"  once fixed: {second['written']}/{second['eligible']} written, {second['failed']} failed, "
        f"{second['dead_letters']} dead letters, {second['written_twice']} twice, "
        f"{second['seconds_to_finish_after_fix']} s to finish",
        flush=True,
    )
    print(
        json.dumps(
            {
                **{f"oauth_{k}": v for k, v in first.items() if k != "run_output"},
                **{
                    f"refused_{k}": v
                    for k, v in second.items()
                    if k not in ("run_output", "health_output", "health_stderr", "alerts")
                },
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
