"""The fleet's counters for Prometheus (`python -m app metrics`, app.ops.metrics), kept in Redis so
every process on every host adds to the same figures and one exporter reads them all.

One hash per metric family (`metrics:<family>`), its fields the label values joined by `|`; a
histogram keeps one field per bucket (the count of observations that fell in it, not cumulated:
the exporter cumulates), plus `sum` and `count`. Every write is HINCRBY / HINCRBYFLOAT, in one
pipeline per event, so counters only grow and never race. Label values are few and fixed (an
outcome, a way in, a model, an endpoint with its ids replaced by `{id}`): never a ticket id.

Tickets are counted when their run's summary is made (app.fleet.runs.finish_run), once per run
(`run:<id>:metered` guards a redelivered summarize), so the exported totals are the summaries'
totals; a dry run writes nothing and is not counted. Requests are counted as they are answered.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any

from app.domain.models import WRITTEN, TicketResult

log = logging.getLogger(__name__)

SEPARATOR = "|"

# Families, each one hash `metrics:<family>` (listed in app/fleet/__init__.py).
TICKETS = "tickets"  # outcome|source
MODES = "modes"  # mode (live, suggest, shadow): what of each handled ticket reached Zendesk
FALLBACKS = "fallbacks"  # reason
CREATED_TO_WRITTEN = "created_to_written"  # source|<bucket>, source|sum, source|count
CLAIM_TO_WRITTEN = "claim_to_written"  # <bucket>, sum, count
GATE = "gate"  # answered (tickets with an analysis), gated (the local model answered alone)
LLM_REQUESTS = "llm_requests"  # model|status
LLM_TOKENS = "llm_tokens"  # model|kind (input, output, cached)
LLM_COST = "llm_cost"  # model
ZENDESK_REQUESTS = "zendesk_requests"  # endpoint|status
LIMITER_WAIT = "limiter_wait"  # limiter (a shared bucket's name)

FAMILIES = (
    TICKETS,
    MODES,
    FALLBACKS,
    CREATED_TO_WRITTEN,
    CLAIM_TO_WRITTEN,
    GATE,
    LLM_REQUESTS,
    LLM_TOKENS,
    LLM_COST,
    ZENDESK_REQUESTS,
    LIMITER_WAIT,
)

# Upper bounds (seconds) of the latency buckets. Created to written spans a webhook's seconds and
# a backlog's days; claim to written is the fleet's own work, seconds to an hour.
CREATED_TO_WRITTEN_BUCKETS = (5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 14400.0, 86400.0, 604800.0)
CLAIM_TO_WRITTEN_BUCKETS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0)
INF = "+Inf"

# A fallback's reason (app.clients.llm) as a label: its kind, not its text (which names errors).
FALLBACK_KINDS = (
    ("LLM circuit breaker open", "breaker_open"),
    ("LLM paused after a 429", "rate_limited"),
    ("LLM quota used up", "quota"),
    ("LLM configuration fault", "config_fault"),
    ("LLM unavailable", "unavailable"),
    ("no valid LLM answer", "invalid_answer"),
    # The daily LLM budget (app.fleet.budget) refused the request: reached, or held by the
    # requests in flight (an SDK retry, which does not wait).
    ("daily LLM budget", "budget"),
)


def key(prefix: str, family: str) -> str:
    return f"{prefix}metrics:{family}"


def field(*labels: str) -> str:
    return SEPARATOR.join(label.replace(SEPARATOR, "/") for label in labels)


def bucket_of(seconds: float, bounds: tuple[float, ...]) -> str:
    """The field of the first bucket that holds `seconds` (le as Prometheus writes it)."""
    for bound in bounds:
        if seconds <= bound:
            return repr(bound)
    return INF


def fallback_kind(reason: str | None) -> str:
    if not reason:
        return "unknown"
    for start, kind in FALLBACK_KINDS:
        if reason.startswith(start):
            return kind
    return "other"


ID_SEGMENT = re.compile(r"^[A-Za-z_]+$")


def endpoint_label(method: str, path_or_url: str) -> str:
    """`PUT /api/v2/tickets/{id}.json`: method and path, without host or query, every id (a number,
    a job's hex id, a webhook's id) replaced by {id}, so the label has a handful of values."""
    path = path_or_url.split("?", 1)[0]
    if "://" in path:
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    parts = []
    for segment in path.split("/"):
        stem, dot, extension = segment.partition(".")
        if segment and segment != "v2" and not ID_SEGMENT.match(stem):
            segment = "{id}" + dot + extension
        parts.append(segment)
    return f"{method} {'/'.join(parts)}"


class Meters:
    """Adds to the fleet's counters in Redis. A counter that cannot be written is logged and
    dropped: metrics never fail a ticket or a request."""

    def __init__(self, client: Any, prefix: str = "", run_ttl: int = 90 * 24 * 3600) -> None:
        self.redis = client
        self.prefix = prefix
        self.run_ttl = run_ttl

    def _key(self, family: str) -> str:
        return key(self.prefix, family)

    def _write(self, increments: Iterable[tuple[str, str, float]]) -> None:
        try:
            pipe = self.redis.pipeline(transaction=False)
            for family, name, amount in increments:
                if isinstance(amount, int):
                    pipe.hincrby(self._key(family), name, amount)
                else:
                    pipe.hincrbyfloat(self._key(family), name, amount)
            pipe.execute()
        except Exception as e:  # one line: while Redis is away, every request would add a traceback
            log.warning("could not add to the fleet's metrics: %s: %s", type(e).__name__, e)

    def run_finished(self, run_id: str, source: str, results: list[TicketResult]) -> bool:
        """Count a finished run's tickets, once per run: False when it was counted already."""
        if not self.redis.set(f"{self.prefix}run:{run_id}:metered", "1", nx=True, ex=self.run_ttl):
            return False
        self._write(run_increments(source, results))
        return True

    def llm_request(
        self, model: str, status: str, prompt: int = 0, completion: int = 0, cached: int = 0, cost: float = 0.0
    ) -> None:
        """One request answered (status: the HTTP status, or `error` without an answer)."""
        increments: list[tuple[str, str, float]] = [(LLM_REQUESTS, field(model, status), 1)]
        # OpenAI's prompt tokens include the cached ones: input counts the rest, so the kinds add up.
        for kind, tokens in (("input", prompt - cached), ("output", completion), ("cached", cached)):
            if tokens > 0:
                increments.append((LLM_TOKENS, field(model, kind), int(tokens)))
        if cost > 0:
            increments.append((LLM_COST, field(model), float(cost)))
        self._write(increments)

    def zendesk_request(self, method: str, path_or_url: str, status: str) -> None:
        self._write([(ZENDESK_REQUESTS, field(endpoint_label(method, path_or_url), status), 1)])

    def limiter_wait(self, limiter: str, seconds: float) -> None:
        if seconds > 0:
            self._write([(LIMITER_WAIT, field(limiter), float(seconds))])


