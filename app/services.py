"""Long-lived per-process objects: Redis, the Zendesk client, the redactor, the classifier,
the shared rate limiter and the stores; and the composition root, `fleet()`, which hands them to
the fleet's stages (app.fleet.context). Nothing in app.fleet imports this module.

Each is built on first use in the process that uses it. Sockets must not cross a fork, so the
network clients are rebuilt when the pid changes; the redactor (a read-only spaCy model) is
meant to be loaded in the worker's parent before it forks, so the children share its memory.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pybreaker
import redis

from app.clients.breakers import ClearFaultOnClose, ProcessFaultLog
from app.clients.zendesk import (
    ZendeskClient,
    ZendeskError,
    is_export,
    is_incremental,
    is_update_ticket,
    zendesk_breaker,
)
from app.clients.zendesk_admin import ZendeskAdmin
from app.clients.zendesk_auth import TOKEN_PATH, ApiTokenAuth, OAuthClientCredentials, TokenStore, ZendeskAuth
from app.domain.rules import Classifier, RulesClassifier
from app.domain.taxonomy import Taxonomy, TaxonomyError, load_taxonomy
from app.fleet import lanes
from app.fleet.budget import DailyBudget
from app.fleet.claims import Claims, DeadLetters
from app.fleet.context import Fleet
from app.fleet.intake import IntakeQueue
from app.fleet.meters import Meters
from app.fleet.predictions import PredictionStore
from app.fleet.ratelimit import Quota, SharedRateLimiter, parse_duration
from app.fleet.replies import text
from app.fleet.store import (
    BulkJobLog,
    FaultRecord,
    JobSlots,
    LanePauseGate,
    ProcessPauseGate,
    RedisPauseGate,
    RunStore,
    SharedTokenStore,
)
from app.fleet.sweep import SweepOutcome
from app.learn.classifier import LocalClassifier
from app.learn.model import LocalModelError, load_model
from app.ops.alerts import Alerts, BreakerAlert, WebhookSender
from app.ops.zendesk_setup import check as check_zendesk_setup
from app.redaction.redactor import MAX_TEXT_CHARS, Redactor
from app.redis_connection import connect_redis
from app.settings import ConfigError, Settings, get_settings

T = TypeVar("T")
_per_process: dict[str, tuple[int, Any]] = {}
_shared: dict[str, Any] = {}
# On the I/O pool's threads, the first tickets arrive together: one thread builds each object while
# the others wait for it, instead of each building its own client. Reentrant: builds nest.
_building = threading.RLock()


def reset() -> None:
    """Forget the settings and every object built from them: the next use builds them again from
    the environment as it is now (tests change settings). The spaCy model stays loaded: nothing
    in it depends on settings, and loading it takes seconds."""
    get_settings.cache_clear()
    _per_process.clear()
    _shared.pop("taxonomy", None)
    _shared.pop("local_model", None)


def _settings() -> Settings:
    """The settings these building blocks read. Zendesk's own are demanded where they are used
    (zendesk(), and every entry point but redact, classify and train FILE)."""
    return get_settings(need_zendesk=False)


def _for_this_process(name: str, build: Callable[[], T]) -> T:
    pid = os.getpid()
    entry = _per_process.get(name)
    if entry is None or entry[0] != pid:
        with _building:
            entry = _per_process.get(name)
            if entry is None or entry[0] != pid:
                entry = (pid, build())
                _per_process[name] = entry
    return entry[1]


def _once(name: str, build: Callable[[], T]) -> T:
    """Built once and shared by every process forked after (read-only models)."""
    if name not in _shared:
        with _building:
            if name not in _shared:
                _shared[name] = build()
    return _shared[name]


def on_pool_thread() -> bool:
    """Running on a thread pool's thread: Celery's thread pool runs tasks off the main thread, a
    prefork child on it."""
    return threading.current_thread() is not threading.main_thread()


def max_sleep(settings: Settings) -> float:
    """How long a call may wait in place for a quota token: RATE_LIMIT_MAX_SLEEP in a process of its
    own (a prefork child asleep holds a whole process), RATE_LIMIT_MAX_SLEEP_THREADS on a pool's
    thread (a thread asleep costs nothing, and a countdown retry would only add a trip through the
    broker)."""
    return settings.workers.rate_limit_max_sleep_threads if on_pool_thread() else settings.workers.rate_limit_max_sleep


def redis_client() -> redis.Redis:
    """The fleet's Redis client in this process (connect_redis)."""
    return _for_this_process("redis", lambda: connect_redis(_settings()))


