"""`python -m app redact --spans`: the contract in DESIGN.md, run as a separate process."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.processes  # each test runs `python -m app redact`

ROOT = Path(__file__).resolve().parents[2]


def run(lines, *args):
    stdin = "".join(line + "\n" for line in lines)
    # No Zendesk or Redis settings: redaction must work without them.
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "app", "redact", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd="/tmp",
        env=env,
        timeout=120,
    )


def test_one_line_out_per_line_in_with_offsets_into_the_input():
    texts = [
        "Call Maria Gonzalez at +1 415 555 0132 or maria@example.com",
        "Nothing personal here, the export is broken.",
        "Ünïcödé first: Jean-Pierre Lefèvre <jp.lefevre@example.fr>",
    ]
    result = run([json.dumps({"text": t}, ensure_ascii=False) for t in texts], "--spans")
    assert result.returncode == 0, result.stderr
    outputs = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(outputs) == 3
    for text, out in zip(texts, outputs):
        assert set(out) == {"redacted", "spans"}
        rebuilt, position = [], 0
        for span in out["spans"]:
            assert set(span) == {"start", "end", "label"} and 0 <= span["start"] < span["end"] <= len(text)
            rebuilt += [text[position : span["start"]], f"<{span['label']}>"]
            position = span["end"]
        assert "".join(rebuilt) + text[position:] == out["redacted"]
    assert outputs[1] == {"redacted": texts[1], "spans": []}
    assert "maria@example.com" not in outputs[0]["redacted"] and "Gonzalez" not in outputs[0]["redacted"]


def test_bad_and_blank_lines_get_an_error_line_and_exit_1():
    result = run(['{"text": "Hi Anna"}', "not json", "", '{"body": "x"}'])
    assert result.returncode == 1
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 4 and list(lines[0]) == ["redacted"]
    assert lines[2] == {"error": "line 3: blank"} and "error" in lines[1] and "error" in lines[3]
    assert result.stderr.strip().splitlines() == [
        'error: 3 of 4 lines not redacted (an {"error": ...} line stands for each): line 2: expected '
        '{"text": string, "language"?: a code such as "de"} (JSONDecodeError) and 2 more'
    ]


def test_a_lines_language_wins_over_detection_and_a_bad_one_is_a_bad_line():
    german = "Sehr geehrte Frau Koch, unser Drucker druckt nicht. Viele Grüße, Jana Krüger"
    result = run(
        [
            json.dumps({"text": german}, ensure_ascii=False),  # detected: German rules
            json.dumps({"text": german, "language": "en"}, ensure_ascii=False),  # English rules, as asked
            json.dumps({"text": german, "language": "deutsch!"}, ensure_ascii=False),
        ]
    )
    assert result.returncode == 1
    detected, as_english, bad = (json.loads(line) for line in result.stdout.splitlines())
    assert detected["redacted"] == "Sehr geehrte Frau <PERSON>, unser Drucker druckt nicht. Viele Grüße, <PERSON>"
    assert "Drucker" not in as_english["redacted"]  # the English rules take the noun for a name
    assert bad["error"].startswith("line 3: expected")


def test_a_long_text_is_cut_and_redacted_as_the_workers_redact_it():
    """A text past MAX_TEXT_CHARS (here over a million characters, more than spaCy takes) is cut
    where the workers cut it, a name and an address straddling the cut included, and redacted
    exactly as the worker path (redact_inputs) redacts a ticket with that description."""
    import time

    from app.domain.models import TicketInput
    from app.redaction.redactor import MAX_TEXT_CHARS, Redactor, redact_inputs

    filler = "The export to CSV fails after the upgrade. "
    head = "Hello, I am Maria Gonzalez (maria@example.com, +1 415 555 0132). "
    text = head + filler * ((MAX_TEXT_CHARS - len(head)) // len(filler))
    text += "Call Jean-Pierre Lefevre at jp@example.fr now. " + filler * 25_000
    assert len(text) > 1_000_000

    result = run([json.dumps({"text": text}), json.dumps({"text": "Mail anna@example.org"})], "--spans")
    assert result.returncode == 0, result.stderr
    cli = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(cli) == 2 and cli[1]["redacted"] == "Mail <EMAIL_ADDRESS>"
    ticket = TicketInput(run_id="r", ticket_id=1, description=text, enqueued_at=time.time())
    worker = redact_inputs(Redactor(), [ticket])[0]
    assert cli[0]["redacted"] == worker.redacted_description
    assert "maria@example.com" not in cli[0]["redacted"] and "jp@example" not in cli[0]["redacted"]
    assert all(span["end"] <= MAX_TEXT_CHARS for span in cli[0]["spans"])


def test_a_caller_that_waits_for_each_answer_gets_it_before_sending_the_next():
    """Lines are batched only as far as they have arrived: one line in, its answer out at once."""
    import select

    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "redact"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd="/tmp",
        env=env,
        text=True,
    )
    try:
        for text in ("Mail anna@example.org", "NPI: 1234567893"):
            process.stdin.write(json.dumps({"text": text}) + "\n")
            process.stdin.flush()
            ready, _, _ = select.select([process.stdout], [], [], 60)
            assert ready, "no answer while stdin stays open"
            assert "<" in json.loads(process.stdout.readline())["redacted"]
    finally:
        process.stdin.close()
        assert process.wait(timeout=60) == 0


def test_many_lines_at_once_and_a_line_that_is_not_utf8():
    texts = [f"Ticket {n}: call Maria Gonzalez at +1 415 555 01{n:02d}" for n in range(150)]
    stdin = "".join(json.dumps({"text": t}) + "\n" for t in texts).encode() + b'{"text": "caf\xe9"}\n{"text": "last"}'
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "app", "redact"], input=stdin, capture_output=True, cwd="/tmp", env=env, timeout=120
    )
    lines = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert result.returncode == 1 and len(lines) == 152
    assert all("+1 415" not in line["redacted"] and "Ticket" in line["redacted"] for line in lines[:150])
    assert lines[150] == {
        "error": 'line 151: expected {"text": string, "language"?: a code such as "de"} (UnicodeDecodeError)'
    }
    assert lines[151] == {"redacted": "last"}  # no newline at the end: still read
