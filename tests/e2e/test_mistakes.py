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
# Zendesk's settings unset: what needs no Zendesk must not ask for them.
NO_ZENDESK = {"ZENDESK_URL": "", "ZENDESK_OAUTH_CLIENT_ID": "", "ZENDESK_OAUTH_CLIENT_SECRET": ""}
# Asking workers whether they answer (Celery's control broadcast) leaves kombu's bookkeeping of
# its reply queue: not the fleet's state.
KOMBU_REPLY_BINDING = r"_kombu\.binding_deadlines$"
# Asking Zendesk for a ticket is a sweep that read Zendesk: it leaves what every successful request
# leaves (the OAuth token, the account quota it took, pybreaker's initial closed state and zeroed
# counters: no failure counted; the request in the Zendesk request metric) and the sweep's marks
# that `health` and the stalled-fleet alert read.
ZENDESK_READ_AND_SWEEP = (
    r"(zendesk:oauth:token|ratelimit:zendesk:account|breaker:zendesk:pybreaker:(state|fail_counter|success_counter)"
    r"|sweep:last|run:completed:last|metrics:zendesk_requests)$"
)
EXPORT_CSV = "subject,description\nRefund,charged twice\n"
DISPATCH: list[Mistake] = [
    Mistake("backfill-missing-file", ("backfill", "{tmp}/nowhere.csv"), r"nowhere\.csv: no such file", EXIT_USAGE),
    Mistake("backfill-a-directory", ("backfill", "{tmp}"), r"is a directory, not an export file", EXIT_USAGE),
    # No worker in the scratch environment: said at once (not after --timeout's hour), naming the
    # queue, with nothing sent; and without --write no Zendesk setting is needed to get there.
    Mistake(
        "backfill-no-worker",
        ("backfill", "{tmp}/export.csv"),
        r"no worker answers; backfill needs one on the redact queue.*nothing was sent",
        EXIT_FAILURES,
        env=NO_ZENDESK,
        files={"export.csv": EXPORT_CSV},
        timeout=30,
        may_write=KOMBU_REPLY_BINDING,
    ),
    Mistake(
        "backfill-write-without-zendesk",
        ("backfill", "{tmp}/export.csv", "--write"),
        r"^configuration error: set ZENDESK_URL",
        EXIT_USAGE,
        env=NO_ZENDESK,
        files={"export.csv": EXPORT_CSV},
    ),
    Mistake(
        "backfill-csv-without-the-columns",
        ("backfill", "{tmp}/export.csv"),
        r"a CSV needs a header with subject and description",
        EXIT_USAGE,
        files={"export.csv": "title,body\nRefund,charged twice\n"},
    ),
    Mistake(
        "backfill-every-row-rejected",
        ("backfill", "{tmp}/export.jsonl"),
        r"export\.jsonl: every row was rejected \(2\); the reasons are in .*export\.jsonl\.triaged\.rejected\.jsonl",
        EXIT_FAILURES,
        files={"export.jsonl": '{{broken\n{{"subject": "", "description": ""}}\n'},  # braces doubled: filled in
    ),
    Mistake(
        "backfill-negative-timeout",
        ("backfill", "{tmp}/export.csv", "--timeout", "-1"),
        r"^error: argument --timeout: must be a number of seconds > 0, not '-1'",
        EXIT_USAGE,
        files={"export.csv": EXPORT_CSV},
    ),
    Mistake(
        "run-limit-not-a-number",
        ("run", "--limit", "abc"),
        r"^error: argument --limit: must be a whole number ≥ 1, not 'abc'",
        EXIT_USAGE,
    ),
    Mistake(
        "run-ticket-id-zero", ("run", "--ticket-id", "0"), r"argument --ticket-id: must be a whole number", EXIT_USAGE
    ),
    Mistake(
        "run-negative-timeout",
        ("run", "--timeout", "-1"),
        r"argument --timeout: must be a number of seconds > 0",
        EXIT_USAGE,
    ),
    Mistake(
        "dead-letters-negative-timeout",
        ("dead-letters", "--timeout", "-5"),
        r"argument --timeout: must be a number of seconds > 0",
        EXIT_USAGE,
    ),
    Mistake(
        "run-ticket-that-does-not-exist",
        ("run", "--ticket-id", "987654"),
        r"ticket 987654 does not exist in Zendesk",
        EXIT_FAILURES,
        may_write=ZENDESK_READ_AND_SWEEP,
    ),
    Mistake(
        "run-redis-down",
        ("run",),
        r"^error: Redis \(REDIS_URL\) cannot be reached",
        EXIT_FAILURES,
        env={"REDIS_URL": "redis://127.0.0.1:1"},
    ),
]