def claims() -> Claims:
    """Tickets' claims and done markers (app.fleet.claims)."""
    settings = _settings()
    return _for_this_process(
        "claims",
        lambda: Claims(redis_client(), settings.intake.claim_ttl, settings.intake.done_ttl, settings.redis.prefix),
    )


def intake_queue() -> IntakeQueue:
    """Tickets announced by webhooks, waiting for a worker to claim them (app.fleet.intake)."""
    return _for_this_process("intake", lambda: IntakeQueue(redis_client(), _settings().redis.prefix))


def dead_letters() -> DeadLetters:
    return _for_this_process("dead", lambda: DeadLetters(claims()))


def run_store() -> RunStore:
    return _for_this_process("runs", lambda: RunStore(redis_client(), _settings().redis.prefix))


def bulk_jobs() -> BulkJobLog:
    return _for_this_process("bulkjobs", lambda: BulkJobLog(redis_client(), _settings().redis.prefix))


def job_slots() -> JobSlots:
    """The fleet-wide cap on update_many jobs queued or running (BULK_MAX_JOBS)."""
    settings = _settings()
    return _for_this_process(
        "jobslots", lambda: JobSlots(redis_client(), settings.workers.bulk_max_jobs, settings.redis.prefix)
    )


def meters() -> Meters:
    """The fleet's Prometheus counters in Redis (app.fleet.meters), read by `python -m app metrics`."""
    return _for_this_process("meters", lambda: Meters(redis_client(), _settings().redis.prefix))


def predictions() -> PredictionStore:
    """Every ticket's prediction, kept PREDICTION_RETENTION_DAYS for `python -m app accuracy`."""
    settings = _settings()
    return _for_this_process(
        "predictions",
        lambda: PredictionStore(redis_client(), settings.redis.prefix, settings.intake.prediction_retention_days),
    )


def limiter() -> SharedRateLimiter:
    return _for_this_process(
        "limiter", lambda: SharedRateLimiter(redis_client(), _settings().redis.prefix, waited=meters().limiter_wait)
    )


def zendesk_throttle() -> Callable[[str, str], float]:
    """Takes the account token, plus the Update Ticket token (the fleet's share of it) for a
    single-ticket PUT, the search export's own token for an export page, or the incremental
    export's for one of its pages."""
    settings = _settings()
    window = settings.zendesk.rate_window
    account = Quota("zendesk:account", settings.zendesk.rate_limit, window)
    updates = Quota("zendesk:update_ticket", settings.zendesk.fleet_update_limit, window)
    export = Quota("zendesk:export", settings.zendesk.export_rate_limit, window)
    incremental = Quota("zendesk:incremental", settings.zendesk.incremental_rate_limit, window)

    def throttle(method: str, path: str) -> float:
        priority = lanes.in_intake()
        if is_update_ticket(method, path):
            # The fleet's share of Update Ticket is scarce and many tasks want it: in a process of
            # its own, one that must wait goes back to the queue (a countdown) rather than hold the
            # process asleep; on a pool thread it waits in place, as retrying every few seconds
            # would cost the LLM's threads CPU for nothing (bench/plan_ceiling.py).
            return limiter().acquire(
                [(updates, 1.0), (account, 1.0)], max_sleep(settings) if on_pool_thread() else 0, priority
            )
        quotas = [(export, 1.0)] if is_export(path) else [(incremental, 1.0)] if is_incremental(path) else []
        return limiter().acquire([*quotas, (account, 1.0)], max_sleep(settings), priority)

    return throttle


