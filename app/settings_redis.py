"""The Redis group of the settings (REDIS_URL, BROKER_URL, REDIS_SENTINELS, REDIS_MASTER_NAME,
REDIS_PREFIX) and what each library needs from it: redis-py, Celery's broker and result backend,
RedBeat. Through Sentinel each library has its own form, so the translation lives here, once."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlparse

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.backoff import NoBackoff
from redis.retry import Retry

# Seconds for the fleet's own Redis connections (and RedBeat's through Sentinel): a server that
# does not answer fails the call instead of holding a worker process.
REDIS_SOCKET_TIMEOUT = 10.0
REDIS_CONNECT_TIMEOUT = 5.0
# Seconds for one sentinel's answer. A sentinel that does not answer is skipped for the next one
# rather than retried: the other sentinels are the retry.
SENTINEL_TIMEOUT = 3.0


class SettingsGroup(BaseSettings):
    """One group of settings. Every group reads the environment and `.env` itself, so the variable
    names stay flat (ZENDESK_URL, not ZENDESK__URL): a group's env_prefix plus the field's name,
    or the field's validation_alias where the variable does not start with the prefix."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", validate_by_name=True, validate_by_alias=True
    )

    @classmethod
    def env_name(cls, field: str) -> str:
        """The environment variable a field is read from."""
        alias = cls.model_fields[field].validation_alias
        if isinstance(alias, str):
            return alias
        return (cls.model_config.get("env_prefix", "") + field).upper()

    @classmethod
    def env_names(cls) -> list[str]:
        return [cls.env_name(field) for field in cls.model_fields]


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


URL_SCHEMES = {"redis", "rediss", "unix", "amqp", "amqps", "pyamqp"}
# A host name or an IPv4 address (IPv6 addresses come out of urlparse without their brackets).
HOST_NAME = re.compile(r"^[A-Za-z0-9_.-]+$|^[0-9A-Fa-f:.%]+$")


def without_password(url: str) -> str:
    """The URL as an error message may show it: a password replaced by ***."""
    parsed = urlparse(url)
    if not parsed.password:
        return url
    userinfo, _, hostinfo = parsed.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return parsed._replace(netloc=f"{user}:***@{hostinfo}").geturl()


def check_url(url: str) -> None:
    """ValueError saying what is wrong with a Redis or AMQP URL (scheme, host, port, database
    number), before redis-py, Celery or kombu trip over it with a traceback of their own."""
    shown = without_password(url)
    parsed = urlparse(url)
    if parsed.scheme not in URL_SCHEMES:
        raise ValueError(
            f"unsupported URL scheme {parsed.scheme!r} in {shown}: expected redis://HOST:PORT/DB "
            "(rediss:// with TLS, unix:///PATH for a socket; amqp:// for a RabbitMQ broker)"
        )
    try:
        port = parsed.port
    except ValueError:
        port = -1
    if port is not None and not 1 <= port <= 65535:
        text = parsed.netloc.rpartition("@")[2].rpartition(":")[2]
        raise ValueError(f"port {text!r} in {shown} is not a port number (1-65535)")
    host = parsed.hostname
    if parsed.scheme == "unix":
        if not parsed.path:
            raise ValueError(f"{shown} names no socket: expected unix:///PATH/TO/redis.sock")
    elif host and not HOST_NAME.match(host):
        raise ValueError(f"{host!r} in {shown} is not a host name or address")
    if parsed.scheme.startswith("redis"):
        _check_database(parsed.path.strip("/"), shown)
    if parsed.scheme.startswith(("redis", "unix")):
        for text in parse_qs(parsed.query).get("db", []):
            _check_database(text, shown)


def _check_database(text: str, shown: str) -> None:
    if text and not text.isdigit():
        raise ValueError(
            f"database {text!r} in {shown} is not a number: a database is 0, 1, 2, ... as in redis://127.0.0.1:6379/0"
        )


def missing_database(error: BaseException, db: int) -> str | None:
    """What to say when Redis refuses REDIS_URL's database number (SELECT answers "DB index is
    out of range"); None for any other error. How many databases the server has is not asked:
    CONFIG GET is often refused (managed Redis), so the default is named instead."""
    if "DB index is out of range" not in str(error):
        return None
    return (
        f"REDIS_URL: database {db} does not exist on this Redis server (a server has 16, numbered "
        "0-15, unless its `databases` setting gives it more)"
    )


def _host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def sentinel_node_options() -> dict[str, Any]:
    """Connection options for the sentinels themselves (redis-py's `sentinel_kwargs`): short
    timeouts and no retries, so an unreachable sentinel costs one timeout and the next is asked
    (redis-py's default would retry the same dead one ten times). No password: the sentinels'
    own is not the master's, and the fleet expects sentinels without one."""
    return {
        "socket_timeout": SENTINEL_TIMEOUT,
        "socket_connect_timeout": SENTINEL_TIMEOUT,
        "retry": Retry(NoBackoff(), 0),
    }


