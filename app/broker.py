"""kombu's Redis transport, with one reconnect bug turned into the error it should be.

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
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("the broker connection of this channel was closed after it dropped")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    """kombu's `redis://` transport with the Channel above."""

    Channel = Channel