# OpenAI: "rate limits can be quantized, meaning they are enforced over shorter periods of time
# (e.g. 60,000 requests/minute may be enforced as 1,000 requests/second)"
# (https://platform.openai.com/docs/guides/rate-limits). A burst of two seconds' pace keeps the
# fleet near the per-second pace, and leaves the bucket's refill 5% under the plan, not 10%.
LLM_BURST_SECONDS = 2.0
# A classification takes its token just before it sends (app.clients.llm), so a quarter second
# covers the way from token to OpenAI even on a busy 2-core host (bench/plan_ceiling.py: 0 429s
# in 3,000 requests at the plan's pace), and the refill comes to 96% of the plan.
LLM_DELAY_ALLOWANCE = 0.25
# The most a classification request can be charged: subject and description cut at MAX_TEXT_CHARS
# each, four characters to a token, plus room for the instructions and the answer's schema.
LARGEST_PROMPT_TOKENS = (2 * MAX_TEXT_CHARS + 8_000) // 4


def _llm_quotas() -> tuple[Quota, Quota]:
    """OpenAI's two per-minute limits, requests and tokens, paced alike (see above)."""
    settings = _settings()
    largest_request = LARGEST_PROMPT_TOKENS + settings.llm.completion_tokens
    paced = functools.partial(
        Quota,
        window=settings.llm.rate_window,
        burst_seconds=LLM_BURST_SECONDS,
        delay_allowance=LLM_DELAY_ALLOWANCE,
    )
    return paced("llm:requests", settings.llm.rpm), paced("llm:tokens", settings.llm.tpm, min_capacity=largest_request)


def llm_throttle() -> Callable[[int], float]:
    """Takes one request and `tokens` tokens (counted as OpenAI's limiter counts them) from the
    LLM account's quotas."""
    settings = _settings()
    requests_quota, tokens_quota = _llm_quotas()

    def throttle(tokens: int) -> float:
        return limiter().acquire(
            [(requests_quota, 1.0), (tokens_quota, float(tokens))], max_sleep(settings), lanes.in_intake()
        )

    return throttle


def llm_pause_gate() -> LanePauseGate:
    """`llm:paused` after a 429 (everyone waits), `llm:paused:backlog` when OpenAI's headers say the
    quota is nearly spent (the backlog waits; a new ticket takes what the shared bucket allows)."""
    return LanePauseGate(redis_client(), f"{_settings().redis.prefix}llm:paused")


def llm_faults() -> FaultRecord:
    """The LLM configuration fault every process sees (health and the breaker's alert name it)."""
    return FaultRecord(redis_client(), f"{_settings().redis.prefix}llm:fault")


def llm_quota_observer(
    pause_gate: LanePauseGate | ProcessPauseGate | None = None,
) -> Callable[[Mapping[str, str]], None]:
    """Corrects the shared LLM quota from an answer's x-ratelimit-remaining-* headers: the buckets
    never hold more than OpenAI says is left (another application may share the key), and a quota
    OpenAI says is spent pauses the backlog (of `pause_gate`, the fleet's by default) until its
    x-ratelimit-reset-* time; the intake lane keeps to the lowered buckets, which refill slower
    than OpenAI's quota does."""
    settings = _settings()
    quotas = dict(zip(("requests", "tokens"), _llm_quotas()))
    # Less left than one request may take: the next one would be refused.
    too_little = {"requests": 1, "tokens": 2 * settings.llm.completion_tokens}

    def observe(headers: Mapping[str, str]) -> None:
        for kind, quota in quotas.items():
            raw = headers.get(f"x-ratelimit-remaining-{kind}")
            if raw is None or quota.limit <= 0:
                continue
            remaining = float(raw)
            limiter().clamp(quota, remaining)
            reset = parse_duration(headers.get(f"x-ratelimit-reset-{kind}"))
            if remaining < too_little[kind] and reset:
                (pause_gate or llm_pause_gate()).pause_backlog(reset)

    return observe


