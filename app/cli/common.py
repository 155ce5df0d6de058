"""What every command group shares: exit codes, argument types, listening on a port and the progress bar."""

from __future__ import annotations

import argparse
import errno
import math
import os
import sys
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from rich.progress import Progress

    # What `add_subparsers` returns: each group adds its commands to it.
    Commands = argparse._SubParsersAction["Parser"]

# 0: done. 1: it ran, and something failed (a ticket, a line, a service it needed answered with an
# error). 2: it could not start: bad arguments, configuration or input, fixed by whoever runs it.
EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2


class CommandError(Exception):
    """A mistake or a fault the person running a command can act on: `main` prints
    `error: <message>` as one line on stderr, without a traceback, and exits with `exit_code`."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURES) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Parser(argparse.ArgumentParser):
    """argparse, with a usage mistake said as every other problem is: one `error: ...` line on
    stderr (exit 2), naming the command and where its usage is, instead of argparse's usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"error: {message}; see `{self.prog} --help`\n")


def listening(serve: Callable[[], object], host: str, port: int, setting: str) -> None:
    """Run `serve` (which binds host:port first); an address that is not this process's to take is
    a CommandError naming it and `setting`, the variable that chooses the port."""
    try:
        serve()
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise CommandError(
                f"port {port} is in use on {host}: another process listens there; stop it, or choose "
                f"another with --port or {setting}",
                EXIT_USAGE,
            ) from None
        if e.errno in (errno.EACCES, errno.EADDRNOTAVAIL):
            raise CommandError(f"cannot listen on {host}:{port}: {os.strerror(e.errno).lower()}", EXIT_USAGE) from None
        raise


def positive_int(value: str) -> int:
    """An argument type: a whole number of at least 1. Its message is what argparse shows (a
    ValueError would show this function's name instead)."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number ≥ 1, not {value!r}")
    return number


def since_window(value: str) -> tuple[str, timedelta]:
    """An argument type: `--since 7d` (hours or days, app.ops.daily.parse_since), kept with its text
    for what the command shows (`report --since`, `accuracy --since`)."""
    from app.ops.daily import parse_since

    try:
        return value, parse_since(value)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def positive_seconds(value: str) -> float:
    """An argument type: a number of seconds above 0 (a timeout)."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = 0.0
    if not (seconds > 0 and math.isfinite(seconds)):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, not {value!r}")
    return seconds


def port_number(value: str) -> int:
    """A TCP port, 1-65535: checked here, so a bad one stops with argparse's usage error (exit 2)
    instead of an OverflowError from the socket."""
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number (1-65535)") from None
    if not 1 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{number} is not a port number (1-65535)")
    return number


def progress_bar(label: str) -> Progress:
    """The CLI's progress bar: on stderr, and only when that is a terminal (stdout stays the result)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not sys.stderr.isatty(),
    )
