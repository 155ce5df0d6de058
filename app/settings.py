"""Settings for every process of the fleet, read once from the environment and `.env`.

One pydantic-settings object holds them all. `get_settings()` turns a validation error into
`ConfigError`, whose message names each bad setting by its environment variable, so a worker,
beat or the CLI stops at start-up with a line an operator can act on instead of a traceback.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ZENDESK_PRIORITIES = ("low", "normal", "high", "urgent")


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
    # Prepended to every Redis key the fleet and Celery write, so several fleets (or a demo next
    # to a real fleet) can share one Redis server without seeing each other's tickets.
    redis_prefix: str = Field(default="", pattern=r"^[A-Za-z0-9:_.-]*$")

    # Zendesk: a full base URL (simulator, proxy) or the account subdomain.
    zendesk_url: str | None = None
    zendesk_subdomain: str | None = None
    zendesk_email: str
    zendesk_api_token: str
    zendesk_timeout: float = Field(default=30.0, gt=0, description="seconds per HTTP request")

    # LLM (the OpenAI provider arrives with its own issue; rules is the offline classifier).
    openai_api_key: str | None = None
    llm_base_url: str | None = None
    llm_model: str = "gpt-4o-mini"
    llm_provider: Literal["rules"] = "rules"

    # Sweeping and claiming.
    sweep_interval: float = Field(default=60.0, gt=0, description="seconds between beat sweeps")
    sweep_max_tickets: int = Field(default=1000, ge=1, description="tickets claimed per sweep")
    claim_ttl: int = Field(default=1800, ge=10, description="seconds a claim lives unrenewed")
    done_ttl: int = Field(
        default=30 * 24 * 3600, ge=60, description="seconds the done marker outlives the search lag"
    )
    update_max_retries: int = Field(default=20, ge=0)
    retry_max_countdown: int = Field(default=600, ge=1)

    log_dir: Path = Path("logs")

    @field_validator("redis_url", "broker_url")
    @classmethod
    def _known_scheme(cls, value: str | None) -> str | None:
        if value is None:
            return value
        scheme = urlparse(value).scheme
        if scheme not in {"redis", "rediss", "unix", "amqp", "amqps", "pyamqp"}:
            raise ValueError(f"unsupported URL scheme {scheme!r} in {value!r}")
        return value

    @field_validator("zendesk_url", "zendesk_subdomain", "openai_api_key", "llm_base_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("zendesk_email", "zendesk_api_token")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value.strip()

    @model_validator(mode="after")
    def _zendesk_location(self) -> Settings:
        if not self.zendesk_url and not self.zendesk_subdomain:
            raise ValueError("set ZENDESK_URL (full base URL) or ZENDESK_SUBDOMAIN")
        if self.zendesk_url and urlparse(self.zendesk_url).scheme not in {"http", "https"}:
            raise ValueError(f"ZENDESK_URL must start with http:// or https://, got {self.zendesk_url!r}")
        if not urlparse(self.redis_url).scheme.startswith(("redis", "unix")):
            raise ValueError("REDIS_URL must be a Redis URL (it is the result backend)")
        return self

    @property
    def zendesk_base_url(self) -> str:
        """Base URL without trailing slash, e.g. https://acme.zendesk.com."""
        if self.zendesk_url:
            return self.zendesk_url.rstrip("/")
        return f"https://{self.zendesk_subdomain}.zendesk.com"

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or self.redis_url


def _describe(error: ValidationError) -> str:
    """One clause per problem, each naming the environment variable."""
    parts = []
    for item in error.errors():
        name = "_".join(str(p) for p in item["loc"]).upper() or "settings"
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{name}: {message}" if item["loc"] else message)
    return "; ".join(parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; raises ConfigError naming every bad or missing setting."""
    try:
        return Settings()
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