def alerts() -> Alerts:
    """Webhook alerts with a shared cool-down; sends nothing when ALERT_WEBHOOK_URL is unset."""

    def build() -> Alerts:
        settings = _settings()
        url = settings.operators.alert_webhook_url
        sender = WebhookSender(url.get_secret_value()) if url is not None else None
        return Alerts(redis_client(), settings.redis.prefix, sender, settings.operators.alert_cooldown)

    return _for_this_process("alerts", build)


def _alerting(breaker: pybreaker.CircuitBreaker, faults: FaultRecord) -> pybreaker.CircuitBreaker:
    """Alerts when the breaker opens (naming the configuration fault, if one opened it); the fault
    is cleared when the breaker closes again."""
    breaker.add_listener(BreakerAlert(alerts(), faults.get))
    breaker.add_listener(ClearFaultOnClose(faults))
    return breaker


def zendesk_faults() -> FaultRecord:
    """The Zendesk configuration fault every process sees (health and the breaker's alert name it)."""
    return FaultRecord(redis_client(), f"{_settings().redis.prefix}zendesk:fault")


def _shared_circuit(
    service: str, build: Callable[[Any, str, int, float], pybreaker.CircuitBreaker], faults: FaultRecord
) -> pybreaker.CircuitBreaker:
    """`service`'s breaker (built by its client module's `build`), its state shared by every process
    through Redis and tuned by that service's settings group; alerts when it opens."""
    settings = _settings()
    group = settings.zendesk if service == "zendesk" else settings.llm
    breaker = build(
        redis_client(), f"{settings.redis.prefix}breaker:{service}", group.breaker_fail_max, group.breaker_reset_timeout
    )
    return _alerting(breaker, faults)


def zendesk_circuit() -> pybreaker.CircuitBreaker:
    """The Zendesk breaker, shared by every process; alerts when it opens."""
    return _shared_circuit("zendesk", zendesk_breaker, zendesk_faults())


def llm_circuit() -> pybreaker.CircuitBreaker:
    """The LLM breaker, shared by every process; alerts when it opens."""
    from app.clients.llm import llm_breaker

    return _shared_circuit("llm", llm_breaker, llm_faults())


def zendesk_auth(settings: Settings, store: TokenStore) -> ZendeskAuth:
    """The credential to send: the OAuth client's shared token (kept in `store`), else the API token."""
    if settings.zendesk.credentials == "oauth":
        assert settings.zendesk.oauth_client_id and settings.zendesk.oauth_client_secret  # zendesk_credentials
        return OAuthClientCredentials(
            f"{settings.zendesk.base_url}{TOKEN_PATH}",
            settings.zendesk.oauth_client_id,
            settings.zendesk.oauth_client_secret.get_secret_value(),
            settings.zendesk.oauth_scope,
            store,
            settings.zendesk.oauth_token_lifetime,
            timeout=settings.zendesk.timeout,
        )
    if settings.zendesk.email and settings.zendesk.api_token:
        return ApiTokenAuth(settings.zendesk.email, settings.zendesk.api_token)
    raise ConfigError("; ".join(settings.zendesk.missing()))


def zendesk() -> ZendeskClient:
    """The Zendesk client of this process: the fleet's shared token, quotas, pause and breaker."""
    settings = get_settings()
    return _for_this_process(
        "zendesk",
        lambda: ZendeskClient(
            settings.zendesk.base_url,
            zendesk_auth(settings, SharedTokenStore(redis_client(), settings.redis.prefix)),
            timeout=settings.zendesk.timeout,
            pause_gate=RedisPauseGate(redis_client(), f"{settings.redis.prefix}zendesk:paused"),
            breaker=zendesk_circuit(),
            throttle=zendesk_throttle(),
            faults=zendesk_faults(),
            meter=meters().zendesk_request,
        ),
    )


