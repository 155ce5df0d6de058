"""The daily LLM budget's rules that need no Redis: the setting, the worst case a request reserves,
how each HTTP attempt of an SDK call is settled, the texts its alerts and health say."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.clients.llm import build_messages, response_format
from app.clients.llm_budget import BUDGET_REACHED, BudgetedCall, BudgetRefused, max_input_tokens
from app.domain.taxonomy import load_taxonomy
from app.fleet.budget import BudgetDay, next_midnight, to_nanos, until_text
from app.fleet.meters import fallback_kind
from app.ops.alerts import budget_reached_alert, budget_warning_alert
from app.ops.health import DEGRADED, HEALTHY, budget_check
from app.settings import LLMSettings, load_settings

TAXONOMY = load_taxonomy()


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


class FakeBudget:
    """Records reservations and settlements; refuses once `room` reservations were taken."""

    def __init__(self, room: int = 100) -> None:
        self.room = room
        self.reserved: list[int] = []
        self.settled: dict[int, float] = {}

    def reserve(self, usd: float) -> int | None:
        if len(self.reserved) >= self.room:
            return None
        self.reserved.append(len(self.reserved))
        return self.reserved[-1]

    def settle(self, reservation: int, usd: float) -> None:
        assert reservation not in self.settled, "settled twice"
        self.settled[reservation] = usd


@pytest.mark.parametrize(
    ("value", "expected"), [("25", 25.0), ("2.50", 2.5), (" 0.01 ", 0.01), ("", None), ("   ", None)]
)
def test_the_budget_setting_takes_positive_dollars_and_blank_for_none(monkeypatch, value, expected):
    monkeypatch.setenv("LLM_DAILY_BUDGET_USD", value)
    assert LLMSettings().daily_budget_usd == expected


@pytest.mark.parametrize("value", ["0", "-5", "ten", "$25", "25 USD", "inf", "nan", "2000000"])
def test_a_budget_that_is_not_a_positive_number_of_dollars_stops_start_up_naming_it(monkeypatch, value):
    monkeypatch.setenv("LLM_DAILY_BUDGET_USD", value)
    with pytest.raises(SystemExit) as stopped:
        load_settings()
    message = str(stopped.value)
    assert message.startswith("configuration error: LLM_DAILY_BUDGET_USD: ")
    assert f"{value!r} is not a budget: give a positive number of US dollars per UTC day" in message
    assert "Traceback" not in message and "\n" not in message


@pytest.mark.parametrize(
    "description",
    [
        "The app crashes when I pay.",
        "Die App stürzt ab, wenn ich bezahle. Größe: 30 €.",
        "支付时应用程序崩溃了。请尽快修复！" * 20,
        "🔥💥" * 300,  # four UTF-8 bytes, and often several tokens, per character
        "a" * 20_000,
    ],
)
def test_the_worst_case_input_is_the_requests_bytes_never_fewer_than_its_characters(description):
    messages = build_messages(TAXONOMY, "Checkout", description)
    fmt = response_format(TAXONOMY)
    bound = max_input_tokens(messages, fmt)
    utf8 = sum(len(m["content"].encode()) for m in messages) + len(json.dumps(fmt).encode())
    characters = sum(len(m["content"]) for m in messages) + len(json.dumps(fmt))
    # A byte-level BPE token is one byte or more: the bytes bound the tokens, and the chat format's
    # framing comes on top. What OpenAI's limiter estimates (characters / 4) is far below.
    assert bound >= utf8 + 3 * len(messages) + 3
    assert bound >= characters > characters / 4


def test_each_attempt_is_settled_by_what_it_answered():
    budget = FakeBudget()
    call = BudgetedCall(budget, worst_usd=0.01)
    assert call.reserve_ahead()
    for status in (429, 500, 503, 200):  # the SDK's retries, and the answer it returned
        call.sending()
        call.answered(status)
    call.settle(0.002)
    # 429: refused before the model ran; 5xx: may have run, its cost unknown; the answer: its usage.
    assert budget.settled == {0: 0.0, 1: 0.01, 2: 0.01, 3: 0.002}
    call.settle(0.5)  # once only
    assert budget.settled[3] == 0.002


def test_an_attempt_without_an_answer_keeps_its_worst_case_unless_never_connected():
    budget = FakeBudget()
    timed_out = BudgetedCall(budget, worst_usd=0.01)
    timed_out.reserve_ahead()
    timed_out.sending()
    timed_out.settle()  # a timeout after sending: it may have been billed
    never = BudgetedCall(budget, worst_usd=0.01)
    never.reserve_ahead()
    never.sending()
    never.settle(0.0)  # the connection was never made
    assert budget.settled == {0: 0.01, 1: 0.0}


def test_a_reservation_never_sent_is_released_and_a_retry_the_budget_refuses_raises():
    budget = FakeBudget(room=1)
    waited = BudgetedCall(budget, worst_usd=0.01)
    assert waited.reserve_ahead()
    waited.settle()  # quota said wait: nothing was sent
    assert budget.settled == {0: 0.0}
    call = BudgetedCall(budget, worst_usd=0.01)
    assert not call.reserve_ahead()  # the budget is reached before the first attempt
    call = BudgetedCall(FakeBudget(room=1), worst_usd=0.01)
    call.reserve_ahead()
    call.sending()
    call.answered(500)
    with pytest.raises(BudgetRefused, match=BUDGET_REACHED):
        call.sending()  # the SDK's retry: no room for its worst case
    call.settle()
    assert call.budget.settled == {0: 0.01}  # type: ignore[union-attr]


def test_without_a_budget_a_call_counts_nothing():
    call = BudgetedCall(None, 0.0)
    assert call.reserve_ahead()
    call.sending()
    call.answered(200)
    call.settle(1.0)
    assert call.attempts == []


def test_dollars_become_whole_nano_dollars_rounded_up_without_float_noise():
    assert to_nanos(0.1) == 100_000_000 and to_nanos(0.0000000011) == 2 and to_nanos(0) == 0
    assert to_nanos(1e-10) == 1  # a cost is never counted short
    assert to_nanos(123.456789) == 123_456_789_000


def test_midnight_utc_and_until_when():
    noon = utc("2026-12-06T12:03:00")
    assert next_midnight(noon) == utc("2026-12-07T00:00:00")
    assert next_midnight(utc("2026-12-31T23:59:59.9")) == utc("2027-01-01T00:00:00")
    day = BudgetDay(day="2026-12-06", now=noon, limit_usd=10.0)
    assert until_text(day) == "00:00 UTC (in 11h57m)"


def test_the_alerts_and_health_say_what_classifies_until_midnight():
    day = BudgetDay(
        day="2026-12-06",
        now=utc("2026-12-06T15:00:00"),
        limit_usd=10.0,
        settled_usd=9.2,
        reserved_usd=0.5,
        refused=3,
        reached_at=utc("2026-12-06T14:19:30"),
    )
    reached = budget_reached_alert(day, "rules")
    assert reached.text.startswith("daily LLM budget reached; classifying with rules until 00:00 UTC")
    assert "$9.2000 spent + $0.5000 reserved of $10.0000 on 2026-12-06 UTC (92%)" in reached.text
    assert reached.condition == "llm_budget_reached:2026-12-06"  # tomorrow's is another condition
    warning = budget_warning_alert(day, "local model")
    assert "80% of LLM_DAILY_BUDGET_USD" in warning.text and "local model" in warning.text
    check = budget_check(day, "local model")
    assert check.status == DEGRADED and "reached at 14:19 UTC" in check.detail
    assert "classified with the local model until 00:00 UTC (in 9h00m)" in check.detail
    assert "3 requests refused" in check.detail
    fine = budget_check(
        BudgetDay(day="2026-12-06", now=utc("2026-12-06T15:00:00"), limit_usd=10.0, settled_usd=1.0), "rules"
    )
    assert fine.status == HEALTHY and fine.detail.startswith("$1.0000 spent + $0.0000 reserved of $10.0000")


def test_a_budget_fallback_is_its_own_kind_in_the_metrics():
    assert fallback_kind(BUDGET_REACHED) == "budget"
