"""Redis Sentinel settings: parsing REDIS_SENTINELS, start-up errors that name the variable, and
the form each library gets (Celery's sentinel:// URLs and options, RedBeat's, the fleet's client)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from kombu import Connection
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.sentinel import SentinelConnectionPool

from app import services
from app.broker import SentinelChannel, SentinelTransport
from app.settings import ConfigError, Settings, get_settings, parse_sentinels

ROOT = Path(__file__).resolve().parents[2]
SENTINELS = "10.0.0.1:26379,10.0.0.2:26379,10.0.0.3:26379"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch):
    """Valid Zendesk settings and nothing Redis-related but what the test sets."""
    for name in (
        "BROKER_URL",
        "REDIS_URL",
        "REDIS_PREFIX",
        "REDIS_SENTINELS",
        "REDIS_MASTER_NAME",
        "ZENDESK_SUBDOMAIN",
        "OPENAI_API_KEY",
        "LLM_BASE_URL",
        "LLM_PROVIDER",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ZENDESK_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ZENDESK_EMAIL", "a@b.c")
    monkeypatch.setenv("ZENDESK_API_TOKEN", "t")
    monkeypatch.chdir("/")  # no .env here
    services.reset()
    yield monkeypatch
    services.reset()


def sentinel_settings(env: pytest.MonkeyPatch, redis_url: str = "redis://ignored:6379/2", **extra: str) -> Settings:
    env.setenv("REDIS_SENTINELS", SENTINELS)
    env.setenv("REDIS_MASTER_NAME", "triage-master")
    env.setenv("REDIS_URL", redis_url)
    for name, value in extra.items():
        env.setenv(name, value)
    return get_settings()


def test_the_list_is_parsed_into_hosts_and_ports():
    assert parse_sentinels(SENTINELS) == [("10.0.0.1", 26379), ("10.0.0.2", 26379), ("10.0.0.3", 26379)]
    assert parse_sentinels(" sentinel-a:26379 ,[::1]:26380") == [("sentinel-a", 26379), ("::1", 26380)]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("10.0.0.1:26379,,10.0.0.2:26379", "entry 2 is empty"),
        ("10.0.0.1:26379,", "entry 2 is empty"),
        ("10.0.0.1", "'10.0.0.1' has no port"),
        ("10.0.0.1:", "has no port"),
        (":26379", "has no port"),
        ("10.0.0.1:0", "port 0 is out of range"),
        ("10.0.0.1:65536", "port 65536 is out of range"),
        ("10.0.0.1:sentinel", "port 'sentinel' is not a number"),
        ("::1:26379", "IPv6 address in brackets"),
        ("a b:26379", "is not a host name"),
        ("10.0.0.1:26379,10.0.0.1:26379", "listed twice"),
    ],
)
def test_a_bad_list_stops_start_up_naming_the_variable_and_the_entry(env, value, says):
    env.setenv("REDIS_SENTINELS", value)
    env.setenv("REDIS_MASTER_NAME", "triage-master")
    with pytest.raises(ConfigError) as info:
        get_settings()
    message = str(info.value)
    assert message.startswith("configuration error: REDIS_SENTINELS: "), message
    assert says in message


def test_sentinels_and_master_name_come_together(env):
    env.setenv("REDIS_SENTINELS", SENTINELS)
    with pytest.raises(ConfigError, match=r"^configuration error: REDIS_SENTINELS: set REDIS_MASTER_NAME too"):
        get_settings()
    get_settings.cache_clear()
    env.delenv("REDIS_SENTINELS")
    env.setenv("REDIS_MASTER_NAME", "triage-master")
    with pytest.raises(ConfigError, match=r"^configuration error: REDIS_SENTINELS: must be set with REDIS_MASTER_NAME"):
        get_settings()
    get_settings.cache_clear()
    env.setenv("REDIS_SENTINELS", SENTINELS)
    env.setenv("REDIS_MASTER_NAME", "two words")
    with pytest.raises(ConfigError, match="REDIS_MASTER_NAME: 'two words': expected one word"):
        get_settings()


def test_redis_url_must_give_a_database_number_and_be_plain_redis(env):
    with pytest.raises(ConfigError, match="REDIS_URL: database 'zero' in redis://ignored:6379/zero is not a number"):
        sentinel_settings(env, "redis://ignored:6379/zero")
    get_settings.cache_clear()
    with pytest.raises(ConfigError, match="REDIS_URL: with REDIS_SENTINELS it must be a redis:// URL"):
        sentinel_settings(env, "rediss://ignored:6380/0")


def test_blank_values_mean_no_sentinel(env):
    env.setenv("REDIS_SENTINELS", "  ")
    env.setenv("REDIS_MASTER_NAME", "")
    settings = get_settings()
    assert not settings.redis.uses_sentinel and settings.redis.sentinel_addresses == []
    assert settings.redis.effective_broker_url == settings.redis.result_backend_url == settings.redis.url
    assert settings.redis.sentinel_transport_options == {} and settings.redis.redbeat_redis_options == {}
    assert settings.redis.redbeat_redis_url == settings.redis.url


def test_celery_gets_one_sentinel_url_per_sentinel_with_the_database_of_redis_url(env):
    settings = sentinel_settings(env, "redis://ignored:6379/2")
    assert settings.redis.uses_sentinel and settings.redis.db == 2 and settings.redis.password is None
    expected = "sentinel://10.0.0.1:26379/2;sentinel://10.0.0.2:26379/2;sentinel://10.0.0.3:26379/2"
    assert settings.redis.effective_broker_url == settings.redis.result_backend_url == expected
    options = settings.redis.sentinel_transport_options
    assert options["master_name"] == "triage-master"
    assert options["sentinel_kwargs"]["socket_timeout"] > 0
    assert options["sentinel_kwargs"]["retry"].get_retries() == 0  # the next sentinel is the retry


def test_the_password_of_redis_url_goes_to_the_master_in_every_url(env):
    settings = sentinel_settings(env, "redis://:s%40cret%2Fpw@ignored:6379/5")
    assert settings.redis.password == "s@cret/pw" and settings.redis.db == 5
    urls = settings.redis.result_backend_url.split(";")
    assert urls == [f"sentinel://:s%40cret%2Fpw@10.0.0.{n}:26379/5" for n in (1, 2, 3)]
    # kombu reads each URL back to the same password (it moves on to the next URL on failure).
    assert Connection(urls[1]).password == "s@cret/pw"
    get_settings.cache_clear()
    settings = sentinel_settings(env, "redis://fleet:pw@ignored:6379")
    assert settings.redis.username == "fleet" and settings.redis.db == 0
    assert settings.redis.result_backend_url.startswith("sentinel://fleet:pw@10.0.0.1:26379/0;")


def test_a_rabbitmq_broker_stays_while_results_go_through_sentinel(env):
    settings = sentinel_settings(env, BROKER_URL="amqp://guest:guest@127.0.0.1:5672//")
    assert settings.redis.effective_broker_url == "amqp://guest:guest@127.0.0.1:5672//"
    assert settings.redis.result_backend_url.startswith("sentinel://10.0.0.1:26379/2;")


def test_redbeat_gets_its_own_sentinel_form(env):
    settings = sentinel_settings(env, "redis://:pw@ignored:6379/4")
    assert settings.redis.redbeat_redis_url == "redis-sentinel://10.0.0.1:26379/4"
    options = settings.redis.redbeat_redis_options
    # The keys redbeat.schedulers.get_redis reads for a redis-sentinel:// URL.
    assert options["sentinels"] == [("10.0.0.1", 26379), ("10.0.0.2", 26379), ("10.0.0.3", 26379)]
    assert options["service_name"] == "triage-master"
    assert (options["db"], options["password"]) == (4, "pw")
    assert options["socket_timeout"] > 0 and "sentinel_kwargs" in options


def test_the_fleet_client_is_a_sentinel_managed_master_client(env):
    sentinel_settings(env, "redis://:pw@ignored:6379/3")
    client = services.redis_client()  # builds the client; nothing connects until a command runs
    pool = client.connection_pool
    assert isinstance(pool, SentinelConnectionPool) and pool.is_master
    assert pool.service_name == "triage-master"
    kwargs = pool.connection_kwargs
    assert (kwargs["db"], kwargs["password"]) == (3, "pw")
    assert not kwargs.get("decode_responses")  # bytes: pybreaker's Redis storage needs them
    assert kwargs["socket_timeout"] == 10 and kwargs["health_check_interval"] == 30
    addresses = [
        (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
        for s in pool.sentinel_manager.sentinels
    ]
    assert addresses == [("10.0.0.1", 26379), ("10.0.0.2", 26379), ("10.0.0.3", 26379)]
    assert services.redis_client() is client  # one per process


def test_without_sentinels_the_fleet_client_reads_redis_url(env):
    env.setenv("REDIS_URL", "redis://127.0.0.1:6399/7")
    pool = services.redis_client().connection_pool
    assert not isinstance(pool, SentinelConnectionPool)
    assert (pool.connection_kwargs["port"], pool.connection_kwargs["db"]) == (6399, 7)


def test_a_sentinel_channel_of_a_collected_connection_raises_a_connection_error():
    assert SentinelTransport.Channel is SentinelChannel
    assert issubclass(SentinelChannel, kombu_redis.SentinelChannel)
    channel = object.__new__(SentinelChannel)  # no connection needed to reach the check
    channel.connection = SimpleNamespace(client=None)  # a transport the collect detached
    with pytest.raises(RedisConnectionError):
        channel._connparams()
    assert issubclass(RedisConnectionError, SentinelTransport.connection_errors)


def test_moving_on_to_the_next_sentinel_url_keeps_the_fleet_transport():
    urls = "sentinel://10.0.0.1:26379/0;sentinel://10.0.0.2:26379/0"
    connection = Connection(
        urls, transport="app.broker:SentinelTransport", transport_options={"master_name": "triage-master"}
    )
    assert isinstance(connection.transport, SentinelTransport)
    connection.maybe_switch_next()  # what kombu does when connecting through one sentinel failed
    assert connection.hostname == "10.0.0.2"
    assert isinstance(connection.transport, SentinelTransport)