class RedisSettings(SettingsGroup):
    """Redis holds claims, done markers, run summaries and Celery results; it is the broker too
    unless BROKER_URL points elsewhere (RabbitMQ works as a broker, not as the result backend)."""

    model_config = SettingsConfigDict(env_prefix="REDIS_")

    url: str = "redis://127.0.0.1:6379/0"
    broker_url: str | None = Field(default=None, validation_alias="BROKER_URL")
    # Redis Sentinel: the sentinels as comma-separated host:port ("10.0.0.1:26379,10.0.0.2:26379")
    # and the name they monitor the master under; both or neither. Set, every Redis client of the
    # fleet (its own, Celery's results, the broker unless BROKER_URL is set, RedBeat) asks the
    # sentinels for the current master and follows it through a failover; REDIS_URL then only
    # gives the database number and the password (if any) for the master, its host and port are
    # not used. Two plain settings rather than one URL: redis-py has no URL form for Sentinel,
    # Celery's sentinel:// URLs need master_name in transport options, and RedBeat has its own
    # redis-sentinel:// form, so the app translates these two into each library's form.
    sentinels: str | None = None
    master_name: str | None = None
    # Prepended to every Redis key the fleet and Celery write, so several fleets (or a demo next
    # to a real fleet) can share one Redis server without seeing each other's tickets.
    prefix: str = Field(default="", pattern=r"^[A-Za-z0-9:_.-]*$")

    @field_validator("url", "broker_url")
    @classmethod
    def _valid_url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        value = value.strip()
        check_url(value)
        return value

    @field_validator("sentinels", "master_name", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("sentinels")
    @classmethod
    def _sentinel_list(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return ",".join(_host_port(host, port) for host, port in parse_sentinels(value))

    @field_validator("master_name")
    @classmethod
    def _master_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if any(c.isspace() for c in value):
            raise ValueError(f"{value!r}: expected one word, the name in the sentinels' `sentinel monitor` line")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> RedisSettings:
        if not urlparse(self.url).scheme.startswith(("redis", "unix")):
            raise ValueError("REDIS_URL must be a Redis URL (it is the result backend)")
        self._check_sentinel()
        return self

    def _check_sentinel(self) -> None:
        if self.sentinels is None and self.master_name is None:
            return
        if self.master_name is None:
            raise ValueError(
                "REDIS_SENTINELS: set REDIS_MASTER_NAME too, the name the sentinels monitor the master "
                "under (their `sentinel monitor` line)"
            )
        if self.sentinels is None:
            raise ValueError(
                "REDIS_SENTINELS: must be set with REDIS_MASTER_NAME, as host:port[,host:port...] of the sentinels"
            )
        if urlparse(self.url).scheme != "redis":
            raise ValueError(
                "REDIS_URL: with REDIS_SENTINELS it must be a redis:// URL (only its database number "
                "and password are used); TLS and unix sockets are not supported through Sentinel"
            )
        _ = self.db  # a database that is not a number says so here, at start-up

    @property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        """The sentinels as (host, port) pairs; empty without REDIS_SENTINELS."""
        return parse_sentinels(self.sentinels) if self.sentinels else []

    @property
    def uses_sentinel(self) -> bool:
        return self.sentinels is not None and self.master_name is not None

    @property
    def db(self) -> int:
        """The database number in REDIS_URL as redis-py reads it: `?db=` when given, else the
        path (not a unix socket's); default 0."""
        url = urlparse(self.url)
        text = parse_qs(url.query).get("db", [""])[0] or (url.path.strip("/") if url.scheme != "unix" else "")
        text = text or "0"
        if not text.isdigit():
            raise ValueError(f"REDIS_URL: database {text!r} is not a number")
        return int(text)

    @property
    def username(self) -> str | None:
        username = urlparse(self.url).username
        return unquote(username) if username else None

    @property
    def password(self) -> str | None:
        password = urlparse(self.url).password
        return unquote(password) if password else None

    def _celery_sentinel_url(self) -> str:
        """Celery's form, one `sentinel://` URL per sentinel joined by `;`. Each carries the
        credentials and database: kombu moves on to the next URL when a sentinel is down."""
        credentials = quote(self.username or "", safe="")
        if self.password:
            credentials += ":" + quote(self.password, safe="")
        credentials += "@" if credentials else ""
        return ";".join(
            f"sentinel://{credentials}{_host_port(host, port)}/{self.db}" for host, port in self.sentinel_addresses
        )

    @property
    def effective_broker_url(self) -> str:
        """The broker: BROKER_URL, else Redis (through the sentinels when they are set)."""
        if self.broker_url:
            return self.broker_url
        return self.result_backend_url

    @property
    def result_backend_url(self) -> str:
        """Celery's result backend: REDIS_URL, or its sentinel:// form with REDIS_SENTINELS."""
        return self._celery_sentinel_url() if self.uses_sentinel else self.url

    @property
    def sentinel_transport_options(self) -> dict[str, Any]:
        """What Celery's sentinel:// broker and result backend need besides the URL (empty
        without Sentinel): the master's name and how to talk to the sentinels."""
        if not self.uses_sentinel:
            return {}
        return {"master_name": self.master_name, "sentinel_kwargs": sentinel_node_options()}

    @property
    def redbeat_redis_url(self) -> str:
        """RedBeat's URL. Through Sentinel it only checks the redis-sentinel:// scheme and takes
        everything else from redbeat_redis_options."""
        if not self.uses_sentinel:
            return self.url
        host, port = self.sentinel_addresses[0]
        return f"redis-sentinel://{_host_port(host, port)}/{self.db}"

    @property
    def redbeat_redis_options(self) -> dict[str, Any]:
        """RedBeat's own Sentinel options (the keys redbeat.schedulers.get_redis reads); empty
        without Sentinel, so RedBeat uses redbeat_redis_url alone."""
        if not self.uses_sentinel:
            return {}
        options: dict[str, Any] = {
            "sentinels": self.sentinel_addresses,
            "service_name": self.master_name,
            "db": self.db,
            "password": self.password,
            "socket_timeout": REDIS_SOCKET_TIMEOUT,
            "sentinel_kwargs": sentinel_node_options(),
        }
        if self.username:
            options["username"] = self.username
        return options