# --- operations: health, runs, report ---------------------------------------------------------------
OPERATIONS: list[Mistake] = [
    Mistake("runs-limit-zero", ("runs", "--limit", "0"), r"argument --limit: must be a whole number ≥ 1", EXIT_USAGE),
    # A report reads Redis and LOG_DIR, never Zendesk: without its settings, the run is what is missing.
    Mistake(
        "report-unknown-run-without-zendesk",
        ("report", "20990101_000000_000000"),
        r"^error: no run '20990101_000000_000000'",
        EXIT_FAILURES,
        env=NO_ZENDESK,
    ),
    Mistake(
        "report-output-into-a-missing-folder",
        ("report", "20990101_000000_000000", "--output", "{tmp}/nowhere/report.html"),
        r"nowhere: no such folder for --output",
        EXIT_USAGE,
        env=NO_ZENDESK,
    ),
    # The report across runs: a window is hours or days; it is one run's report or the days', not both.
    Mistake(
        "report-since-not-a-window",
        ("report", "--since", "7w"),
        r"argument --since: '7w' is not a window: a whole number of hours or days, like 24h, 7d or 30d",
        EXIT_USAGE,
        env=NO_ZENDESK,
    ),
    Mistake(
        "report-since-and-a-run",
        ("report", "20990101_000000_000000", "--since", "7d"),
        r"^error: name a run or give --since, not both",
        EXIT_USAGE,
        env=NO_ZENDESK,
    ),
    Mistake(
        "report-json-without-since",
        ("report", "20990101_000000_000000", "--json"),
        r"^error: --json goes with --since",
        EXIT_USAGE,
        env=NO_ZENDESK,
    ),
    Mistake(
        "report-since-output-into-a-missing-folder",
        ("report", "--since", "7d", "--output", "{tmp}/nowhere/days.html"),
        r"nowhere: no such folder for --output",
        EXIT_USAGE,
        env=NO_ZENDESK,
    ),
    # A configuration error is unhealthy (2), never "degraded" (1).
    Mistake(
        "health-bad-configuration-is-unhealthy",
        ("health",),
        r"^configuration error: ZENDESK_SUBDOMAIN: 'acme corp' contains a space",
        EXIT_USAGE,
        env={"ZENDESK_URL": "", "ZENDESK_SUBDOMAIN": "acme corp"},
    ),
    # Redis answers SELECT 99 with "DB index is out of range": said as such, not "unreachable (ResponseError)".
    Mistake(
        "health-redis-database-missing",
        ("health",),
        r"^configuration error: REDIS_URL: database 99 does not exist on this Redis server",
        EXIT_USAGE,
        env={"REDIS_URL": "{redis}?db=99"},
    ),
    Mistake(
        "health-redis-url-database-not-a-number",
        ("health",),
        r"^configuration error: REDIS_URL: database 'abc' in redis://127\.0\.0\.1:6379/abc is not a number",
        EXIT_USAGE,
        env={"REDIS_URL": "redis://127.0.0.1:6379/abc"},
    ),
]

