"""Unit tests need no network, no Redis server and no other process: any attempt to open a
connection or start a subprocess fails the test (Redis semantics come from fakeredis)."""

from __future__ import annotations

import socket
import subprocess

import pytest


class NetworkUsed(AssertionError):
    """A unit test tried to connect somewhere; it belongs in tests/integration."""


class ProcessStarted(AssertionError):
    """A unit test tried to start a process; it belongs in tests/integration (or e2e for a worker)."""


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: socket.socket, address: object) -> None:
        raise NetworkUsed(f"unit tests must not connect anywhere (tried {address!r})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)


@pytest.fixture(autouse=True)
def no_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: subprocess.Popen, args: object, *rest: object, **options: object) -> None:
        raise ProcessStarted(f"unit tests must not start processes (tried {args!r})")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
