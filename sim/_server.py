"""Plumbing shared by the simulators in this package.

Every simulator is an aiohttp application with in-memory state that validates its runtime
settings the same way, answers errors through ``ApiError``, rate-limits with sliding windows,
and runs either from its command line until SIGTERM/SIGINT or in a background thread for
tests. What differs between them (routes, wire formats, state) stays in their own modules.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import math
import signal
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol, TypeVar

from aiohttp import web


# --- Settings -----------------------------------------------------------------------------

class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


def checked_setting(name: str, value: Any, kind: type, minimum: float | None = None,
                    maximum: float | None = None) -> Any:
    """Coerce and range-check one setting of type ``kind`` (bool, int or float).

    Raises ConfigError naming the setting when the value does not fit.
    """
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false")
        return value
    # bool is an int subclass; true/false is never a meaningful number here.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number")
    if kind is int and value != int(value):
        raise ConfigError(f"{name} must be a whole number")
    value = kind(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if minimum is not None and maximum is not None:
            bound = f"between {minimum} and {maximum}"
        else:
            bound = f">= {minimum}" if minimum is not None else f"<= {maximum}"
        raise ConfigError(f"{name} must be {bound}")
    return value


# --- Errors -------------------------------------------------------------------------------

class ApiError(Exception):
    """An error answer of the API: raised by handlers, turned into JSON by a middleware."""

    def __init__(self, status: int, body: dict, headers: dict[str, str] | None = None):
        super().__init__(status, body)
        self.status = status
        self.body = body
        self.headers = headers or {}

    def response(self) -> web.Response:
        """The JSON response that carries this error."""
        return web.json_response(self.body, status=self.status, headers=self.headers)


# --- Rate limiting --------------------------------------------------------------------------

class SlidingWindow:
    """Weighted moments of admitted requests within the last window.

    A weight of 1 counts requests; a weight of a request's tokens counts tokens. Limit and
    window come with every call because both can change at run time.
    """

    def __init__(self) -> None:
        self._entries: deque[tuple[float, int]] = deque()
        self._total = 0

    def _forget_before(self, horizon: float) -> None:
        while self._entries and self._entries[0][0] <= horizon:
            self._total -= self._entries.popleft()[1]

    def wait_for_slot(self, now: float, limit: int, window: float, weight: int = 1) -> float:
        """Seconds until ``weight`` more fits (0 when it fits now, infinity when it never will)."""
        self._forget_before(now - window)
        must_leave = self._total + weight - limit
        if must_leave <= 0:
            return 0.0
        if weight > limit:
            return math.inf
        # It fits once enough of the oldest weight has left the window.
        left = 0
        for moment, entry_weight in self._entries:
            left += entry_weight
            if left >= must_leave:
                return moment + window - now
        raise AssertionError("unreachable: the whole window always frees enough")

    def record(self, now: float, weight: int = 1) -> None:
        """Count an admitted request (with its weight) at ``now``."""
        self._entries.append((now, weight))
        self._total += weight

    def remaining(self, now: float, limit: int, window: float) -> int:
        """How much of the limit is still free."""
        self._forget_before(now - window)
        return max(0, limit - self._total)

    def reset_after(self, now: float, window: float) -> float:
        """Seconds until the oldest counted request leaves the window."""
        self._forget_before(now - window)
        return self._entries[0][0] + window - now if self._entries else 0.0


# --- Serving --------------------------------------------------------------------------------

class ServerConfig(Protocol):
    """What the harness needs of a simulator's configuration."""

    host: str
    port: int


ConfigT = TypeVar("ConfigT", bound=ServerConfig)


async def start_site(app: web.Application, config: ServerConfig) -> tuple[web.AppRunner, str]:
    """Start serving app; return the runner and the base URL with the real port."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    # A deep backlog: benchmarks open hundreds of connections at once.
    site = web.TCPSite(runner, config.host, config.port, backlog=1024)
    await site.start()
    # With port 0 the OS picked one: record it so /_sim/config shows where we listen.
    config.port = runner.addresses[0][1]
    return runner, f"http://{config.host}:{config.port}"


@dataclass
class RunningSimulator:
    """A simulator serving in a background thread (see serve_in_thread)."""

    base_url: str
    state: Any

    @property
    def config(self) -> Any:
        """The live configuration (runtime changes through /_sim/config show here)."""
        return self.state.config


@contextlib.contextmanager
def serve_in_thread(create_app: Callable[[ConfigT], web.Application],
                    state_of: Callable[[web.Application], Any], config: ConfigT,
                    thread_name: str) -> Iterator[RunningSimulator]:
    """Serve ``create_app(config)`` on its own event loop in a daemon thread for the block."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name=thread_name, daemon=True)
    thread.start()

    async def start() -> tuple[web.AppRunner, str, Any]:
        # Built on the serving loop, so anything the app creates belongs to that loop.
        app = create_app(config)
        runner, base_url = await start_site(app, config)
        return runner, base_url, state_of(app)

    try:
        runner, base_url, state = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60)
        try:
            yield RunningSimulator(base_url=base_url, state=state)
        finally:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


async def serve_until_signalled(app: web.Application, config: ServerConfig, label: str) -> None:
    """Serve until SIGTERM or SIGINT, announcing ``{label} listening on URL`` once accepting."""
    runner, base_url = await start_site(app, config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    # Flushed at once: scripts wait for this line to learn the port.
    print(f"{label} listening on {base_url}", flush=True)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def config_from_args(parser: argparse.ArgumentParser, make_config: Callable[..., ConfigT],
                     argv: list[str] | None) -> ConfigT:
    """Parse the command line into a configuration; invalid values exit through the parser."""
    args = parser.parse_args(argv)
    try:
        return make_config(**vars(args))
    except ConfigError as error:
        parser.error(str(error))


def run_command_line(serve: Callable[[ConfigT], Any], config: ConfigT) -> None:
    """Log to stderr and serve ``config`` until signalled: the body of every simulator's main."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(serve(config))
