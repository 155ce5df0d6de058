"""A newcomer's mistakes, every command: for each broken configuration or input in the table, the
command prints one line on stderr naming the problem, no traceback, exits with the documented code
(app.cli.common: 1 it ran and something failed, 2 it could not start), and writes nothing to the
fleet's shared state: no key under the case's REDIS_PREFIX, the LLM and Zendesk breakers included.

Each case runs `python -m app ...` as a person would, in a scratch folder (so no `.env` of the
checkout is read), against a real Redis and in-process simulators of Zendesk and OpenAI.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from sim.launcher.stack import ROOT

pytestmark = pytest.mark.processes

EXIT_FAILURES, EXIT_USAGE = 1, 2
# A line that says what went wrong, as app.cli.main prints it.
PROBLEM_LINE = re.compile(r"^(error|configuration error): ")


@dataclass(frozen=True)
class Mistake:
    """One broken configuration or input. `argv` follows `python -m app`; `env` is laid over a
    working environment ("" unsets a variable), and `{zendesk}`, `{llm}`, `{redis}`, `{tmp}` in
    `argv`, `env` and `stdin` become the simulators' URLs, the Redis URL and the scratch folder.
    `says` is a regular expression the problem line must match."""

    name: str
    argv: tuple[str, ...]
    says: str
    exit_code: int
    env: dict[str, str] = field(default_factory=dict)
    stdin: str = ""
    files: dict[str, str] = field(default_factory=dict)  # written into the scratch folder first
    check_stdout: Callable[[str], None] | None = None
    timeout: float = 60.0
    # Keys (after the prefix) the command may leave, as a regular expression: only what using a
    # shared resource rightly records (the LLM quota a request took), never a breaker or a fault.
    may_write: str | None = None


# --- streams: redact, classify ----------------------------------------------------------------------
def _json_lines(*records: dict[str, str] | None) -> str:
    """stdin of JSON lines, None a blank line; braces doubled for the `{place}` filling."""
    import json

    return "".join(("" if r is None else json.dumps(r)) + "\n" for r in records).replace("{", "{{").replace("}", "}}")


def _output_lines(stdout: str) -> list[dict[str, object]]:
    import json

    return [json.loads(line) for line in stdout.splitlines()]


# Over a million characters, more than spaCy takes: the workers cut a text at 20,000 (MAX_TEXT_CHARS).
_LONG_TEXT = "Call Maria Gonzalez at maria@example.com. " + "The export is broken again. " * 38_000
_TICKET = {"subject": "Checkout crashes", "description": "The app crashes when I pay. Please fix it."}
_LLM_QUOTA = r"ratelimit:llm:(requests|tokens)$"  # the shared quota a request took, rightly left
_LLM_URL = {"LLM_BASE_URL": "{llm}/v1"}


def _redacted_three_lines_the_long_one_cut(stdout: str) -> None:
    lines = _output_lines(stdout)
    assert len(lines) == 3, stdout[:300]
    long_one = str(lines[0]["redacted"])
    assert long_one.startswith("Call <PERSON> at <EMAIL_ADDRESS>. The export") and len(long_one) <= 20_000
    assert lines[1] == {"error": "line 2: blank"}
    assert lines[2] == {"redacted": "Hi <PERSON>, mail <EMAIL_ADDRESS>"}


def _classified_three_lines(stdout: str) -> None:
    lines = _output_lines(stdout)
    assert len(lines) == 3, stdout[:300]
    assert lines[0]["provider"] == lines[2]["provider"] == "rules" and lines[1] == {"error": "line 2: blank"}


def _classified_then_blank(stdout: str) -> None:
    lines = _output_lines(stdout)
    assert len(lines) == 2 and lines[0]["provider"] == "rules" and lines[1] == {"error": "line 2: blank"}


STREAMS: list[Mistake] = [
    # A misspelt model or a wrong key tried from the command line: one line, exit 1, and the fleet's
    # breaker, fault record and pauses untouched (only the quota the request took is left).
    Mistake(
        "classify-misspelt-model",
        ("classify",),
        r"^error: LLM: model gpt-4o-mimi not found \(404 model_not_found\); set LLM_MODEL",
        EXIT_FAILURES,
        env={**_LLM_URL, "LLM_MODEL": "gpt-4o-mimi"},
        stdin=_json_lines(_TICKET, _TICKET),
        check_stdout=lambda out: None if out == "" else pytest.fail(out),
        may_write=_LLM_QUOTA,
    ),
    Mistake(
        "classify-wrong-api-key",
        ("classify",),
        r"^error: LLM: the API key was refused \(401 invalid_api_key\); check OPENAI_API_KEY$",
        EXIT_FAILURES,
        env={**_LLM_URL, "OPENAI_API_KEY": "sk-not-the-key"},
        stdin=_json_lines(_TICKET),
        may_write=_LLM_QUOTA,
    ),
    # A 1 MB line among others: cut and redacted as the workers do, and the stream goes on; a blank
    # line gets its error line: one line out per line in.
    Mistake(
        "redact-1mb-line-and-blank-line",
        ("redact",),
        r"^error: 1 of 3 lines not redacted .*: line 2: blank$",
        EXIT_FAILURES,
        stdin=_json_lines({"text": _LONG_TEXT}, None, {"text": "Hi Anna, mail anna@example.org"}),
        check_stdout=_redacted_three_lines_the_long_one_cut,
    ),
    Mistake(
        "classify-1mb-line-and-blank-line",
        ("classify", "--provider", "rules"),
        r"^error: 1 of 3 lines not classified .*: line 2: blank$",
        EXIT_FAILURES,
        stdin=_json_lines({"subject": "Export", "description": _LONG_TEXT}, None, _TICKET),
        check_stdout=_classified_three_lines,
    ),
    Mistake(
        "classify-redis-down",
        ("classify",),
        r"^error: Redis \(REDIS_URL\) cannot be reached",
        EXIT_FAILURES,
        env={**_LLM_URL, "REDIS_URL": "redis://127.0.0.1:1"},
        stdin=_json_lines(_TICKET),
    ),
    # The rules need no Redis: Redis down, the ticket is still classified (exit 1 for the blank line).
    Mistake(
        "classify-rules-redis-down",
        ("classify", "--provider", "rules"),
        r"^error: 1 of 2 lines not classified .*: line 2: blank$",
        EXIT_FAILURES,
        env={"REDIS_URL": "redis://127.0.0.1:1"},
        stdin=_json_lines(_TICKET, None),
        check_stdout=_classified_then_blank,
    ),
]

# --- dispatch: run, dead-letters, backfill ------------------------------------------------------------
DISPATCH: list[Mistake] = [
    Mistake("backfill-missing-file", ("backfill", "{tmp}/nowhere.csv"), r"nowhere\.csv: no such file", EXIT_USAGE),
]

# --- operations: health, runs, report ---------------------------------------------------------------
OPERATIONS: list[Mistake] = []

# --- configuration: the environment every command reads --------------------------------------------
CONFIGURATION: list[Mistake] = []

# --- learning: train, the local model -----------------------------------------------------------------
LEARNING: list[Mistake] = []

# --- webhook, zendesk setup/check -----------------------------------------------------------------------
SERVICES: list[Mistake] = []

MISTAKES = STREAMS + DISPATCH + OPERATIONS + CONFIGURATION + LEARNING + SERVICES


@pytest.fixture(scope="module")
def simulators() -> Iterator[dict[str, str]]:
    from sim.llm import running_simulator as running_llm
    from sim.zendesk import running_simulator as running_zendesk

    with running_zendesk(tickets=5, seed=3) as zendesk, running_llm() as llm:
        yield {"zendesk": zendesk.base_url, "llm": llm.base_url}


def working_env(redis_url: str, prefix: str, simulators: dict[str, str], tmp: Path) -> dict[str, str]:
    """What a correctly configured fleet would have: the simulators, this case's Redis prefix."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("ZENDESK_", "LLM_", "OPENAI_"))}
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "REDIS_URL": redis_url,
            "REDIS_PREFIX": prefix,
            "ZENDESK_URL": simulators["zendesk"],
            "ZENDESK_OAUTH_CLIENT_ID": "triage-fleet",
            "ZENDESK_OAUTH_CLIENT_SECRET": "sim-oauth-secret",
            "OPENAI_API_KEY": "sim-llm-key",
            "LLM_BASE_URL": simulators["llm"],
            "LOG_DIR": str(tmp / "logs"),
        }
    )
    return env


