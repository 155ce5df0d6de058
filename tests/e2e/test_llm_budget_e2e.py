"""The daily LLM budget holding for a whole fleet: 200 tickets, two I/O workers of 100 threads each
racing for the LLM simulator, a budget worth a few requests. The day's recorded spend never passes
the budget and is what the simulator billed, at the model's price; every ticket the budget refused
was classified by the rules, with the reason in its note; the 80% alert came once."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator

import pytest

from app.clients.llm_budget import BUDGET_REACHED
from app.clients.llm_prices import cost_usd
from app.fleet.budget import KEY_PREFIX, NANOS_PER_USD
from sim.launcher.stack import LocalStack
from tests.conftest import QuietHandler, serve_in_background
from tests.e2e.scenarios import FAST_ZENDESK, run_and_summarise

pytestmark = pytest.mark.e2e

BUDGET_USD = 0.004  # about five requests at their worst case, some twenty at what they really cost
MODEL = "gpt-4o-mini"


class TimedReceiver:
    """A Slack-style alert webhook on 127.0.0.1 that records each message with its arrival time."""

    def __init__(self) -> None:
        self.messages: list[tuple[float, str]] = []
        receiver = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.messages.append((time.time(), json.loads(body)["text"]))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = serve_in_background(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/services/T000/B000/XXXX"


@pytest.fixture
def alerts() -> Iterator[TimedReceiver]:
    receiver = TimedReceiver()
    yield receiver
    receiver.server.shutdown()


@pytest.fixture
def stack(new_stack, alerts):
    stack = new_stack("budget", tickets=200, sim_options=FAST_ZENDESK, simulator=True)
    stack.extra_env = {"LLM_DAILY_BUDGET_USD": str(BUDGET_USD), "ALERT_WEBHOOK_URL": alerts.url}
    return stack


def budget_days(stack: LocalStack) -> dict[str, dict[str, float]]:
    """Every day's budget hash under the stack's prefix (a run across midnight UTC spans two)."""
    client = stack.redis()
    days = {}
    for key in client.scan_iter(match=f"{stack.redis_prefix}{KEY_PREFIX}*"):
        raw = client.hgetall(key)
        days[key.decode().rsplit(":", 1)[1]] = {k.decode(): float(v) for k, v in raw.items()}
    return days


def test_two_hundred_threads_on_two_workers_never_spend_past_the_daily_budget(stack: LocalStack, alerts):
    stack.start_llm_simulator(["--latency-mean", "0.5", "--rpm", "100000", "--tpm", "10000000"])
    stack.start_cpu_worker(concurrency=2)
    stack.start_io_worker("io-a", threads=100)
    stack.start_io_worker("io-b", threads=100)
    stack.wait_for_workers(3, timeout=120)
    started = time.time()
    summary, result = run_and_summarise(stack, wait=300)
    assert f"classifier: openai ({MODEL} at LLM_BASE_URL" in result.stderr
    assert (summary["total"], summary["processed"], summary["failed"]) == (200, 200, 0)

    # The day's recorded spend against the budget, and against what the simulator billed.
    days = budget_days(stack)
    assert days, "no budget day recorded"
    settled = sum(day.get("settled", 0) for day in days.values()) / NANOS_PER_USD
    for day in days.values():
        assert day.get("settled", 0) + day.get("reserved", 0) <= BUDGET_USD * NANOS_PER_USD
        assert day.get("reserved", 0) == 0  # every reservation settled
    llm = stack.llm_sim("/_sim/stats")
    billed = cost_usd(MODEL, llm["prompt_tokens_total"], llm["completion_tokens_total"])
    requests = int(sum(day.get("requests", 0) for day in days.values()))
    refused = int(sum(day.get("refused", 0) for day in days.values()))
    assert settled <= BUDGET_USD
    # Used to the last worst case (under $0.001 for these tickets): a ticket whose request the
    # requests in flight held came back, instead of going to the rules while room was left.
    assert BUDGET_USD - settled < 0.001, settled
    # Each answer is counted in whole nano-dollars, rounded up: at most one nano-dollar over each.
    # Compared in nano-dollars: the float price sum carries noise (0.0033288000000000002 for
    # 0.0033288) a millionth of a nano-dollar deep, which rounding to 6 places removes.
    settled_nanos = sum(day.get("settled", 0) for day in days.values())
    billed_nanos = round(billed * NANOS_PER_USD, 6)
    assert billed_nanos <= settled_nanos <= billed_nanos + requests, (settled_nanos, billed_nanos)
    assert requests == llm["requests_total"] == llm["completions_ok"]  # no faults: one request per answer

    # Tickets the budget refused: classified by the rules, the reason in the result and the note.
    results = summary["results"]
    by_provider = Counter(r["analysis"]["provider"] for r in results)
    reasons = Counter(r["analysis"]["fallback_reason"] for r in results if r["analysis"]["fallback_reason"])
    cached = sum(1 for r in results if r["analysis"]["cached"])  # a repeated ticket costs nothing
    assert by_provider["llm"] == llm["completions_ok"] + cached and by_provider["llm"] >= 5
    assert by_provider["rules"] == reasons[BUDGET_REACHED] == 200 - by_provider["llm"] > 0
    assert summary["fallbacks_by_reason"] == {BUDGET_REACHED: by_provider["rules"]}
    refused_tickets = [r["ticket_id"] for r in results if r["analysis"]["fallback_reason"] == BUDGET_REACHED]
    for ticket_id in refused_tickets:
        notes = [c["body"] for c in stack.sim(f"/_sim/tickets/{ticket_id}")["comments"] if not c["public"]]
        assert len(notes) == 1 and "Fallback: rules classifier (daily LLM budget reached)" in notes[0]
        assert "ai_fallback" in stack.sim(f"/_sim/tickets/{ticket_id}")["ticket"]["tags"]
    example = refused_tickets[-1]
    note = next(c["body"] for c in stack.sim(f"/_sim/tickets/{example}")["comments"] if not c["public"])

    # One alert at 80%, one when reached; health says until when.
    warnings = [(at, text) for at, text in alerts.messages if "80% of LLM_DAILY_BUDGET_USD" in text]
    reached = [(at, text) for at, text in alerts.messages if text.startswith("daily LLM budget reached")]
    assert len(warnings) == 1 and len(reached) == 1, alerts.messages
    assert "classifying with rules until 00:00 UTC" in reached[0][1]
    health = stack.run_app("health", "--json")
    report = json.loads(health.stdout)
    (check,) = [c for c in report["checks"] if c["name"] == "llm budget"]
    assert check["status"] == "degraded" and "until 00:00 UTC" in check["detail"], check
    assert report["llm_budget"]["reached"] and report["llm_budget"]["limit_usd"] == BUDGET_USD
    assert health.returncode >= 1

    first_refusal = min(day["reached_at"] for day in days.values() if "reached_at" in day)
    llm_written = sorted(r["written_at"] for r in results if r["analysis"]["provider"] == "llm")
    print(
        f"\nLLM_DAILY_BUDGET_USD={BUDGET_USD}: recorded spend ${settled:.9f} ({settled / BUDGET_USD:.0%} of the "
        f"budget; {requests} reservations granted, {refused} refused, none left reserved); the LLM simulator billed "
        f"{llm['prompt_tokens_total']} prompt + {llm['completion_tokens_total']} completion tokens in "
        f"{llm['requests_total']} requests = ${billed:.9f} at {MODEL}'s price\n"
        f"tickets by provider: {dict(by_provider)} ({cached} LLM answers from the cache); "
        f"fallbacks by reason: {dict(reasons)}\n"
        f"first refusal (reached) {first_refusal - started:.1f}s after the run started; "
        f"last LLM answer written {llm_written[-1] - started:.1f}s in\n"
        f"80% alert at +{warnings[0][0] - started:.1f}s: {warnings[0][1]}\n"
        f"reached alert at +{reached[0][0] - started:.1f}s: {reached[0][1]}\n"
        f"health: {check['status']} {check['name']}: {check['detail']}\n"
        f"ticket {example}'s note:\n{note}"
    )
