"""kombu's Redis transports (`redis://` and Sentinel's `sentinel://`), with one reconnect bug
turned into the error it should be.

When the broker connection drops, Celery 5.7 collects the old connection, which detaches its
transport (`transport.client = None`), and then still uses that connection's channels: closing
them restores unacknowledged tasks, and a task that finishes after the reconnect acknowledges on
the channel it came from. Each of those builds a Redis client from the detached transport and
fails in `Channel._connparams` with `AttributeError: 'NoneType' object has no attribute
'hostname'`. That is not a connection error, so it escapes Celery's handlers and the whole worker
exits: a Redis restart with tasks in flight killed about one worker in four in
tests/integration/test_faults.py.

Raising a connection error there instead lets Celery handle it as it handles every lost
connection: the close is skipped, the late acknowledgement is logged as not sent, and the task
comes back after the visibility timeout, where the done markers and safe updates keep it from
writing twice. Remove once kombu/Celery stop using a collected connection.

Sentinel's channel builds its pool through the same `_connparams` (and then reads the detached
transport's alternate URLs), so it gets the same fix.
"""

from __future__ import annotations

from typing import Any

from kombu import transport as kombu_transports
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class _DetachedIsAConnectionError:
    """Mixed into kombu's channels: a channel whose connection was collected says so with a
    connection error instead of an AttributeError."""

    connection: Any

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("the broker connection of this channel was closed after it dropped")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]


class Channel(_DetachedIsAConnectionError, kombu_redis.Channel):
    pass


class SentinelChannel(_DetachedIsAConnectionError, kombu_redis.SentinelChannel):
    pass


class Transport(kombu_redis.Transport):
    """kombu's `redis://` transport with the Channel above."""

    Channel = Channel


class SentinelTransport(kombu_redis.SentinelTransport):
    """kombu's `sentinel://` transport with the SentinelChannel above."""

    Channel = SentinelChannel


# The broker URL lists one sentinel:// URL per sentinel. When connecting fails, kombu moves on to
# the next one (Connection.switch), and takes the transport from that URL's scheme, dropping the
# broker_transport it was given: without this alias a worker would be back on kombu's own
# SentinelTransport after its first failed reconnect, which is exactly when the fix above matters.
kombu_transports.TRANSPORT_ALIASES["sentinel"] = f"{__name__}:SentinelTransport"
kombu_transports._transport_cache.pop("sentinel", None)
