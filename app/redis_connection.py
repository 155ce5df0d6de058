"""The fleet's Redis client from its settings (a URL, or Sentinel), and the start-up check that the
database REDIS_URL names exists."""

from __future__ import annotations

import redis
from redis.sentinel import Sentinel

from app.settings import REDIS_CONNECT_TIMEOUT, REDIS_SOCKET_TIMEOUT, ConfigError, Settings, sentinel_node_options
from app.settings_redis import missing_database


def connect_redis(settings: Settings) -> redis.Redis:
    """A Redis client for these settings: bytes mode (pybreaker's Redis storage needs it), short
    timeouts, reconnecting itself.

    With REDIS_SENTINELS, a client of the master the sentinels name: each of its connections asks
    the sentinels for the master's address as it connects, and drops idle connections when the
    address changed. After a failover the first command on a connection to the old master fails
    with a ConnectionError (as any lost connection does); the next ones reach the new master."""
    timeouts = {
        "socket_timeout": REDIS_SOCKET_TIMEOUT,
        "socket_connect_timeout": REDIS_CONNECT_TIMEOUT,
        "health_check_interval": 30,
    }
    if not settings.redis.uses_sentinel:
        return redis.Redis.from_url(settings.redis.url, **timeouts)
    sentinels = Sentinel(settings.redis.sentinel_addresses, sentinel_kwargs=sentinel_node_options())
    return sentinels.master_for(
        settings.redis.master_name,
        db=settings.redis.db,
        username=settings.redis.username,
        password=settings.redis.password,
        **timeouts,
    )


def check_redis_database(settings: Settings) -> None:
    """ConfigError when Redis answers but has no database REDIS_URL names: Celery would retry that
    for ever, one "DB index is out of range" every 10 s. Redis out of reach is left to Celery's own
    retries. A client of its own, closed after: no socket is kept open for a fork to inherit."""
    client = connect_redis(settings)
    try:
        client.ping()
    except redis.ResponseError as e:
        missing = missing_database(e, settings.redis.db)
        if missing:
            raise ConfigError(missing) from None
    except redis.RedisError:
        pass
    finally:
        client.close()
