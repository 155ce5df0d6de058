"""The LLM simulator's in-memory state: budgets, the fault script, latency and the figures it reports.

``SimState.admit`` charges a request to the rate budgets and decides its outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import random
import time
from collections import Counter, deque
from typing import Any

from sim.common import SlidingWindow
from sim.llm.answers import OK, Outcome, error_outcome
from sim.llm.config import CAPTURED_REQUESTS, FAULT_KINDS, FAULT_RATIOS, SimConfig
from sim.llm.errors import insufficient_quota_error, openai_duration, rate_limit_error

# Latency is lognormal with p95 = P95_OVER_MEAN x mean. For a lognormal, p95 / mean is
# exp(Z95 * sigma - sigma**2 / 2); sigma is the smaller root of that equation.
P95_OVER_MEAN = 1.43
Z95 = 1.6448536269514722
LATENCY_SIGMA = Z95 - math.sqrt(Z95**2 - 2 * math.log(P95_OVER_MEAN))


class SimState:
    """All in-memory state of one simulator; touched only from its event loop."""

    def __init__(self, config: SimConfig):
        self.config = config
        self.started = time.monotonic()
        # Separate generators, so changing latency never changes which requests fail.
        self.fault_rng = random.Random(f"{config.seed}:faults")
        self.latency_rng = random.Random(f"{config.seed}:latency")
        # Set on shutdown: hung and sleeping requests answer at once instead of holding it up.
        self.stopping = asyncio.Event()
        self.in_flight = 0
        self.reset()

    def reset(self) -> None:
        """Forget statistics, the fault script, captured requests and the rate-limit windows."""
        self.request_window = SlidingWindow()
        self.token_window = SlidingWindow()
        self.script: deque[Outcome] = deque()
        self.captured: deque[Any] = deque(maxlen=CAPTURED_REQUESTS)
        self.requests_total = 0
        self.responses_by_status: Counter[str] = Counter()
        self.completions_ok = 0
        self.faults_injected = Counter(dict.fromkeys(FAULT_KINDS, 0))
        self.prompt_tokens_total = 0
        self.completion_tokens_total = 0
        self.quota_tokens_total = 0  # what admitted requests were charged to the token window
        self.requests_by_model: Counter[str] = Counter()
        # The latencies drawn (not wall time, which also counts event-loop delay under load).
        self.sampled_latencies: deque[float] = deque(maxlen=CAPTURED_REQUESTS)
        # Requests being answered during a reset still finish: in_flight keeps counting them.
        self.max_in_flight = self.in_flight

    # Faults and limits -----------------------------------------------------------------

    def admit(self, now: float, model: str, tokens: int) -> Outcome:
        """Charge a request to the rate budgets and decide its outcome, or raise a 429 ApiError.

        ``tokens`` is the request's quota_tokens(). Nothing is charged for a 429, whether an
        account out of credit, the budget or the fault script caused it.
        """
        config = self.config
        # https://platform.openai.com/docs/guides/error-codes : an account out of credit is
        # refused whatever its rate limits say.
        if config.insufficient_quota:
            self.faults_injected["insufficient_quota"] += 1
            raise insufficient_quota_error()
        for kind, window, limit, weight in (
            ("requests", self.request_window, config.rpm, 1),
            ("tokens", self.token_window, config.tpm, tokens),
        ):
            wait = window.wait_for_slot(now, limit, config.rate_window, weight)
            if wait:
                used = limit - window.remaining(now, limit, config.rate_window)
                raise rate_limit_error(model, kind, limit, used, weight, wait)
        outcome = self.script.popleft() if self.script else self._draw_outcome()
        if outcome.kind == "rate_limit":
            self.faults_injected["rate_limit"] += 1
            raise rate_limit_error(model, "requests", config.rpm, config.rpm, 1, 1.0)
        if outcome.kind == "insufficient_quota":
            self.faults_injected["insufficient_quota"] += 1
            raise insufficient_quota_error()
        self.request_window.record(now)
        self.token_window.record(now, tokens)
        self.quota_tokens_total += tokens
        return outcome

    def _draw_outcome(self) -> Outcome:
        roll = self.fault_rng.random()  # drawn for every request, so a seed fixes the sequence
        for kind, ratio_name in FAULT_RATIOS:
            ratio = getattr(self.config, ratio_name)
            if roll < ratio:
                return error_outcome(self.config.error_status) if kind == "error" else Outcome(kind)
            roll -= ratio
        return OK

    def latency(self) -> float:
        """Seconds to think about one answer: lognormal around latency_mean."""
        mean = self.config.latency_mean
        if mean <= 0:
            return 0.0
        seconds = self.latency_rng.lognormvariate(math.log(mean) - LATENCY_SIGMA**2 / 2, LATENCY_SIGMA)
        self.sampled_latencies.append(seconds)
        return seconds

    async def pause(self, seconds: float) -> None:
        """Sleep without blocking other requests; cut short when the server stops."""
        if seconds > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), seconds)

    def rate_limit_headers(self, now: float) -> dict[str, str]:
        """OpenAI's x-ratelimit-* headers; a reset is when the oldest counted use leaves the window."""
        config = self.config
        headers = {}
        for kind, window, limit in (
            ("requests", self.request_window, config.rpm),
            ("tokens", self.token_window, config.tpm),
        ):
            headers[f"x-ratelimit-limit-{kind}"] = str(limit)
            headers[f"x-ratelimit-remaining-{kind}"] = str(window.remaining(now, limit, config.rate_window))
            headers[f"x-ratelimit-reset-{kind}"] = openai_duration(window.reset_after(now, config.rate_window))
        return headers

    # Reports ---------------------------------------------------------------------------------

    def stats(self) -> dict:
        """The figures behind GET /_sim/stats."""
        return {
            "requests_total": self.requests_total,
            "responses_by_status": dict(self.responses_by_status),
            "responses_400": self.responses_by_status["400"],
            "responses_404": self.responses_by_status["404"],
            "responses_429": self.responses_by_status["429"],
            "completions_ok": self.completions_ok,
            "faults_injected": dict(self.faults_injected),
            "prompt_tokens_total": self.prompt_tokens_total,
            "completion_tokens_total": self.completion_tokens_total,
            "quota_tokens_total": self.quota_tokens_total,
            "requests_by_model": dict(self.requests_by_model),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "sampled_latencies_ms": [round(seconds * 1000, 1) for seconds in self.sampled_latencies],
            "script_pending": len(self.script),
            "uptime_seconds": round(time.monotonic() - self.started, 3),
        }

    def config_view(self) -> dict:
        """Current configuration for GET /_sim/config (the API key left out)."""
        view = dataclasses.asdict(self.config)
        view.pop("api_key")
        return view
