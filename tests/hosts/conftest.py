"""The multi-host suite's lab (hostlab.py) and the table of what each scenario did to the tickets,
printed at the end of the session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hostlab import Lab, can_build_labs, remove_stale_labs

SCENARIO_ROWS: list[tuple[str, dict]] = []


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    """A fresh lab for one test, removed whatever the test's outcome."""
    reason = can_build_labs()
    if reason and os.geteuid() != 0:
        pytest.skip(reason)
    if reason:  # root but a tool missing: CI must run this suite, not skip it
        pytest.fail(reason)
    remove_stale_labs()
    with Lab(tmp_path / "lab") as lab:
        yield lab


@pytest.fixture
def record_scenario():
    """Adds a row to the table printed after the session: record_scenario(name, tally, **figures)."""

    def record(name: str, tally: dict, **figures: object) -> None:
        SCENARIO_ROWS.append((name, {**tally, **figures}))
        print(f"{name}: {dict(tally, **figures)}")

    return record


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not SCENARIO_ROWS:
        return
    write = terminalreporter.write_line
    terminalreporter.section("multi-host scenarios (tests/hosts)")
    write(f"{'scenario':<44} {'tickets':>7} {'once':>5} {'twice':>5} {'dead':>5} {'lost':>5}  figures")
    for name, row in SCENARIO_ROWS:
        counts = ("tickets", "once", "twice", "dead_lettered", "lost")
        extra = {key: value for key, value in row.items() if key not in counts}
        write(
            f"{name:<44} {row['tickets']:>7} {row['once']:>5} {row['twice']:>5} {row['dead_lettered']:>5} "
            f"{row['lost']:>5}  {extra}"
        )
