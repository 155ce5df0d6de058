"""Flower's safety rules, applied by flowerconfig.py when `celery -A app flower` starts.

Flower reads `flowerconfig.py` from the directory it starts in. That file takes the login from
settings (FLOWER_BASIC_AUTH, also read from .env), binds to 127.0.0.1 unless `--address` says
otherwise, and registers `refuse_unsafe_start` to run once every option is parsed, so a Flower
reachable from other hosts without a login never starts.
"""

from __future__ import annotations

from typing import Any

from app.settings import ConfigError, Settings

LOOPBACK_ADDRESSES = {"127.0.0.1", "::1", "localhost"}
DEFAULT_ADDRESS = "127.0.0.1"


def basic_auth_pairs(settings: Settings) -> list[str]:
    """FLOWER_BASIC_AUTH as Flower's list of "user:password" entries; empty when unset."""
    if settings.operators.flower_basic_auth is None:
        return []
    return [pair.strip() for pair in settings.operators.flower_basic_auth.get_secret_value().split(",") if pair.strip()]


def unsafe_start_reason(address: str, basic_auth: list[str], auth: str = "", unix_socket: str = "") -> str | None:
    """Why Flower must not start with these options, or None. A login (basic auth or Flower's
    OAuth `--auth`) makes any address fine; without one only loopback or a unix socket is."""
    if basic_auth or auth or unix_socket or address in LOOPBACK_ADDRESSES:
        return None
    where = f"address {address!r}" if address else "every network interface"
    return (
        f"Flower would serve task and worker data on {where} without a login. Set FLOWER_BASIC_AUTH="
        f"user:password (in the environment or .env), or bind it to this host only (--address={DEFAULT_ADDRESS})."
    )


def refuse_unsafe_start(options: Any) -> None:
    """Tornado parse callback: stop Flower before it listens when it would be open to the network."""
    # An empty FLOWER_BASIC_AUTH reaches Flower as [""], which is no login at all.
    logins = [login for login in options.basic_auth or [] if login.strip()]
    reason = unsafe_start_reason(options.address, logins, options.auth or "", options.unix_socket or "")
    if reason:
        raise ConfigError(reason)
