"""Running a simulator: in a background thread for tests, or from its command line until signalled.

A simulator provides ``create_app(config)`` and a configuration dataclass with ``host`` and
``port``; this module serves it either way and reads its command line into that dataclass.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import importlib
import logging
import signal
import threading
import typing
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from aiohttp import web

from sim.common.settings import SimConfigError
from sim.common.web import state_of


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


# --- In a thread, for tests -------------------------------------------------------------------------


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
def serve_in_thread(
    create_app: Callable[[ConfigT], web.Application],
    make_config: Callable[..., ConfigT],
    options: Mapping[str, Any],
    thread_name: str,
) -> Iterator[RunningSimulator]:
    """Serve ``create_app(make_config(**options))`` on its own event loop in a daemon thread.

    ``port`` defaults to 0 (a free port); the simulator serves for the ``with`` block.
    """
    config = make_config(**{"port": 0, **options})
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


# --- From the command line --------------------------------------------------------------------------


async def serve_until_signalled(create_app: Callable[[ConfigT], web.Application], config: ConfigT, label: str) -> None:
    """Serve ``create_app(config)`` until SIGTERM or SIGINT, announcing ``{label} listening on URL``."""
    runner, base_url = await start_site(create_app(config), config)
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


def parse_config(config_class: type[ConfigT], package: str, argv: list[str] | None = None) -> ConfigT:
    """Read the command line of ``python -m PACKAGE`` into a ``config_class`` (a dataclass).

    Every field is an option, in field order: ``some_name`` is ``--some-name``, of the field's
    type, defaulting to its default, with its ``help`` (and ``choices``) metadata (see
    ``option``). A bool field that defaults to false is a flag that sets it; one that defaults
    to true is a ``--no-some-name`` flag that clears it. The description is the first paragraph of the
    package's docstring. Invalid values exit through the parser.
    """
    description = importlib.import_module(package).__doc__.split("\n\n")[0]
    parser = argparse.ArgumentParser(prog=f"python -m {package}", description=description)
    defaults = config_class()
    types = typing.get_type_hints(config_class)
    for field in dataclasses.fields(config_class):
        flag = "--" + field.name.replace("_", "-")
        default, help_text = getattr(defaults, field.name), field.metadata.get("help")
        if types[field.name] is not bool:
            parser.add_argument(
                flag, type=types[field.name], default=default, help=help_text, choices=field.metadata.get("choices")
            )
        elif default:
            parser.add_argument("--no-" + flag[2:], dest=field.name, action="store_false", help=help_text)
        else:
            parser.add_argument(flag, action="store_true", default=default, help=help_text)
    args = parser.parse_args(argv)
    try:
        return config_class(**vars(args))
    except SimConfigError as error:
        parser.error(str(error))


def run_command_line(create_app: Callable[[ConfigT], web.Application], config: ConfigT, label: str) -> None:
    """Log to stderr and serve until signalled: the body of every simulator's main."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(serve_until_signalled(create_app, config, label))
