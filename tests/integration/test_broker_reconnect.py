"""The broker transport turns use of a detached connection into a connection error Celery handles
(against real Redis)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kombu import Connection
from redis.exceptions import ConnectionError as RedisConnectionError

from app.broker import Transport


def test_a_channel_of_a_collected_connection_raises_a_connection_error(redis_url):
    connection = Connection(redis_url, transport=Transport)
    channel = connection.default_channel
    assert channel._connparams()["host"]
    connection.collect()  # what Celery does when the broker connection drops
    with pytest.raises(RedisConnectionError):
        channel._connparams()
    channel.connection = SimpleNamespace(client=None)  # a transport the collect detached
    with pytest.raises(RedisConnectionError):
        channel._connparams()
    # ... which Celery's handlers catch, so the worker reconnects instead of exiting.
    assert issubclass(RedisConnectionError, Transport.connection_errors)
