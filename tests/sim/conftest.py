"""Fixtures of the simulator tests, which start simulators in threads or as processes."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def command_line() -> Callable[..., AbstractContextManager[str]]:
    """``launch(MODULE, *ARGS)`` runs ``python -m MODULE ARGS`` for a ``with`` block.

    The block gets the URL of the "... simulator listening on URL" line, read as soon as the
    simulator prints it; afterwards the simulator must stop cleanly on SIGTERM.
    """

    @contextlib.contextmanager
    def launch(module: str, *args: str) -> Iterator[str]:
        label = module.rsplit(".", 1)[-1]
        with subprocess.Popen(
            [sys.executable, "-m", module, *args],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            try:
                line = process.stdout.readline()
                match = re.fullmatch(rf"{label} simulator listening on (http://127\.0\.0\.1:(\d+))\n", line)
                assert match and match.group(2) != "0", line
                yield match.group(1)
                process.send_signal(signal.SIGTERM)
                _, errors = process.communicate(timeout=10)
                assert process.returncode == 0, errors
            finally:
                if process.poll() is None:
                    process.kill()

    return launch
