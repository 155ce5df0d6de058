"""The end-to-end tier's stack: one per test on the session's Redis under a prefix of its own, so
tests can run side by side on both cores and never see each other's keys (tests/e2e/scenarios.py
holds what the tests do with it)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sim.launcher.stack import LocalStack


@pytest.fixture
def new_stack(tmp_path: Path, redis_url: str) -> Iterator[Callable[..., LocalStack]]:
    """`new_stack(label, simulator=False, **LocalStack options)`: a stack on the session's Redis
    (and its Zendesk simulator started, with `simulator`), stopped after the test; a worker's
    traceback, if any, is printed beside the failure."""
    made: list[LocalStack] = []

    def make(label: str = "e2e", simulator: bool = False, **options: Any) -> LocalStack:
        stack = LocalStack(workdir=tmp_path / "stack", redis_prefix=f"{label}-{secrets.token_hex(4)}:", **options)
        stack.start_redis(redis_url)
        made.append(stack)
        if simulator:
            stack.start_simulator()
        return stack

    yield make
    for stack in made:
        stack.stop()
        for log in sorted(stack.workdir.glob("*.log")):
            text = log.read_text(errors="replace")
            if "Traceback" in text:
                print(f"--- {log.name} (tail) ---\n{text[-4000:]}")