# How long a detected priority mode holds before it is looked at again (setup may have run since).
PRIORITY_MODE_TTL = 300.0


def priority_mode() -> tuple[str, str]:
    """("triggers" | "safe_put", why): who raises priorities (PRIORITY_MODE). With auto, whether
    the fleet's priority triggers are installed as setup makes them, looked at by one process every
    PRIORITY_MODE_TTL seconds and shared through Redis; until the first look has an answer, or when
    it fails, the safe PUTs, which work either way."""
    settings = _settings()
    if settings.workers.priority_mode != "auto":
        return settings.workers.priority_mode, f"PRIORITY_MODE={settings.workers.priority_mode}"
    client = redis_client()
    key = f"{settings.redis.prefix}zendesk:priority_mode"
    raw = client.hgetall(key)
    known = {text(k): text(v) for k, v in raw.items()}
    fresh = known and time.time() - float(known.get("at", 0)) < PRIORITY_MODE_TTL
    if fresh:
        return known["mode"], known["why"]
    if not client.set(f"{key}:looking", "1", nx=True, ex=60):
        if known:  # another process looks again; the last answer holds meanwhile
            return known["mode"], known["why"]
        return _first_look(key)
    try:
        findings = check_zendesk_setup(ZendeskAdmin(zendesk()), taxonomy(), only_priorities=True)
    except ZendeskError as e:
        return (known["mode"], known["why"]) if known else ("safe_put", f"PRIORITY_MODE=auto: could not look ({e})")
    finally:
        client.delete(f"{key}:looking")
    mode, why = (
        ("triggers", "PRIORITY_MODE=auto: the fleet's priority triggers are installed")
        if not findings
        else (
            "safe_put",
            f"PRIORITY_MODE=auto: the priority triggers are not ready ({findings[0]}; "
            "`python -m app zendesk setup` installs them)",
        )
    )
    client.hset(key, mapping={"mode": mode, "why": why, "at": repr(time.time())})
    client.expire(key, int(10 * PRIORITY_MODE_TTL))
    return mode, why


def _first_look(key: str, patience: float = 15.0) -> tuple[str, str]:
    """Another process is looking for the first time: wait for its answer rather than start a
    backlog on the safe PUTs that the triggers would have spared."""
    client = redis_client()
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        raw = client.hmget(key, "mode", "why")
        if raw[0] is not None and raw[1] is not None:
            return text(raw[0]), text(raw[1])
        time.sleep(0.1)
    return "safe_put", "PRIORITY_MODE=auto: not looked at yet"


def forget_priority_mode() -> None:
    """Look again at the next write (setup just changed the triggers)."""
    redis_client().delete(f"{_settings().redis.prefix}zendesk:priority_mode")


def priority_by_triggers() -> bool:
    return priority_mode()[0] == "triggers"


def redactor() -> Redactor:
    """Shared across forks on purpose: loaded once, read only."""
    return _once("redactor", Redactor)


def taxonomy() -> Taxonomy:
    """The taxonomy from TAXONOMY_FILE (or the default); a bad file is a configuration error."""

    def build() -> Taxonomy:
        try:
            return load_taxonomy(_settings().llm.taxonomy_file)
        except TaxonomyError as e:
            raise ConfigError(f"TAXONOMY_FILE: {e}") from None

    return _once("taxonomy", build)


def local_classifier() -> LocalClassifier | None:
    """The model at LOCAL_MODEL_PATH, or None when there is none. Like the redactor, loaded once
    and shared across forks (read only). A model that cannot be used (damaged, or trained for
    another taxonomy) is a configuration error: the worker stops at start-up and says why."""

    def build() -> LocalClassifier | None:
        path = _settings().learning.model_path
        try:
            model = load_model(path, taxonomy()) if path.is_file() else None
        except LocalModelError as e:
            raise ConfigError(f"LOCAL_MODEL_PATH: {e}") from None
        return LocalClassifier(model, taxonomy()) if model is not None else None

    return _once("local_model", build)


