"""Settings for every process of the fleet, read once from the environment and `.env`.

`Settings` is made of groups, each read by its own pydantic-settings class: `zendesk`, `llm`,
`redis`, `intake`, `learning`, `operators` and `workers`. The environment variables keep their
flat names (ZENDESK_URL is `settings.zendesk.url`): a field is its variable's name in lower case
without the group's prefix (ZENDESK_, LLM_, REDIS_, LOCAL_), where the variable has that prefix.

`get_settings()` turns validation errors into `ConfigError`, whose message names each bad setting
by its environment variable, so a worker, beat or the CLI stops at start-up with a line an
operator can act on instead of a traceback.
"""

from __future__ import annotations

import logging
import math
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, BeforeValidator, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from app.settings_redis import (
    REDIS_CONNECT_TIMEOUT,
    REDIS_SOCKET_TIMEOUT,
    SENTINEL_TIMEOUT,
    RedisSettings,
    SettingsGroup,
    parse_sentinels,
    sentinel_node_options,
    without_password,
)

__all__ = [
    "REDIS_CONNECT_TIMEOUT",
    "REDIS_SOCKET_TIMEOUT",
    "SENTINEL_TIMEOUT",
    "ConfigError",
    "IntakeSettings",
    "LearningSettings",
    "LLMSettings",
    "OperatorSettings",
    "RedisSettings",
    "Settings",
    "WorkerSettings",
    "ZendeskSettings",
    "get_settings",
    "is_reasoning_model",
    "parse_sentinels",
    "sentinel_node_options",
]

log = logging.getLogger(__name__)

# "Migrating from API tokens to OAuth access tokens" (developer.zendesk.com): no new API tokens since
# 2026-10-27, and every API token stops working on this day.
API_TOKENS_END = date(2027, 4, 30)
# A subdomain is one DNS label: letters, digits and hyphens, not at either end (acme, acme-support).
SUBDOMAIN = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# A scope is read, write, or a resource's own (tickets:read, triggers:write, ...), space-separated.
SCOPE_WORD = re.compile(r"^(read|write|[a-z_]+:(read|write))$")

DEFAULT_MAX_TOKENS = 400
# Reasoning tokens count against max_completion_tokens; 400 would leave no room for the answer.
REASONING_MAX_TOKENS = 2000
WEBHOOK_SWEEP_INTERVAL = 300.0  # beat's sweep with webhooks on: the safety net (see sweep_interval)
# LLM_DAILY_BUDGET_USD's ceiling: the budget is counted in Redis in whole nano-dollars, which stay
# exact in Redis's Lua numbers (doubles) far beyond this.
MAX_DAILY_BUDGET_USD = 1_000_000.0


def is_reasoning_model(model: str) -> bool:
    """gpt-5 family and o-series models (and their dated snapshots): they refuse `max_tokens` and
    any temperature but the default (https://platform.openai.com/docs/guides/reasoning)."""
    name = model.lower().rsplit("/", 1)[-1]
    return name.startswith("gpt-5") or (len(name) > 1 and name[0] == "o" and name[1].isdigit())


def subdomain_problem(value: str) -> str | None:
    """What is wrong with a ZENDESK_SUBDOMAIN value, as the rest of a sentence; None: nothing."""
    if SUBDOMAIN.match(value):
        return None
    example = "(acme for https://acme.zendesk.com)"
    if "://" in value or "." in value:
        host = urlparse(value if "://" in value else f"//{value}").hostname or ""
        label = host.removesuffix(".zendesk.com")
        if host.endswith(".zendesk.com") and SUBDOMAIN.match(label):
            return f"is a host name: give only the subdomain, ZENDESK_SUBDOMAIN={label}"
        return f"is a URL or host name: give only the subdomain {example}, or set ZENDESK_URL instead"
    if any(c.isspace() for c in value):
        return f"contains a space: a subdomain has only letters, digits and hyphens {example}"
    wrong = sorted({c for c in value if not (c.isascii() and (c.isalnum() or c == "-"))})
    if wrong:
        return (
            f"contains {' '.join(repr(c) for c in wrong)}: a subdomain has only letters, digits and hyphens {example}"
        )
    if len(value) > 63:
        return "is longer than 63 characters, the most a subdomain may have"
    return f"starts or ends with a hyphen, which a subdomain may not {example}"