# --- configuration: the environment every command reads --------------------------------------------
CONFIGURATION: list[Mistake] = [
    # ZENDESK_URL left from the simulator next to a real account's subdomain: neither wins in silence.
    Mistake(
        "zendesk-url-and-subdomain-both-set",
        ("run",),
        r"^configuration error: ZENDESK_URL \(http://127\.0\.0\.1:\d+\) and ZENDESK_SUBDOMAIN \(acme\) are both set",
        EXIT_USAGE,
        env={"ZENDESK_SUBDOMAIN": "acme"},
    ),
    Mistake(
        "zendesk-subdomain-with-a-space",
        ("run",),
        r"ZENDESK_SUBDOMAIN: 'acme corp' contains a space: a subdomain has only letters, digits and hyphens",
        EXIT_USAGE,
        env={"ZENDESK_URL": "", "ZENDESK_SUBDOMAIN": "acme corp"},
    ),
    Mistake(
        "zendesk-subdomain-is-a-host-name",
        ("runs",),
        r"ZENDESK_SUBDOMAIN: 'acme\.zendesk\.com' is a host name: give only the subdomain, ZENDESK_SUBDOMAIN=acme",
        EXIT_USAGE,
        env={"ZENDESK_URL": "", "ZENDESK_SUBDOMAIN": "acme.zendesk.com"},
    ),
    # Zendesk out of reach: the error names the host it tried.
    Mistake(
        "zendesk-url-nothing-listens-names-the-host",
        ("zendesk", "check"),
        r"^error: Zendesk: .*cannot connect to http://127\.0\.0\.1:9 \(connection refused\)",
        EXIT_FAILURES,
        env={"ZENDESK_URL": "http://127.0.0.1:9"},
    ),
    Mistake(
        "redis-url-database-not-a-number",
        ("run",),
        r"^configuration error: REDIS_URL: database 'abc' in redis://127\.0\.0\.1:6379/abc is not a number",
        EXIT_USAGE,
        env={"REDIS_URL": "redis://127.0.0.1:6379/abc"},
    ),
    Mistake(
        "redis-url-port-out-of-range",
        ("runs",),
        r"^configuration error: REDIS_URL: port '99999' in redis://127\.0\.0\.1:99999/0 is not a port number",
        EXIT_USAGE,
        env={"REDIS_URL": "redis://127.0.0.1:99999/0"},
    ),
    Mistake(
        "redis-url-password-never-shown",
        ("run",),
        r"^configuration error: REDIS_URL: unsupported URL scheme 'http' in http://fleet:\*\*\*@127\.0\.0\.1:6379/0",
        EXIT_USAGE,
        env={"REDIS_URL": "http://fleet:hunter2@127.0.0.1:6379/0"},
    ),
    Mistake(
        "broker-url-port-not-a-number",
        ("run",),
        r"^configuration error: BROKER_URL: port '5672x' in amqp://guest:\*\*\*@127\.0\.0\.1:5672x// is not a port",
        EXIT_USAGE,
        env={"BROKER_URL": "amqp://guest:guest@127.0.0.1:5672x//"},
    ),
    Mistake(
        "redis-database-missing-on-run",
        ("run",),
        r"^configuration error: REDIS_URL: database 99 does not exist on this Redis server",
        EXIT_USAGE,
        env={"REDIS_URL": "{redis}?db=99"},
    ),
]

# --- learning: train, the local model -----------------------------------------------------------------
NOT_A_MODEL = "this is not a model, only text\n"
MAKE_ONE = r"; make one with `python -m app train FILE`$"
LEARNING: list[Mistake] = [
    Mistake(
        "local-model-is-not-a-model",
        ("classify", "--provider", "local"),
        # What the file is not, how to make one; never numpy's hint to allow pickles.
        r"^(?!.*pickle)configuration error: LOCAL_MODEL_PATH: \S*model\.npz is not a Triage Fleet model "
        r"\(a text file, not a NumPy \.npz archive\)" + MAKE_ONE,
        EXIT_USAGE,
        env={"LOCAL_MODEL_PATH": "{tmp}/model.npz"},
        files={"model.npz": NOT_A_MODEL},
        stdin='{{"subject": "Refund", "description": "Charged twice"}}\n',
    ),
    Mistake(
        "local-model-empty-file",
        ("classify", "--provider", "local"),
        r"LOCAL_MODEL_PATH: \S*model\.npz is not a Triage Fleet model \(the file is empty\)" + MAKE_ONE,
        EXIT_USAGE,
        env={"LOCAL_MODEL_PATH": "{tmp}/model.npz"},
        files={"model.npz": ""},
        stdin='{{"subject": "Refund", "description": "Charged twice"}}\n',
    ),
    Mistake(
        "train-labels-outside-the-taxonomy",
        ("train", "labels.csv"),
        r"^error: labels\.csv has no usable label: the root_cause column's values are not in the taxonomy "
        r"\(e\.g\. 'P1', 'Defect'\); root_cause takes refund, bug, feature, other \(or their tags\)$",
        EXIT_USAGE,
        env={"LOCAL_MODEL_PATH": "{tmp}/model.npz"},
        files={"labels.csv": "subject,description,root_cause\nSite down,Everything fails,P1\nRefund,Twice,Defect\n"},
    ),
    Mistake(
        "train-no-label-column",
        ("train", "labels.csv"),
        r"^error: labels\.csv has no label column: add a column for at least one of the taxonomy's fields "
        r"\(root_cause, urgency, sentiment\) beside subject and description$",
        EXIT_USAGE,
        env={"LOCAL_MODEL_PATH": "{tmp}/model.npz"},
        files={"labels.csv": "subject,description,priority\nSite down,Everything fails,high\n"},
    ),
    Mistake(
        "train-missing-file",
        ("train", "{tmp}/nowhere.csv"),
        r"^error: \S*nowhere\.csv: no such file$",
        EXIT_USAGE,
        env={"LOCAL_MODEL_PATH": "{tmp}/model.npz"},
    ),
    Mistake(
        "train-a-folder",
        ("train", "{tmp}"),
        r"^error: \S+ is a folder, not a file of labelled tickets$",
        EXIT_USAGE,
        env={"LOCAL_MODEL_PATH": "{tmp}/model.npz"},
    ),
    Mistake(
        "train-not-json-lines",
        ("train", "labels.jsonl"),
        r"^error: labels\.jsonl has no labelled tickets \(2 lines, none a JSON object\): it needs subject, "
        r"description and a column per field",
        EXIT_USAGE,
        env={"LOCAL_MODEL_PATH": "{tmp}/model.npz"},
        files={"labels.jsonl": "subject;description;urgency\nSite down;Everything fails;high\n"},
    ),
    # accuracy: its window is report --since's; the predictions are in Redis, what people decided in Zendesk.
    Mistake(
        "accuracy-since-not-a-window",
        ("accuracy", "--since", "30"),
        r"^error: argument --since: '30' is not a window: a whole number of hours or days, like 24h, 7d or 30d",
        EXIT_USAGE,
    ),
    Mistake(
        "accuracy-without-zendesk-settings",
        ("accuracy",),
        r"^configuration error: .*ZENDESK_URL",
        EXIT_USAGE,
        env=NO_ZENDESK,
    ),
    Mistake(
        "accuracy-redis-down",
        ("accuracy", "--json"),
        r"^error: Redis \(REDIS_URL\) cannot be reached",
        EXIT_FAILURES,
        env={"REDIS_URL": "redis://127.0.0.1:1"},
    ),
]