def run_increments(source: str, results: list[TicketResult]) -> list[tuple[str, str, float]]:
    """What a run adds, summed in the process first: one field increment each, whatever the run's size."""
    counts: Counter[tuple[str, str]] = Counter()
    sums: dict[tuple[str, str], float] = {}

    def observe(family: str, labels: tuple[str, ...], seconds: float, bounds: tuple[float, ...]) -> None:
        seconds = max(0.0, seconds)
        counts[(family, field(*labels, bucket_of(seconds, bounds)))] += 1
        counts[(family, field(*labels, "count"))] += 1
        total = (family, field(*labels, "sum"))
        sums[total] = sums.get(total, 0.0) + seconds

    for result in results:
        counts[(TICKETS, field(result.status, source))] += 1
        if result.status in WRITTEN:
            counts[(MODES, field(result.mode))] += 1
        if result.status == "fallback":
            reason = result.analysis.get("fallback_reason") if result.analysis else None
            counts[(FALLBACKS, field(fallback_kind(reason)))] += 1
        if result.analysis:
            counts[(GATE, "answered")] += 1
            if result.analysis.get("gate") == "skipped_llm":
                counts[(GATE, "gated")] += 1
        if result.written_at is not None:
            if result.claimed_at is not None:
                observe(CLAIM_TO_WRITTEN, (), result.written_at - result.claimed_at, CLAIM_TO_WRITTEN_BUCKETS)
            if result.created_at is not None:
                observe(
                    CREATED_TO_WRITTEN, (source,), result.written_at - result.created_at, CREATED_TO_WRITTEN_BUCKETS
                )
    increments: list[tuple[str, str, float]] = [(family, name, count) for (family, name), count in counts.items()]
    increments += [(family, name, round(total, 6)) for (family, name), total in sums.items()]
    return increments