def _blank_is_unset(value: object) -> object:
    """An empty `NAME=` line in .env means unset, as if the line were not there."""
    return None if isinstance(value, str) and not value.strip() else value


# On a field: `Annotated[X | None, BLANK_IS_UNSET]`.
BLANK_IS_UNSET = BeforeValidator(_blank_is_unset)


class ConfigError(SystemExit):
    """Bad or missing configuration. A SystemExit so entry points stop with the message alone."""

    def __init__(self, message: str) -> None:
        super().__init__(f"configuration error: {message}")


class ZendeskSettings(SettingsGroup):
    """Where the Zendesk account is, the fleet's credentials, and the account's quotas."""

    model_config = SettingsConfigDict(env_prefix="ZENDESK_")

    # A full base URL (simulator, proxy) or the account subdomain.
    url: Annotated[str | None, BLANK_IS_UNSET] = None
    subdomain: Annotated[str | None, BLANK_IS_UNSET] = None
    # Needed by everything that talks to Zendesk; `python -m app redact|classify|train FILE` run without.
    # An OAuth client (Admin Center > Apps and integrations > APIs > OAuth clients, a confidential
    # client): the fleet asks for one access token with the client credentials grant and shares it
    # through Redis. Or, until Zendesk turns them off on 2027-04-30, an API token. Both: OAuth wins.
    oauth_client_id: Annotated[str | None, BLANK_IS_UNSET] = None
    oauth_client_secret: Annotated[SecretStr | None, BLANK_IS_UNSET] = None
    oauth_scope: str = "read write"
    # expires_in asked for each token: Zendesk takes more than 300 and less than 172,800 seconds,
    # and its default depends on when the client was created, so the fleet always says. Two hours:
    # a token read out of Redis is worth little for long, and renewing costs one request.
    oauth_token_lifetime: int = Field(default=7200, gt=300, lt=172_800)
    email: Annotated[str | None, BLANK_IS_UNSET] = None
    api_token: Annotated[str | None, BLANK_IS_UNSET] = None
    timeout: float = Field(default=30.0, gt=0, description="seconds per HTTP request")
    # The account's quotas, kept by every process together (0 turns one off). Zendesk: requests per
    # minute by plan (Team 200, Growth/Professional 400, Enterprise 700, High Volume 2500) and the
    # separate Update Ticket limit of 100 per minute.
    rate_limit: int = Field(default=700, ge=0)
    update_rate_limit: int = Field(default=100, ge=0)
    # Agents' edits in the Zendesk UI count against the same Update Ticket limit, so the fleet
    # takes only this share of it: the rest is left to the people working the queue.
    update_share: float = Field(default=0.5, gt=0, le=1)
    # The search export's own limit (requests per window), on top of the account's.
    export_rate_limit: int = Field(default=100, ge=0)
    # The incremental exports' own limit (`train --from-zendesk` reads the history through one).
    incremental_rate_limit: int = Field(default=10, ge=0)
    rate_window: float = Field(default=60.0, gt=0, description="seconds the limits count over")
    breaker_fail_max: int = Field(default=5, ge=1, description="5xx/timeouts in a row that open it")
    breaker_reset_timeout: float = Field(default=30.0, gt=0, description="seconds before a trial call")

    @field_validator("email", "api_token", "oauth_client_id")
    @classmethod
    def _stripped(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None

    @field_validator("oauth_scope")
    @classmethod
    def _scopes(cls, value: str) -> str:
        words = value.split()
        wrong = [word for word in words if not SCOPE_WORD.match(word)]
        if not words or wrong:
            raise ValueError(
                f"{' '.join(wrong) or 'an empty scope'}: expected space-separated scopes such as "
                "'read write' or 'tickets:read tickets:write'"
            )
        return " ".join(words)

    @field_validator("subdomain")
    @classmethod
    def _subdomain(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        problem = subdomain_problem(value)
        if problem:
            raise ValueError(f"{value!r} {problem}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ZendeskSettings:
        if self.url:
            url = urlparse(self.url)
            if url.scheme not in {"http", "https"} or not url.hostname:
                raise ValueError(
                    f"ZENDESK_URL must be http:// or https:// and a host, got {without_password(self.url)!r}"
                )
        if self.url and self.subdomain:
            # Not one silently winning: a ZENDESK_URL left from trying the simulator would send a real
            # account's fleet to it (or the other way round), with no word of it.
            raise ValueError(
                f"ZENDESK_URL ({without_password(self.url)}) and ZENDESK_SUBDOMAIN ({self.subdomain}) are "
                "both set: set only one, ZENDESK_SUBDOMAIN for your Zendesk account, ZENDESK_URL for a "
                "proxy or the simulator"
            )
        return self

    @property
    def credentials(self) -> Literal["oauth", "api_token"] | None:
        """Which credentials the fleet uses: the OAuth client when it is set, else an API token."""
        if self.oauth_client_id and self.oauth_client_secret:
            return "oauth"
        if self.email and self.api_token:
            return "api_token"
        return None

    def missing(self) -> list[str]:
        """What Zendesk needs and is not set, one clause per setting (empty: all there)."""
        missing = []
        if not self.url and not self.subdomain:
            missing.append("set ZENDESK_URL (full base URL) or ZENDESK_SUBDOMAIN")
        oauth = (
            ("ZENDESK_OAUTH_CLIENT_ID", self.oauth_client_id),
            ("ZENDESK_OAUTH_CLIENT_SECRET", self.oauth_client_secret),
        )
        if any(value for _, value in oauth):
            missing += [
                f"{name}: must be set with the other half of the OAuth client" for name, value in oauth if not value
            ]
        elif self.credentials is None:
            missing.append(
                "set ZENDESK_OAUTH_CLIENT_ID and ZENDESK_OAUTH_CLIENT_SECRET (an OAuth client, see the "
                'README\'s "Connect to Zendesk"), or, until Zendesk turns API tokens off on 2027-04-30, '
                "ZENDESK_EMAIL and ZENDESK_API_TOKEN"
            )
        return missing

    def credential_warnings(self, today: date | None = None) -> list[str]:
        """What an operator should hear once at start-up about the Zendesk credentials in use."""
        today = today or date.today()
        if self.credentials == "api_token":
            when = "stopped working on" if today >= API_TOKENS_END else "stop working on"
            return [
                f"ZENDESK_API_TOKEN: Zendesk API tokens {when} {API_TOKENS_END.isoformat()}; create an OAuth "
                "client and set ZENDESK_OAUTH_CLIENT_ID and ZENDESK_OAUTH_CLIENT_SECRET (README: Connect to Zendesk)"
            ]
        if self.credentials == "oauth" and self.api_token:
            return ["ZENDESK_API_TOKEN is set but not used: the OAuth client (ZENDESK_OAUTH_CLIENT_ID) wins; remove it"]
        return []

    @property
    def fleet_update_limit(self) -> float:
        """The Update Ticket requests per window the fleet may take (its share of the limit)."""
        return self.update_rate_limit * self.update_share

    @property
    def base_url(self) -> str:
        """Base URL without trailing slash, e.g. https://acme.zendesk.com."""
        if self.url:
            return self.url.rstrip("/")
        return f"https://{self.subdomain}.zendesk.com"


class LLMSettings(SettingsGroup):
    """The LLM that classifies tickets, its account's quotas and prices, and the taxonomy it fills."""

    model_config = SettingsConfigDict(env_prefix="LLM_")

    # `auto`: the OpenAI SDK when OPENAI_API_KEY or LLM_BASE_URL is set, else the local model
    # when one is at LOCAL_MODEL_PATH, else the rules. `local`: the local model only, offline.
    provider: Literal["auto", "openai", "rules", "local"] = "auto"
    openai_api_key: Annotated[str | None, BLANK_IS_UNSET] = Field(default=None, validation_alias="OPENAI_API_KEY")
    # Any OpenAI-compatible server, e.g. http://localhost:11434/v1.
    base_url: Annotated[str | None, BLANK_IS_UNSET] = None
    model: str = "gpt-4o-mini"
    timeout: float = Field(default=30.0, gt=0, description="seconds per LLM request")
    sdk_max_retries: int = Field(default=2, ge=0, le=5, description="the SDK's own retries on 429/5xx")
    attempts: int = Field(default=3, ge=1, le=5, description="asks per ticket for a valid answer")
    # The most the answer may take (sent as max_completion_tokens). Reasoning models (gpt-5, o-series)
    # spend part of it thinking, so their default is larger.
    max_tokens: Annotated[int | None, BLANK_IS_UNSET] = Field(default=None, ge=50)
    # The LLM account's requests and tokens per minute (0: no limit); tokens count prompt + max_tokens.
    rpm: int = Field(default=500, ge=0)
    tpm: int = Field(default=200_000, ge=0)
    rate_window: float = Field(default=60.0, gt=0)
    # Sent to models that take one; reasoning models take only their default, so none is sent.
    temperature: float = Field(default=0.0, ge=0, le=2)
    cache_ttl: int = Field(default=7 * 24 * 3600, ge=0, description="seconds; 0 turns the cache off")
    breaker_fail_max: int = Field(default=5, ge=1)
    breaker_reset_timeout: float = Field(default=60.0, gt=0)
    price_input_per_mtok: Annotated[float | None, BLANK_IS_UNSET] = Field(default=None, ge=0)
    price_output_per_mtok: Annotated[float | None, BLANK_IS_UNSET] = Field(default=None, ge=0)
    # The fields tickets are classified into; default: app/taxonomies/default.yaml.
    taxonomy_file: Annotated[Path | None, BLANK_IS_UNSET] = Field(default=None, validation_alias="TAXONOMY_FILE")

    # --- The daily LLM budget (app.fleet.budget) ---------------------------------------------------
    # US dollars the fleet may spend on the LLM per UTC day, all hosts together; unset: no budget.
    daily_budget_usd: float | None = None

    @field_validator("daily_budget_usd", mode="before")
    @classmethod
    def _dollars(cls, value: object) -> object:
        """A positive, finite number of dollars (blank: no budget); one message for anything else."""
        if _blank_is_unset(value) is None:
            return None
        dollars = math.nan
        if isinstance(value, int | float | str) and not isinstance(value, bool):
            try:
                dollars = float(value)
            except ValueError:  # "$25", "25 USD", "ten"
                pass
        if not (math.isfinite(dollars) and 0 < dollars <= MAX_DAILY_BUDGET_USD):
            raise ValueError(
                f"{value!r} is not a budget: give a positive number of US dollars per UTC day, without "
                f"a currency sign (e.g. 25 or 2.50, at most {MAX_DAILY_BUDGET_USD:,.0f}), or leave it empty for none"
            )
        return dollars

    @model_validator(mode="after")
    def _consistent(self) -> LLMSettings:
        if self.provider == "openai" and not (self.openai_api_key or self.base_url):
            raise ValueError("LLM_PROVIDER=openai needs OPENAI_API_KEY (or LLM_BASE_URL for a compatible server)")
        if (self.price_input_per_mtok is None) != (self.price_output_per_mtok is None):
            raise ValueError("set both LLM_PRICE_INPUT_PER_MTOK and LLM_PRICE_OUTPUT_PER_MTOK, or neither")
        if is_reasoning_model(self.model) and "temperature" in self.model_fields_set and self.temperature != 1:
            raise ValueError(
                f"LLM_TEMPERATURE: {self.model} takes only its default temperature (1); unset LLM_TEMPERATURE"
            )
        return self

    @property
    def completion_tokens(self) -> int:
        """max_completion_tokens for each request: LLM_MAX_TOKENS, or the model family's default."""
        if self.max_tokens is not None:
            return self.max_tokens
        return REASONING_MAX_TOKENS if is_reasoning_model(self.model) else DEFAULT_MAX_TOKENS

    @property
    def price_override(self) -> tuple[float, float] | None:
        if self.price_input_per_mtok is None or self.price_output_per_mtok is None:
            return None
        return self.price_input_per_mtok, self.price_output_per_mtok


class LearningSettings(SettingsGroup):
    """The local model (`python -m app train`): it classifies with LLM_PROVIDER=local, and stands in
    for the rules whenever the LLM cannot answer. With LOCAL_GATE_CONFIDENCE set (0.9 is the
    documented choice, see README), a ticket whose every field the model answers at least that
    sure of skips the LLM; LOCAL_GATE_AUDIT_SHARE of those still go to the LLM to measure the
    gate's agreement with it."""

    model_config = SettingsConfigDict(env_prefix="LOCAL_")

    model_path: Path = Path("models/local-model.npz")
    gate_confidence: Annotated[float | None, BLANK_IS_UNSET] = Field(default=None, gt=0.5, le=1)
    gate_audit_share: float = Field(default=0.1, ge=0, le=1)


class IntakeSettings(SettingsGroup):
    """How tickets come in: Zendesk's webhooks (`python -m app webhook`) and beat's sweep, and how
    long a claimed or finished ticket is remembered."""

    # The signing secret Zendesk shows for the webhook. Set, it turns webhooks on, and beat's sweep
    # becomes the safety net (see sweep_interval).
    zendesk_webhook_secret: Annotated[SecretStr | None, BLANK_IS_UNSET] = None
    webhook_host: str = "0.0.0.0"
    webhook_port: int = Field(default=8090, ge=1, le=65535)
    # Default: 60 s, or 300 s with webhooks on. With webhooks the sweep only finds what a webhook
    # missed (Zendesk pauses a webhook whose deliveries fail, and drops some), and search lags new
    # tickets by minutes anyway; 300 s matches Zendesk's own 5-minute window for pausing a failing
    # webhook and costs one export request per 5 minutes.
    sweep_interval: float = Field(default=60.0, gt=0, description="seconds between beat sweeps")
    sweep_max_tickets: int = Field(default=1000, ge=1, description="tickets claimed per sweep")
    claim_ttl: int = Field(default=1800, ge=10, description="seconds a claim lives unrenewed")
    done_ttl: int = Field(default=30 * 24 * 3600, ge=60, description="seconds the done marker outlives the search lag")
    # Every ticket's prediction is kept this long for `python -m app accuracy` (about 300 bytes each).
    prediction_retention_days: int = Field(default=90, ge=1, le=400)

    @model_validator(mode="after")
    def _webhooks_slow_the_sweep(self) -> IntakeSettings:
        if self.zendesk_webhook_secret is not None and "sweep_interval" not in self.model_fields_set:
            self.sweep_interval = WEBHOOK_SWEEP_INTERVAL
        return self


class WorkerSettings(SettingsGroup):
    """How the workers write to Zendesk, wait for quota and retry."""

    # Updates: one PUT per ticket, or update_many jobs of up to BULK_BATCH_SIZE tickets, one request
    # each and outside the 100/min Update Ticket limit. auto: bulk for runs of BULK_MIN_TICKETS or
    # more (a small run's tickets are written as each is classified, without waiting for a batch).
    update_mode: Literal["auto", "single", "bulk"] = "auto"
    # How much of each answer reaches Zendesk, every field at once: shadow (nothing; predictions are
    # recorded for `python -m app accuracy`), suggest (a private note naming them, nothing else),
    # live (tags, priority and note). Unset: each taxonomy field's own `mode` (tag by default).
    triage_mode: Annotated[Literal["shadow", "suggest", "live"] | None, BLANK_IS_UNSET] = None
    # The private note's language: en (every note in English) or ticket (a German or French
    # ticket's note in its language, app.domain.note_text). Tags and values never change.
    note_language: Literal["en", "ticket"] = "en"
    # Who raises priorities: Zendesk, through the triggers `python -m app zendesk setup` installs
    # (no Update Ticket request spent, an agent's higher or hand-set priority kept by the trigger's
    # own conditions), or the fleet, one safe_update PUT each within ZENDESK_UPDATE_SHARE. auto:
    # triggers when they are installed as setup makes them (looked at every 5 minutes).
    priority_mode: Literal["auto", "triggers", "safe_put"] = "auto"
    bulk_min_tickets: int = Field(default=50, ge=1)
    bulk_batch_size: int = Field(default=100, ge=1, le=100)
    bulk_poll_interval: float = Field(default=1.0, gt=0, description="seconds before the first job status poll")
    bulk_job_timeout: float = Field(default=300.0, gt=0, description="seconds a job may stay unfinished")
    # Zendesk allows an account 30 update_many jobs queued or running; other integrations may
    # need some of them.
    bulk_max_jobs: int = Field(default=30, ge=1, le=30)
    # Celery's own per-task limit, per worker process group (e.g. "60/m"); the shared quotas
    # (ZENDESK_RATE_LIMIT, ...) are what keep the account's limit, this only caps one worker. Empty: no cap.
    worker_update_rate_limit: Annotated[str | None, BLANK_IS_UNSET] = Field(
        default=None, pattern=r"^\d+(\.\d+)?/[smh]$"
    )
    # Waits for a quota token up to this long in the process; longer waits become countdown retries.
    rate_limit_max_sleep: float = Field(default=2.0, ge=0)
    # The same on a thread pool's thread (the I/O worker), where waiting holds only a thread.
    rate_limit_max_sleep_threads: float = Field(default=30.0, ge=0)
    update_max_retries: int = Field(default=20, ge=0)
    retry_max_countdown: int = Field(default=600, ge=1)
    # A task not acknowledged this long (its worker died) is delivered again. Countdown retries
    # are held unacknowledged, so this must stay above RETRY_MAX_COUNTDOWN.
    broker_visibility_timeout: int = Field(default=3600, ge=10)

    @model_validator(mode="after")
    def _consistent(self) -> WorkerSettings:
        if self.broker_visibility_timeout <= self.retry_max_countdown + 5:
            raise ValueError(
                "BROKER_VISIBILITY_TIMEOUT must be more than RETRY_MAX_COUNTDOWN + 5 seconds, or "
                "tasks waiting out a countdown would be delivered twice"
            )
        return self

    def bulk_updates(self, tickets: int) -> bool:
        """Whether a run of this many tickets writes through update_many."""
        return self.update_mode == "bulk" or (self.update_mode == "auto" and tickets >= self.bulk_min_tickets)


class OperatorSettings(SettingsGroup):
    """What operators read and are told: log files, alerts, Flower's login, the metrics exporter."""

    log_dir: Path = Path("logs")
    # triage.log under LOG_DIR rolls over at midnight UTC; this many past days are kept.
    log_retention_days: int = Field(default=14, ge=1)
    log_format: Literal["text", "json"] = "text"
    # Alerts (app/ops/alerts.py): a Slack-compatible incoming webhook; unset sends none.
    alert_webhook_url: SecretStr | None = None
    alert_failure_rate: float = Field(default=0.05, ge=0, le=1, description="share of a run's tickets failed")
    alert_slow_seconds: float = Field(default=10.0, gt=0, description="average seconds per ticket in a run")
    alert_cooldown: float = Field(default=3600.0, gt=0, description="seconds before the same condition alerts again")
    # Flower's login, "user:password" (several separated by commas). Without it, Flower only
    # starts bound to 127.0.0.1 (see app/ops/flower.py and flowerconfig.py).
    flower_basic_auth: SecretStr | None = None
    # Where `python -m app metrics` serves the fleet's Prometheus metrics (one exporter for the
    # whole fleet). Loopback by default: the figures are the fleet's, not the world's.
    metrics_host: str = "127.0.0.1"
    metrics_port: int = Field(default=9808, ge=1, le=65535)

    @field_validator("alert_webhook_url", mode="before")
    @classmethod
    def _webhook_url(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str) and urlparse(value.strip()).scheme not in {"http", "https"}:
            raise ValueError("must be an http:// or https:// URL")
        return value.strip() if isinstance(value, str) else value

    @field_validator("flower_basic_auth", mode="before")
    @classmethod
    def _user_password_pairs(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str):
            for pair in value.split(","):
                user, _, password = pair.partition(":")
                if not user.strip() or not password:
                    raise ValueError("expected user:password[,user:password...] (the value is not shown)")
        return value


# Each group as it is named on Settings, in the order errors are reported.
GROUPS: dict[str, type[SettingsGroup]] = {
    "zendesk": ZendeskSettings,
    "llm": LLMSettings,
    "redis": RedisSettings,
    "intake": IntakeSettings,
    "learning": LearningSettings,
    "operators": OperatorSettings,
    "workers": WorkerSettings,
}


class Settings(BaseModel):
    """Every knob of the fleet, by group; `Settings()` reads each group from the environment and
    `.env`. Group classes take their fields by name too: `Settings(zendesk=ZendeskSettings(url=...))`."""

    zendesk: ZendeskSettings = Field(default_factory=ZendeskSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    learning: LearningSettings = Field(default_factory=LearningSettings)
    operators: OperatorSettings = Field(default_factory=OperatorSettings)
    workers: WorkerSettings = Field(default_factory=WorkerSettings)

    @classmethod
    def env_names(cls) -> list[str]:
        """Every environment variable the settings read."""
        return [name for group in GROUPS.values() for name in group.env_names()]

    def llm_choice(self) -> tuple[str, str]:
        """(provider, why): what classifies tickets, in words for the start-up log. Here rather
        than on the llm group because `auto` looks for the local model (learning.model_path)."""
        llm = self.llm
        if llm.provider in ("rules", "local"):
            return llm.provider, f"LLM_PROVIDER={llm.provider}"
        if llm.base_url:
            return "openai", f"{llm.model} at LLM_BASE_URL {llm.base_url}"
        if llm.openai_api_key:
            return "openai", f"{llm.model} at OpenAI (OPENAI_API_KEY is set)"
        if self.learning.model_path.is_file():
            return "local", f"no OPENAI_API_KEY or LLM_BASE_URL set; the local model at {self.learning.model_path}"
        return "rules", "no OPENAI_API_KEY or LLM_BASE_URL set; the offline keyword rules classify tickets"


def _describe(group: type[SettingsGroup], error: ValidationError) -> list[str]:
    """One clause per problem, each naming the environment variable."""
    parts = []
    for item in error.errors():
        loc = [str(part) for part in item["loc"]]
        message = item["msg"].removeprefix("Value error, ")
        if not loc:
            parts.append(message)
            continue
        name = group.env_name(loc[0]) if loc[0] in group.model_fields else loc[0].upper()
        parts.append(f"{'_'.join([name, *loc[1:]]).upper()}: {message}")
    return parts


def load_settings() -> Settings:
    """Every group read from the environment; ConfigError naming every bad setting of every group."""
    groups, problems = {}, []
    for name, group in GROUPS.items():
        try:
            groups[name] = group()
        except ValidationError as error:
            problems += _describe(group, error)
    if problems:
        raise ConfigError("; ".join(problems))
    return Settings.model_validate(groups)


@lru_cache(maxsize=2)
def get_settings(need_zendesk: bool = True) -> Settings:
    """The process-wide settings; raises ConfigError naming every bad or missing setting.
    `need_zendesk=False` for what runs without Zendesk (redact, classify, train FILE)."""
    settings = load_settings()
    if need_zendesk:
        if settings.zendesk.missing():
            raise ConfigError("; ".join(settings.zendesk.missing()))
        for warning in settings.zendesk.credential_warnings():  # once per process: the settings are cached
            log.warning("%s", warning)
    return settings
