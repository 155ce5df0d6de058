"""Unit tests need no network and no Redis: any attempt to open a connection fails the test."""

from __future__ import annotations

import socket

import pytest


class NetworkUsed(AssertionError):
    """A unit test tried to connect somewhere; it belongs in tests/integration."""


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: socket.socket, address: object) -> None:
        raise NetworkUsed(f"unit tests must not connect anywhere (tried {address!r})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