# --- webhook, zendesk setup/check -----------------------------------------------------------------------
SERVICES: list[Mistake] = [
    # The prefix once, not "configuration error: configuration error: ...".
    Mistake(
        "webhook-without-a-secret",
        ("webhook",),
        r"^configuration error: ZENDESK_WEBHOOK_SECRET: required by `webhook`",
        EXIT_USAGE,
    ),
    Mistake(
        "webhook-port-out-of-range",
        ("webhook", "--port", "99999"),
        r"^error: argument --port: 99999 is not a port number \(1-65535\)",
        EXIT_USAGE,
        env={"ZENDESK_WEBHOOK_SECRET": "s3cret"},
    ),
    Mistake(
        "webhook-port-setting-out-of-range",
        ("webhook",),
        r"^configuration error: WEBHOOK_PORT: ",
        EXIT_USAGE,
        env={"ZENDESK_WEBHOOK_SECRET": "s3cret", "WEBHOOK_PORT": "99999"},
    ),
    Mistake(
        "metrics-port-out-of-range",
        ("metrics", "--port", "99999"),
        r"^error: argument --port: 99999 is not a port number \(1-65535\)",
        EXIT_USAGE,
    ),
    Mistake(
        "metrics-port-setting-out-of-range",
        ("metrics",),
        r"^configuration error: METRICS_PORT: ",
        EXIT_USAGE,
        env={"METRICS_PORT": "99999"},
    ),
    # Checked before serving: an exporter that cannot read Redis says so once, not at every scrape.
    Mistake(
        "metrics-without-redis",
        ("metrics", "--port", "1"),
        r"^error: Redis \(REDIS_URL\) cannot be reached",
        EXIT_FAILURES,
        env={"REDIS_URL": "redis://127.0.0.1:1/0"},
    ),
]

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
            "LLM_BASE_URL": simulators["llm"] + "/v1",  # OpenAI's base URL ends in /v1
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


@pytest.mark.parametrize(
    ("command", "setting", "extra_env"),
    [("webhook", "WEBHOOK_PORT", {"ZENDESK_WEBHOOK_SECRET": "s3cret"}), ("metrics", "METRICS_PORT", {})],
)
def test_a_server_on_a_port_in_use_says_so_in_one_line(
    command: str, setting: str, extra_env: dict[str, str], redis_url: str, simulators: dict[str, str], tmp_path: Path
) -> None:
    """Another process listens on the port: one line naming it and the setting, exit 2, nothing
    written, not the server library's OSError traceback. Not a table row: the busy port is one this
    test holds open."""
    import socket

    prefix = f"mistake-{secrets.token_hex(4)}:"
    env = {**working_env(redis_url, prefix, simulators, tmp_path), **extra_env}
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "app", command, "--host", "127.0.0.1", "--port", str(port)],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
    assert "Traceback" not in done.stderr, done.stderr
    problems = [line for line in done.stderr.splitlines() if PROBLEM_LINE.match(line)]
    assert problems == [
        f"error: port {port} is in use on 127.0.0.1: another process listens there; stop it, or choose another "
        f"with --port or {setting}"
    ]
    assert done.returncode == EXIT_USAGE
    assert list(redis.Redis.from_url(redis_url).scan_iter(match=f"{prefix}*")) == []
