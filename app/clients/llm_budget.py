"""The daily LLM budget's side of an LLM request (LLM_DAILY_BUDGET_USD; the counter is
app.fleet.budget): each HTTP attempt's worst case (`max_input_tokens`), what it is settled at
(`BudgetedCall`), and the HTTP client's hooks that see every attempt the SDK makes, its own
retries included (`attempt_hooks`). app.clients.llm.LLMClassifier uses them."""

from __future__ import annotations

import contextvars
import dataclasses
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

import openai

from app.errors import BudgetHeld

BUDGET_REACHED = "daily LLM budget reached"
BUDGET_HELD = "daily LLM budget held by the requests in flight"
# Seconds a ticket whose request the budget holds waits before it asks again (plus the retry's
# jitter): requests in flight settle within a request's time.
BUDGET_HELD_WAIT = 1.0
# Tokens the chat format adds around a request's text: OpenAI's cookbook counts 3 per message and 3
# priming the answer ("How to count tokens with tiktoken",
# https://cookbook.openai.com/examples/how_to_count_tokens_with_tiktoken); Structured Outputs wraps
# the schema in framing of its own that OpenAI does not publish. Generous allowances for both.
TOKENS_PER_MESSAGE = 8
FRAMING_TOKENS = 64


def max_input_tokens(messages: list[dict[str, str]], response_format_param: dict[str, Any]) -> int:
    """An upper bound on the prompt tokens a request can be billed, from the request alone: the
    UTF-8 bytes of its messages and of its response format, plus the chat format's framing.

    Bytes bound the tokenizer's count because OpenAI's tokenizers (cl100k_base, o200k_base) are
    byte-level BPE: every token stands for one byte of the UTF-8 text or more, never less, so n
    bytes are at most n tokens (English text runs about four bytes a token, so the bound is about
    four times the real count). The SentencePiece tokenizers of open models behind LLM_BASE_URL
    obey it too: a piece is at least one character (or one byte, with byte fallback), and a
    character at least one byte. The response format counts as its JSON (non-ASCII escaped, so
    never fewer bytes than its UTF-8): what OpenAI shows the model of a schema is rendered from the
    names, descriptions and enum values that JSON holds, with its own punctuation besides."""
    text_bytes = sum(len(m["content"].encode()) for m in messages) + len(json.dumps(response_format_param))
    return text_bytes + TOKENS_PER_MESSAGE * len(messages) + FRAMING_TOKENS


class BudgetRefused(openai.OpenAIError):
    """The day's budget refused an HTTP attempt the SDK was about to send (one of its own retries),
    raised from the HTTP client's request hook. An OpenAIError, so the SDK passes it on at once,
    neither retried nor wrapped (openai's _base_client: "Propagate OpenAIErrors as-is, without
    retrying"); never counted against the breaker (_not_an_outage)."""


class SpendBudget(Protocol):
    """The fleet's daily budget (app.fleet.budget.DailyBudget)."""

    def reserve(self, usd: float) -> Any | None: ...

    def settle(self, reservation: Any, usd: float) -> None: ...


def not_billed(status: int | None) -> bool:
    """An answer saying the request never ran: a 429 (OpenAI's limiter refuses before the model
    runs; Microsoft's answer for Azure OpenAI, https://learn.microsoft.com/en-us/answers/questions/1632971,
    says 429s are not billed, while calls answered 200 or 400 are) or another 4xx (the request
    refused as wrong: validation, key, model, quota; Azure's 400 content_filter is the exception,
    kept by the caller). No answer (a timeout, a dropped connection), a 5xx, or a 200 whose usage
    could not be read may have been billed: OpenAI's pages say nothing of what such a request costs
    (its "How can I solve 429" article, https://help.openai.com/en/articles/5955604, says only that
    unsuccessful requests count against the rate limit), so they keep their worst case."""
    return status is not None and 400 <= status < 500


@dataclass(eq=False)
class _Attempt:
    reservation: Any
    status: int | None = None  # the HTTP status, once answered


