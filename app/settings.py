"""Settings for every process of the fleet, read once from the environment and `.env`.

One pydantic-settings object holds them all. `get_settings()` turns a validation error into
`ConfigError`, whose message names each bad setting by its environment variable, so a worker,
beat or the CLI stops at start-up with a line an operator can act on instead of a traceback.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, quote, unquote, urlparse

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.backoff import NoBackoff
from redis.retry import Retry

log = logging.getLogger(__name__)

# "Migrating from API tokens to OAuth access tokens" (developer.zendesk.com): no new API tokens since
# 2026-10-27, and every API token stops working on this day.
API_TOKENS_END = date(2027, 4, 30)
# A scope is read, write, or a resource's own (tickets:read, triggers:write, ...), space-separated.
SCOPE_WORD = re.compile(r"^(read|write|[a-z_]+:(read|write))$")

DEFAULT_MAX_TOKENS = 400
# Reasoning tokens count against max_completion_tokens; 400 would leave no room for the answer.
REASONING_MAX_TOKENS = 2000
WEBHOOK_SWEEP_INTERVAL = 300.0  # beat's sweep with webhooks on: the safety net (see sweep_interval)
# Seconds for the fleet's own Redis connections (and RedBeat's through Sentinel): a server that
# does not answer fails the call instead of holding a worker process.
REDIS_SOCKET_TIMEOUT = 10.0
REDIS_CONNECT_TIMEOUT = 5.0
# Seconds for one sentinel's answer. A sentinel that does not answer is skipped for the next one
# rather than retried: the other sentinels are the retry.
SENTINEL_TIMEOUT = 3.0


def is_reasoning_model(model: str) -> bool:
    """gpt-5 family and o-series models (and their dated snapshots): they refuse `max_tokens` and
    any temperature but the default (https://platform.openai.com/docs/guides/reasoning)."""
    name = model.lower().rsplit("/", 1)[-1]
    return name.startswith("gpt-5") or (len(name) > 1 and name[0] == "o" and name[1].isdigit())


def parse_sentinels(value: str) -> list[tuple[str, int]]:
    """`host:port[,host:port...]` as (host, port) pairs; ValueError says which entry is wrong.
    IPv6 addresses go in brackets, `[::1]:26379`."""
    addresses: list[tuple[str, int]] = []
    for position, raw in enumerate(value.split(","), 1):
        entry = raw.strip()
        if not entry:
            raise ValueError(f"entry {position} is empty; expected host:port[,host:port...]")
        host, _, port_text = entry.rpartition(":")
        if not host or not port_text:
            raise ValueError(f"{entry!r} has no port; expected host:port (sentinels usually listen on 26379)")
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        elif ":" in host:
            raise ValueError(f"{entry!r}: put an IPv6 address in brackets, e.g. [::1]:26379")
        if not host or any(c.isspace() or c in "/@[]" for c in host):
            raise ValueError(f"{entry!r}: {host!r} is not a host name or address")
        if not port_text.isdigit():
            raise ValueError(f"{entry!r}: port {port_text!r} is not a number")
        port = int(port_text)
        if not 1 <= port <= 65535:
            raise ValueError(f"{entry!r}: port {port} is out of range (1-65535)")
        if (host, port) in addresses:
            raise ValueError(f"{entry!r} is listed twice")
        addresses.append((host, port))
    return addresses


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def sentinel_node_options() -> dict[str, Any]:
    """Connection options for the sentinels themselves (redis-py's `sentinel_kwargs`): short
    timeouts and no retries, so an unreachable sentinel costs one timeout and the next is asked
    (redis-py's default would retry the same dead one ten times). No password: the sentinels'
    own is not the master's, and the fleet expects sentinels without one."""
    return {"socket_timeout": SENTINEL_TIMEOUT, "socket_connect_timeout": SENTINEL_TIMEOUT,
            "retry": Retry(NoBackoff(), 0)}


class ConfigError(SystemExit):
    """Bad or missing configuration. A SystemExit so entry points stop with the message alone."""

    def __init__(self, message: str) -> None:
        super().__init__(f"configuration error: {message}")


class Settings(BaseSettings):
    """Every knob of the fleet; environment variable names are the field names in upper case."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Redis holds claims, done markers, run summaries and Celery results; it is the broker too
    # unless BROKER_URL points elsewhere (RabbitMQ works as a broker, not as the result backend).
    redis_url: str = "redis://127.0.0.1:6379/0"
    broker_url: str | None = None
    # Redis Sentinel: the sentinels as comma-separated host:port ("10.0.0.1:26379,10.0.0.2:26379")
    # and the name they monitor the master under; both or neither. Set, every Redis client of the
    # fleet (its own, Celery's results, the broker unless BROKER_URL is set, RedBeat) asks the
    # sentinels for the current master and follows it through a failover; REDIS_URL then only
    # gives the database number and the password (if any) for the master, its host and port are
    # not used. Two plain settings rather than one URL: redis-py has no URL form for Sentinel,
    # Celery's sentinel:// URLs need master_name in transport options, and RedBeat has its own
    # redis-sentinel:// form, so the app translates these two into each library's form.
    redis_sentinels: str | None = None
    redis_master_name: str | None = None
    # Prepended to every Redis key the fleet and Celery write, so several fleets (or a demo next
    # to a real fleet) can share one Redis server without seeing each other's tickets.
    redis_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9:_.-]*$")

    # Zendesk: a full base URL (simulator, proxy) or the account subdomain.
    zendesk_url: str | None = None
    zendesk_subdomain: str | None = None
    # Needed by everything that talks to Zendesk; `python -m app redact|classify|train FILE` run without.
    # An OAuth client (Admin Center > Apps and integrations > APIs > OAuth clients, a confidential
    # client): the fleet asks for one access token with the client credentials grant and shares it
    # through Redis. Or, until Zendesk turns them off on 2027-04-30, an API token. Both: OAuth wins.
    zendesk_oauth_client_id: str | None = None
    zendesk_oauth_client_secret: SecretStr | None = None
    zendesk_oauth_scope: str = "read write"
    # expires_in asked for each token: Zendesk takes more than 300 and less than 172,800 seconds,
    # and its default depends on when the client was created, so the fleet always says. Two hours:
    # a token read out of Redis is worth little for long, and renewing costs one request.
    zendesk_oauth_token_lifetime: int = Field(default=7200, gt=300, lt=172_800)
    zendesk_email: str | None = None
    zendesk_api_token: str | None = None
    zendesk_timeout: float = Field(default=30.0, gt=0, description="seconds per HTTP request")
    # The account's quotas, kept by every process together (0 turns one off). Zendesk: requests per
    # minute by plan (Team 200, Growth/Professional 400, Enterprise 700, High Volume 2500) and the
    # separate Update Ticket limit of 100 per minute.
    zendesk_rate_limit: int = Field(default=700, ge=0)
    zendesk_update_rate_limit: int = Field(default=100, ge=0)
    # Agents' edits in the Zendesk UI count against the same Update Ticket limit, so the fleet
    # takes only this share of it: the rest is left to the people working the queue.
    zendesk_update_share: float = Field(default=0.5, gt=0, le=1)
    # The search export's own limit (requests per window), on top of the account's.
    zendesk_export_rate_limit: int = Field(default=100, ge=0)
    # The incremental exports' own limit (`train --from-zendesk` reads the history through one).
    zendesk_incremental_rate_limit: int = Field(default=10, ge=0)
    zendesk_rate_window: float = Field(default=60.0, gt=0, description="seconds the limits count over")
    # Celery's own per-task limit, per worker process group (e.g. "60/m"); the shared quota above
    # is what keeps the account's limit, this only caps one worker. Empty: no cap.
    worker_update_rate_limit: str | None = Field(default=None, pattern=r"^\d+(\.\d+)?/[smh]$")
    zendesk_breaker_fail_max: int = Field(default=5, ge=1, description="5xx/timeouts in a row that open it")
    zendesk_breaker_reset_timeout: float = Field(default=30.0, gt=0, description="seconds before a trial call")

    # LLM. `auto`: the OpenAI SDK when OPENAI_API_KEY or LLM_BASE_URL is set, else the local model
    # when one is at LOCAL_MODEL_PATH, else the rules. `local`: the local model only, offline.
    llm_provider: Literal["auto", "openai", "rules", "local"] = "auto"
    openai_api_key: str | None = None
    llm_base_url: str | None = None  # any OpenAI-compatible server, e.g. http://localhost:11434/v1
    llm_model: str = "gpt-4o-mini"
    llm_timeout: float = Field(default=30.0, gt=0, description="seconds per LLM request")
    llm_sdk_max_retries: int = Field(default=2, ge=0, le=5, description="the SDK's own retries on 429/5xx")
    llm_attempts: int = Field(default=3, ge=1, le=5, description="asks per ticket for a valid answer")
    # The most the answer may take (sent as max_completion_tokens). Reasoning models (gpt-5, o-series)
    # spend part of it thinking, so their default is larger.
    llm_max_tokens: int | None = Field(default=None, ge=50)
    # The LLM account's requests and tokens per minute (0: no limit); tokens count prompt + max_tokens.
    llm_rpm: int = Field(default=500, ge=0)
    llm_tpm: int = Field(default=200_000, ge=0)
    llm_rate_window: float = Field(default=60.0, gt=0)
    # Waits for a quota token up to this long in the process; longer waits become countdown retries.
    rate_limit_max_sleep: float = Field(default=2.0, ge=0)
    # The same on a thread pool's thread (the I/O worker), where waiting holds only a thread.
    rate_limit_max_sleep_threads: float = Field(default=30.0, ge=0)
    # Sent to models that take one; reasoning models take only their default, so none is sent.
    llm_temperature: float = Field(default=0.0, ge=0, le=2)
    llm_cache_ttl: int = Field(default=7 * 24 * 3600, ge=0, description="seconds; 0 turns the cache off")
    llm_breaker_fail_max: int = Field(default=5, ge=1)
    llm_breaker_reset_timeout: float = Field(default=60.0, gt=0)
    llm_price_input_per_mtok: float | None = Field(default=None, ge=0)
    llm_price_output_per_mtok: float | None = Field(default=None, ge=0)
    taxonomy_file: Path | None = None  # default: app/taxonomies/default.yaml

    # The local model (`python -m app train`): it classifies with LLM_PROVIDER=local, and stands in
    # for the rules whenever the LLM cannot answer. With LOCAL_GATE_CONFIDENCE set (0.9 is the
    # documented choice, see README), a ticket whose every field the model answers at least that
    # sure of skips the LLM; LOCAL_GATE_AUDIT_SHARE of those still go to the LLM to measure the
    # gate's agreement with it.
    local_model_path: Path = Path("models/local-model.npz")
    local_gate_confidence: float | None = Field(default=None, gt=0.5, le=1)
    local_gate_audit_share: float = Field(default=0.1, ge=0, le=1)

    # Webhook intake (`python -m app webhook`): the signing secret Zendesk shows for the webhook.
    # Set, it turns webhooks on, and beat's sweep becomes the safety net (see sweep_interval).
    zendesk_webhook_secret: SecretStr | None = None
    webhook_host: str = "0.0.0.0"  # noqa: S104 - Zendesk must reach it; put TLS in front (README)
    webhook_port: int = Field(default=8090, ge=1, le=65535)

    # Sweeping and claiming. Default: 60 s, or 300 s with webhooks on. With webhooks the sweep only
    # finds what a webhook missed (Zendesk pauses a webhook whose deliveries fail, and drops some),
    # and search lags new tickets by minutes anyway; 300 s matches Zendesk's own 5-minute window
    # for pausing a failing webhook and costs one export request per 5 minutes.
    sweep_interval: float = Field(default=60.0, gt=0, description="seconds between beat sweeps")
    sweep_max_tickets: int = Field(default=1000, ge=1, description="tickets claimed per sweep")
    claim_ttl: int = Field(default=1800, ge=10, description="seconds a claim lives unrenewed")
    done_ttl: int = Field(
        default=30 * 24 * 3600, ge=60, description="seconds the done marker outlives the search lag"
    )
    # Updates: one PUT per ticket, or update_many jobs of up to BULK_BATCH_SIZE tickets, one request
    # each and outside the 100/min Update Ticket limit. auto: bulk for runs of BULK_MIN_TICKETS or
    # more (a small run's tickets are written as each is classified, without waiting for a batch).
    update_mode: Literal["auto", "single", "bulk"] = "auto"
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
    update_max_retries: int = Field(default=20, ge=0)
    retry_max_countdown: int = Field(default=600, ge=1)
    # A task not acknowledged this long (its worker died) is delivered again. Countdown retries
    # are held unacknowledged, so this must stay above RETRY_MAX_COUNTDOWN.
    broker_visibility_timeout: int = Field(default=3600, ge=10)

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

    @field_validator("redis_url", "broker_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return value
        scheme = urlparse(value).scheme
        if scheme not in {"redis", "rediss", "unix", "amqp", "amqps", "pyamqp"}:
            raise ValueError(f"unsupported URL scheme {scheme!r} in {value!r}")
        return value

    @field_validator("zendesk_url", "zendesk_subdomain", "openai_api_key", "llm_base_url", "taxonomy_file",
                     "worker_update_rate_limit", "zendesk_webhook_secret", "local_gate_confidence",
                     "zendesk_email", "zendesk_api_token", "redis_sentinels", "redis_master_name",
                     "zendesk_oauth_client_id", "zendesk_oauth_client_secret",
                     "llm_price_input_per_mtok", "llm_price_output_per_mtok", "llm_max_tokens", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

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

    @field_validator("zendesk_email", "zendesk_api_token", "zendesk_oauth_client_id")
    @classmethod
    def _stripped(cls, value: str | None) -> str | None:
        return value.strip() if value is not None else None

    @field_validator("zendesk_oauth_scope")
    @classmethod
    def _scopes(cls, value: str) -> str:
        words = value.split()
        wrong = [word for word in words if not SCOPE_WORD.match(word)]
        if not words or wrong:
            raise ValueError(f"{' '.join(wrong) or 'an empty scope'}: expected space-separated scopes such as "
                             "'read write' or 'tickets:read tickets:write'")
        return " ".join(words)

    @field_validator("redis_sentinels")
    @classmethod
    def _sentinel_list(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return ",".join(_host_port(host, port) for host, port in parse_sentinels(value))

    @field_validator("redis_master_name")
    @classmethod
    def _master_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if any(c.isspace() for c in value):
            raise ValueError(f"{value!r}: expected one word, the name in the sentinels' `sentinel monitor` line")
        return value

    @property
    def zendesk_credentials(self) -> Literal["oauth", "api_token"] | None:
        """Which credentials the fleet uses: the OAuth client when it is set, else an API token."""
        if self.zendesk_oauth_client_id and self.zendesk_oauth_client_secret:
            return "oauth"
        if self.zendesk_email and self.zendesk_api_token:
            return "api_token"
        return None

    def missing_zendesk(self) -> list[str]:
        """What Zendesk needs and is not set, one clause per setting (empty: all there)."""
        missing = []
        if not self.zendesk_url and not self.zendesk_subdomain:
            missing.append("set ZENDESK_URL (full base URL) or ZENDESK_SUBDOMAIN")
        oauth = (("ZENDESK_OAUTH_CLIENT_ID", self.zendesk_oauth_client_id),
                 ("ZENDESK_OAUTH_CLIENT_SECRET", self.zendesk_oauth_client_secret))
        if any(value for _, value in oauth):
            missing += [f"{name}: must be set with the other half of the OAuth client" for name, value in oauth
                        if not value]
        elif self.zendesk_credentials is None:
            missing.append("set ZENDESK_OAUTH_CLIENT_ID and ZENDESK_OAUTH_CLIENT_SECRET (an OAuth client, see the "
                           "README's \"Connect to Zendesk\"), or, until Zendesk turns API tokens off on 2027-04-30, "
                           "ZENDESK_EMAIL and ZENDESK_API_TOKEN")
        return missing

    def credential_warnings(self, today: date | None = None) -> list[str]:
        """What an operator should hear once at start-up about the Zendesk credentials in use."""
        today = today or date.today()
        if self.zendesk_credentials == "api_token":
            when = "stopped working on" if today >= API_TOKENS_END else "stop working on"
            return [f"ZENDESK_API_TOKEN: Zendesk API tokens {when} {API_TOKENS_END.isoformat()}; create an OAuth "
                    "client and set ZENDESK_OAUTH_CLIENT_ID and ZENDESK_OAUTH_CLIENT_SECRET (README: Connect to Zendesk)"]
        if self.zendesk_credentials == "oauth" and self.zendesk_api_token:
            return ["ZENDESK_API_TOKEN is set but not used: the OAuth client (ZENDESK_OAUTH_CLIENT_ID) wins; remove it"]
        return []

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.zendesk_url and urlparse(self.zendesk_url).scheme not in {"http", "https"}:
            raise ValueError(f"ZENDESK_URL must start with http:// or https://, got {self.zendesk_url!r}")
        if not urlparse(self.redis_url).scheme.startswith(("redis", "unix")):
            raise ValueError("REDIS_URL must be a Redis URL (it is the result backend)")
        self._check_sentinel()
        if self.broker_visibility_timeout <= self.retry_max_countdown + 5:
            raise ValueError("BROKER_VISIBILITY_TIMEOUT must be more than RETRY_MAX_COUNTDOWN + 5 seconds, or "
                             "tasks waiting out a countdown would be delivered twice")
        if self.llm_provider == "openai" and not (self.openai_api_key or self.llm_base_url):
            raise ValueError("LLM_PROVIDER=openai needs OPENAI_API_KEY (or LLM_BASE_URL for a compatible server)")
        if (self.llm_price_input_per_mtok is None) != (self.llm_price_output_per_mtok is None):
            raise ValueError("set both LLM_PRICE_INPUT_PER_MTOK and LLM_PRICE_OUTPUT_PER_MTOK, or neither")
        if self.zendesk_webhook_secret is not None and "sweep_interval" not in self.model_fields_set:
            self.sweep_interval = WEBHOOK_SWEEP_INTERVAL
        if is_reasoning_model(self.llm_model) and "llm_temperature" in self.model_fields_set \
                and self.llm_temperature != 1:
            raise ValueError(f"LLM_TEMPERATURE: {self.llm_model} takes only its default temperature (1); "
                             "unset LLM_TEMPERATURE")
        return self

    def _check_sentinel(self) -> None:
        if self.redis_sentinels is None and self.redis_master_name is None:
            return
        if self.redis_master_name is None:
            raise ValueError("REDIS_SENTINELS: set REDIS_MASTER_NAME too, the name the sentinels monitor the master "
                             "under (their `sentinel monitor` line)")
        if self.redis_sentinels is None:
            raise ValueError("REDIS_SENTINELS: must be set with REDIS_MASTER_NAME, as host:port[,host:port...] "
                             "of the sentinels")
        if urlparse(self.redis_url).scheme != "redis":
            raise ValueError("REDIS_URL: with REDIS_SENTINELS it must be a redis:// URL (only its database number "
                             "and password are used); TLS and unix sockets are not supported through Sentinel")
        _ = self.redis_db  # a database that is not a number says so here, at start-up

    @property
    def llm_completion_tokens(self) -> int:
        """max_completion_tokens for each request: LLM_MAX_TOKENS, or the model family's default."""
        if self.llm_max_tokens is not None:
            return self.llm_max_tokens
        return REASONING_MAX_TOKENS if is_reasoning_model(self.llm_model) else DEFAULT_MAX_TOKENS

    @property
    def zendesk_fleet_update_limit(self) -> float:
        """The Update Ticket requests per window the fleet may take (its share of the limit)."""
        return self.zendesk_update_rate_limit * self.zendesk_update_share

    def bulk_updates(self, tickets: int) -> bool:
        """Whether a run of this many tickets writes through update_many."""
        return self.update_mode == "bulk" or (self.update_mode == "auto" and tickets >= self.bulk_min_tickets)

    def llm_choice(self) -> tuple[str, str]:
        """(provider, why): what classifies tickets, in words for the start-up log."""
        if self.llm_provider in ("rules", "local"):
            return self.llm_provider, f"LLM_PROVIDER={self.llm_provider}"
        if self.llm_base_url:
            return "openai", f"{self.llm_model} at LLM_BASE_URL {self.llm_base_url}"
        if self.openai_api_key:
            return "openai", f"{self.llm_model} at OpenAI (OPENAI_API_KEY is set)"
        if self.local_model_path.is_file():
            return "local", f"no OPENAI_API_KEY or LLM_BASE_URL set; the local model at {self.local_model_path}"
        return "rules", "no OPENAI_API_KEY or LLM_BASE_URL set; the offline keyword rules classify tickets"

    @property
    def llm_price_override(self) -> tuple[float, float] | None:
        if self.llm_price_input_per_mtok is None or self.llm_price_output_per_mtok is None:
            return None
        return self.llm_price_input_per_mtok, self.llm_price_output_per_mtok

    @property
    def zendesk_base_url(self) -> str:
        """Base URL without trailing slash, e.g. https://acme.zendesk.com."""
        if self.zendesk_url:
            return self.zendesk_url.rstrip("/")
        return f"https://{self.zendesk_subdomain}.zendesk.com"

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """The sentinels as (host, port) pairs; empty without REDIS_SENTINELS."""
        return parse_sentinels(self.redis_sentinels) if self.redis_sentinels else []

    @property
    def uses_sentinel(self) -> bool:
        return self.redis_sentinels is not None and self.redis_master_name is not None

    @property
    def redis_db(self) -> int:
        """The database number in REDIS_URL (its path, or `?db=` as redis-py reads it; default 0)."""
        url = urlparse(self.redis_url)
        text = url.path.strip("/") if url.scheme != "unix" else ""
        text = text or parse_qs(url.query).get("db", ["0"])[0]
        if not text.isdigit():
            raise ValueError(f"REDIS_URL: database {text!r} is not a number")
        return int(text)

    @property
    def redis_username(self) -> str | None:
        username = urlparse(self.redis_url).username
        return unquote(username) if username else None

    @property
    def redis_password(self) -> str | None:
        password = urlparse(self.redis_url).password
        return unquote(password) if password else None

    def _celery_sentinel_url(self) -> str:
        """Celery's form, one `sentinel://` URL per sentinel joined by `;`. Each carries the
        credentials and database: kombu moves on to the next URL when a sentinel is down."""
        credentials = quote(self.redis_username or "", safe="")
        if self.redis_password:
            credentials += ":" + quote(self.redis_password, safe="")
        credentials += "@" if credentials else ""
        return ";".join(f"sentinel://{credentials}{_host_port(host, port)}/{self.redis_db}"
                        for host, port in self.sentinel_addresses)

    @property
    def effective_broker_url(self) -> str:
        """The broker: BROKER_URL, else Redis (through the sentinels when they are set)."""
        if self.broker_url:
            return self.broker_url
        return self.result_backend_url

    @property
    def result_backend_url(self) -> str:
        """Celery's result backend: REDIS_URL, or its sentinel:// form with REDIS_SENTINELS."""
        return self._celery_sentinel_url() if self.uses_sentinel else self.redis_url

    @property
    def sentinel_transport_options(self) -> dict[str, Any]:
        """What Celery's sentinel:// broker and result backend need besides the URL (empty
        without Sentinel): the master's name and how to talk to the sentinels."""
        if not self.uses_sentinel:
            return {}
        return {"master_name": self.redis_master_name, "sentinel_kwargs": sentinel_node_options()}

    @property
    def redbeat_redis_url(self) -> str:
        """RedBeat's URL. Through Sentinel it only checks the redis-sentinel:// scheme and takes
        everything else from redbeat_redis_options."""
        if not self.uses_sentinel:
            return self.redis_url
        host, port = self.sentinel_addresses[0]
        return f"redis-sentinel://{_host_port(host, port)}/{self.redis_db}"

    @property
    def redbeat_redis_options(self) -> dict[str, Any]:
        """RedBeat's own Sentinel options (the keys redbeat.schedulers.get_redis reads); empty
        without Sentinel, so RedBeat uses redbeat_redis_url alone."""
        if not self.uses_sentinel:
            return {}
        options: dict[str, Any] = {
            "sentinels": self.sentinel_addresses, "service_name": self.redis_master_name, "db": self.redis_db,
            "password": self.redis_password, "socket_timeout": REDIS_SOCKET_TIMEOUT,
            "sentinel_kwargs": sentinel_node_options(),
        }
        if self.redis_username:
            options["username"] = self.redis_username
        return options


def _describe(error: ValidationError) -> str:
    """One clause per problem, each naming the environment variable."""
    parts = []
    for item in error.errors():
        name = "_".join(str(p) for p in item["loc"]).upper() or "settings"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{name}: {message}" if item["loc"] else message)
    return "; ".join(parts)


@lru_cache(maxsize=2)
def get_settings(need_zendesk: bool = True) -> Settings:
    """The process-wide settings; raises ConfigError naming every bad or missing setting.
    `need_zendesk=False` for what runs without Zendesk (redact, classify, train FILE)."""
    try:
        settings = Settings()
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
    if need_zendesk:
        if settings.missing_zendesk():
            raise ConfigError("; ".join(settings.missing_zendesk()))
        for warning in settings.credential_warnings():  # once per process: the settings are cached
            log.warning("%s", warning)
    return settings
