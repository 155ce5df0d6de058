"""The broker transport turns use of a detached connection into a connection error Celery handles."""

from __future__ import annotations

from app.broker import Transport
from app.celery import app


def test_the_fleet_uses_the_patched_transport_for_redis_brokers():
    with app.connection_for_write() as connection:
        assert connection.transport_cls == "app.broker:Transport"
        assert isinstance(connection.transport, Transport)