@dataclass(eq=False)
class BudgetedCall:
    """One SDK call's HTTP attempts against the day's budget (a no-op without one).

    The SDK retries 408/409/429/5xx answers and timeouts inside one call (LLM_SDK_MAX_RETRIES,
    default 2), and each retry is another request that may be billed. So every HTTP attempt
    reserves its own worst case as it goes out: the first before anything else (`reserve_ahead`,
    so a reached budget costs no quota token and no wait), each retry from the HTTP client's
    request hook (`sending`), which raises BudgetRefused when the budget cannot take it. That holds
    every retry to the budget while a call keeps one worst case in flight, not 1 + retries of them
    up front: near the cap the fleet is not held back (nor the 80% alert raised) by reservations
    for retries that mostly never happen.

    Settled once the call is over (`settle`): an attempt answered 4xx (429 included) was refused
    before the model ran and costs 0 (not_billed); the answer the SDK returned costs its usage at
    the model's price; any other attempt (a timeout or connection drop after sending, a 5xx, an
    answer without usage) keeps its worst case, since it may have been billed and what it cost
    cannot be known. A connection never made (the last attempt's ConnectError) costs 0."""

    budget: SpendBudget | None
    worst_usd: float
    ahead: Any | None = None
    attempts: list[_Attempt] = dataclasses.field(default_factory=list)
    settled: bool = False

    def reserve_ahead(self) -> bool:
        """The first attempt's reservation, taken before quota and pauses: False when refused."""
        if self.budget is None:
            return True
        self.ahead = self.budget.reserve(self.worst_usd)
        return self.ahead is not None

    def sending(self) -> None:
        """An attempt is about to be sent (the request hook): its reservation, or BudgetRefused
        (reached, or held by the requests in flight: one of the SDK's retries does not wait)."""
        if self.budget is None:
            return
        reservation, self.ahead = self.ahead, None
        if reservation is None:
            try:
                reservation = self.budget.reserve(self.worst_usd)
            except BudgetHeld as e:
                raise BudgetRefused(BUDGET_HELD) from e
            if reservation is None:
                raise BudgetRefused(BUDGET_REACHED)
        self.attempts.append(_Attempt(reservation))

    def answered(self, status: int) -> None:
        if self.attempts:
            self.attempts[-1].status = status

    def settle(self, last_usd: float | None = None) -> None:
        """Settles every attempt by the rules above, the last at `last_usd` when it is known (the
        answer's usage, or 0 for a connection never made). Only the first call counts."""
        if self.settled or self.budget is None:
            return
        self.settled = True
        if self.ahead is not None:  # reserved, never sent
            self.budget.settle(self.ahead, 0.0)
            self.ahead = None
        for n, attempt in enumerate(self.attempts):
            usd = 0.0 if not_billed(attempt.status) else self.worst_usd
            if last_usd is not None and n == len(self.attempts) - 1:
                usd = last_usd
            self.budget.settle(attempt.reservation, usd)


# The call whose attempts the request hooks count: set around each SDK call, per thread.
_CALL: contextvars.ContextVar[BudgetedCall | None] = contextvars.ContextVar("llm_budgeted_call", default=None)


def _attempt_sending(request: Any) -> None:
    call = _CALL.get()
    if call is not None:
        call.sending()


def _attempt_answered(response: Any) -> None:
    call = _CALL.get()
    if call is not None:
        call.answered(response.status_code)


def attempt_hooks() -> dict[str, list[Callable[[Any], None]]]:
    """Event hooks for the LLM client's HTTP client, `openai.DefaultHttpxClient(event_hooks=...)`:
    httpx calls them around every HTTP attempt the SDK makes, its own retries included, on the
    calling thread, so the budget sees each one (BudgetedCall)."""
    return {"request": [_attempt_sending], "response": [_attempt_answered]}


def counts_attempts(client: Any) -> bool:
    """Whether an OpenAI client sends through an HTTP client with attempt_hooks (the SDK keeps it as
    `_client`)."""
    hooks = getattr(getattr(client, "_client", None), "event_hooks", None) or {}
    return _attempt_sending in hooks.get("request", ())


def never_connected(error: BaseException) -> bool:
    """The SDK's connection error came from a connection never made (refused, DNS, connect
    timeout): the request was not sent. Told by the httpx exception's name, which httpx and the
    SDK's httpx2 share."""
    return type(error.__cause__).__name__ in ("ConnectError", "ConnectTimeout")


@contextmanager
def counting(call: BudgetedCall) -> Iterator[None]:
    """The SDK call made inside is `call`'s: the request hooks count its HTTP attempts."""
    token = _CALL.set(call)
    try:
        yield
    finally:
        _CALL.reset(token)