def check_classifier(provider: str | None = None, private: bool = False) -> str:
    """The provider that will classify ("rules", "local" or "openai"; None: as configured), or a
    ConfigError saying what it lacks. Workers call it at start-up, so a missing model stops the
    worker there rather than failing every ticket. `private`: for a command a person runs, which
    does not spend the fleet's daily budget."""
    settings = _settings()
    provider = provider or settings.llm_choice()[0]
    local = local_classifier()
    if provider == "local" and local is None:
        raise ConfigError(
            f"LLM_PROVIDER=local: no model at LOCAL_MODEL_PATH ({settings.learning.model_path}); "
            "train one with `python -m app train FILE`"
        )
    if provider == "openai":
        if not (settings.llm.openai_api_key or settings.llm.base_url):
            raise ConfigError("the openai provider needs OPENAI_API_KEY (or LLM_BASE_URL for a compatible server)")
        if settings.learning.gate_confidence is not None and local is None:
            raise ConfigError(
                f"LOCAL_GATE_CONFIDENCE needs a local model at LOCAL_MODEL_PATH "
                f"({settings.learning.model_path}); train one with `python -m app train FILE`"
            )
        if not private:
            check_budget_price(settings)
    return provider


def build_classifier(provider: str | None = None, private: bool = False) -> Classifier:
    """The classifier for `provider` ("rules", "local" or "openai"; None: as configured).

    `private`, for a command a person runs (`classify`): the LLM breaker, configuration fault and
    pauses it meets are this process's own, so a local experiment (a misspelt model, another key)
    never pauses the fleet, opens its breaker or shows in `health`. It still takes the shared quota
    (the OpenAI account is the fleet's) and honours the fleet's pauses."""
    from app.clients.llm import Gate, LLMClassifier, RedisAnalysisCache, private_llm_breaker

    settings = _settings()
    provider = check_classifier(provider, private)
    local = local_classifier()
    if provider == "rules":
        return RulesClassifier(taxonomy())
    if provider == "local":
        assert local is not None  # check_classifier said so
        return local
    gate = (
        Gate(local, settings.learning.gate_confidence, settings.learning.gate_audit_share)
        if local is not None and settings.learning.gate_confidence is not None
        else None
    )
    import openai

    from app.clients.llm_budget import attempt_hooks

    client = openai.OpenAI(
        api_key=settings.llm.openai_api_key or "not-needed",  # compatible servers often need no key
        base_url=settings.llm.base_url,
        timeout=settings.llm.timeout,
        max_retries=settings.llm.sdk_max_retries,
        # Every HTTP attempt, the SDK's retries included, seen by the daily budget (BudgetedCall).
        http_client=openai.DefaultHttpxClient(event_hooks=attempt_hooks()),
    )
    cache = (
        RedisAnalysisCache(redis_client(), settings.llm.cache_ttl, settings.redis.prefix)
        if settings.llm.cache_ttl
        else None
    )
    if private:
        breaker = private_llm_breaker(settings.llm.breaker_fail_max, settings.llm.breaker_reset_timeout)
        faults: ProcessFaultLog | FaultRecord = ProcessFaultLog()
        pause_gate: ProcessPauseGate | LanePauseGate = ProcessPauseGate(llm_pause_gate())
    else:
        breaker, faults, pause_gate = llm_circuit(), llm_faults(), llm_pause_gate()
    # The local model, when there is one, answers in the rules' place when the LLM cannot.
    return LLMClassifier(
        client,
        settings.llm.model,
        taxonomy(),
        local or RulesClassifier(taxonomy()),
        breaker,
        cache,
        attempts=settings.llm.attempts,
        max_tokens=settings.llm.completion_tokens,
        temperature=settings.llm.temperature,
        price_override=settings.llm.price_override,
        throttle=llm_throttle(),
        pause_gate=pause_gate,
        faults=faults,
        observe_quota=llm_quota_observer(pause_gate),
        gate=gate,
        announce_faults=not private,
        # The fleet's requests count in its metrics; a command a person runs keeps its own to itself.
        meter=None if private else meters().llm_request,
        # ...and the fleet's daily budget is the fleet's: `classify` neither spends nor heeds it.
        budget=None if private else llm_budget(),
        summary_language=settings.workers.note_language,
    )