@pytest.mark.parametrize("mistake", MISTAKES, ids=lambda m: m.name)
def test_a_mistake_gets_one_clear_line_and_changes_nothing(
    mistake: Mistake, redis_url: str, simulators: dict[str, str], tmp_path: Path
) -> None:
    prefix = f"mistake-{secrets.token_hex(4)}:"
    places = {**simulators, "redis": redis_url, "tmp": str(tmp_path)}

    def fill(text: str) -> str:
        return text.format(**places)

    for name, content in mistake.files.items():
        (tmp_path / name).write_text(fill(content))
    env = working_env(redis_url, prefix, simulators, tmp_path)
    for key, value in mistake.env.items():
        if value:
            env[key] = fill(value)
        else:
            env.pop(key, None)
    done = subprocess.run(
        [sys.executable, "-m", "app", *(fill(arg) for arg in mistake.argv)],
        input=fill(mistake.stdin),
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=mistake.timeout,
    )
    stderr_lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr
    problems = [line for line in stderr_lines if PROBLEM_LINE.match(line)]
    assert len(problems) == 1, f"expected one problem line, stderr was:\n{done.stderr}"
    assert re.search(mistake.says, problems[0]), problems[0]
    assert done.returncode == mistake.exit_code, done.stderr
    if mistake.check_stdout is not None:
        mistake.check_stdout(done.stdout)
    written = sorted(key.decode() for key in redis.Redis.from_url(redis_url).scan_iter(match=f"{prefix}*"))
    unexpected = [key for key in written if not (mistake.may_write and re.match(mistake.may_write, key[len(prefix) :]))]
    assert unexpected == [], f"shared state written: {unexpected}"