# --- The daily LLM budget (LLM_DAILY_BUDGET_USD; app.fleet.budget) ------------------------------------


def check_budget_price(settings: Settings) -> None:
    """A budget counts each request at the model's price: a model without one (neither built in
    nor LLM_PRICE_*_PER_MTOK) would be free to it, so the fleet does not start."""
    from app.clients.llm_prices import price_for

    llm = settings.llm
    if llm.daily_budget_usd is not None and llm.price_override is None and price_for(llm.model) is None:
        raise ConfigError(
            f"LLM_DAILY_BUDGET_USD: no price is known for LLM_MODEL={llm.model}, so the budget could not count "
            "what it spends; set LLM_PRICE_INPUT_PER_MTOK and LLM_PRICE_OUTPUT_PER_MTOK (US dollars per "
            "million tokens; 0 for a model that costs nothing)"
        )


def budget_fallback_name() -> str:
    """What classifies tickets once the day's budget is reached: the LLM's fallback."""
    return "local model" if local_classifier() is not None else "rules"


def llm_budget() -> DailyBudget | None:
    """The fleet's daily LLM budget (app.fleet.budget.DailyBudget), or None when LLM_DAILY_BUDGET_USD
    is unset. Its 80% mark and its first refusal each log one warning and send one alert a UTC day,
    from the process whose reservation crossed them."""
    from app.ops.alerts import announce, budget_reached_alert, budget_warning_alert

    settings = _settings()
    limit = settings.llm.daily_budget_usd
    if limit is None:
        return None

    def build() -> DailyBudget:
        answered_by = budget_fallback_name()
        return DailyBudget(
            redis_client(),
            limit,
            settings.redis.prefix,
            on_warning=lambda day: announce(alerts(), budget_warning_alert(day, answered_by)),
            on_reached=lambda day: announce(alerts(), budget_reached_alert(day, answered_by)),
            # A reservation is taken before the request waits for quota, then the request may take
            # LLM_TIMEOUT: past both and a margin, one never settled was left by a dead worker.
            hold_seconds=settings.llm.timeout
            + max(settings.workers.rate_limit_max_sleep, settings.workers.rate_limit_max_sleep_threads)
            + 30.0,
        )

    return _for_this_process("llm_budget", build)


def classifier() -> Classifier:
    """The configured classifier: one OpenAI client (one connection pool) per process."""
    return _for_this_process("classifier", build_classifier)


def fleet() -> Fleet:
    """What the fleet's stages use, from this process's objects (app.fleet.context)."""
    return Fleet(
        settings=get_settings,
        claims=claims,
        dead_letters=dead_letters,
        run_store=run_store,
        intake_queue=intake_queue,
        bulk_jobs=bulk_jobs,
        job_slots=job_slots,
        taxonomy=taxonomy,
        classifier=classifier,
        zendesk=zendesk,
        alerts=alerts,
        meters=meters,
        predictions=predictions,
        priority_by_triggers=priority_by_triggers,
        max_sleep=max_sleep,
    )


def start_run(
    ticket_ids: list[int] | None = None, limit: int | None = None, dry_run: bool = False, source: str = "sweep"
) -> SweepOutcome:
    """app.fleet.dispatch.start_run with this process's fleet: one sweep now and its chord."""
    # Imported here: dispatch loads the Celery application, which commands without a run need not.
    from app.fleet import dispatch

    return dispatch.start_run(fleet(), ticket_ids, limit, dry_run, source)
