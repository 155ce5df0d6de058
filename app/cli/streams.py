"""Stream tools, JSON lines in and out: `redact`, `classify`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from app.cli.common import EXIT_FAILURES, EXIT_OK

if TYPE_CHECKING:
    from app.cli.common import Commands

T = TypeVar("T")


def add_redact(commands: Commands) -> None:
    redact = commands.add_parser("redact", help='redact JSON lines {"text": ...} from stdin')
    redact.add_argument("--spans", action="store_true", help="also write the detected spans")
    redact.set_defaults(handler=cmd_redact)


def add_classify(commands: Commands) -> None:
    classify = commands.add_parser("classify", help='classify JSON lines {"subject", "description"} from stdin')
    classify.add_argument(
        "--provider", choices=("rules", "openai", "local"), help="default: as configured (LLM_PROVIDER)"
    )
    classify.set_defaults(handler=cmd_classify)


class _BadLine(NamedTuple):
    """A stdin line that could not be read; its error line takes its place in the output."""

    error: str


def _stdin_batches(expected: str, parse: Callable[[Any], T], max_batch: int = 64) -> Iterator[list[T | _BadLine]]:
    """The non-blank lines of stdin, each a JSON object through `parse`, in batches of the lines
    that have already arrived (at most `max_batch`). A caller streaming a file gets full batches,
    which spaCy parses in one pass at about half the time per line; a caller that writes one line
    and waits for its answer gets it at once. Read from the file descriptor because a text
    stream's buffer hides from the caller what has arrived."""
    fd, pending, number = sys.stdin.fileno(), b"", 0
    while True:
        chunk = os.read(fd, 1 << 16)
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop() if chunk else b""
        batch: list[T | _BadLine] = []
        for line in lines:
            number += 1
            if not line.strip():
                continue
            try:
                batch.append(parse(json.loads(line.decode("utf-8"))))
            except (ValueError, KeyError, AttributeError, TypeError) as e:  # UnicodeDecodeError is a ValueError
                batch.append(_BadLine(f"line {number}: expected {expected} ({type(e).__name__})"))
        for start in range(0, len(batch), max_batch):
            yield batch[start : start + max_batch]
        if not chunk:
            return


def _stdin_records(expected: str, parse: Callable[[Any], T]) -> Iterator[T | None]:
    """Each non-blank line of stdin, a JSON object, through `parse`. A line that cannot be read
    gets an error line in its place and None: one output line per input line keeps the streams
    aligned for the caller."""
    for batch in _stdin_batches(expected, parse, max_batch=1):
        for item in batch:
            if isinstance(item, _BadLine):
                print(json.dumps({"error": item.error}), flush=True)
                yield None
            else:
                yield item


def _text_of(record: Any) -> str:
    text = record["text"]
    if not isinstance(text, str):
        raise TypeError("text must be a string")
    return text


def cmd_redact(args: argparse.Namespace) -> int:
    from app import services

    redactor = services.redactor()
    status = EXIT_OK
    for batch in _stdin_batches('{"text": string}', _text_of):
        texts = [item for item in batch if not isinstance(item, _BadLine)]
        results = iter(redactor.redact_texts(texts))
        for item in batch:
            if isinstance(item, _BadLine):
                status = EXIT_FAILURES
                print(json.dumps({"error": item.error}))
                continue
            result = next(results)
            out: dict[str, Any] = {"redacted": result.text}
            if args.spans:
                out["spans"] = [span.as_dict() for span in result.spans]
            print(json.dumps(out, ensure_ascii=False))
        sys.stdout.flush()
    return status


def _ticket_texts(record: Any) -> tuple[str, str]:
    subject, description = (record.get(key) or "" for key in ("subject", "description"))
    if not isinstance(subject, str) or not isinstance(description, str) or not (subject or description):
        raise TypeError("subject and description must be text, not both empty")
    return subject, description


def cmd_classify(args: argparse.Namespace) -> int:
    """Redact each line's ticket, as the workers do, and classify it; one JSON line out per line in."""
    from app import services
    from app.errors import TryLater, waiting_out

    classifier = services.build_classifier(args.provider)
    redactor = services.redactor()
    status = EXIT_OK
    for texts in _stdin_records('{"subject": string, "description": string}', _ticket_texts):
        if texts is None:
            status = EXIT_FAILURES
            continue
        subject, description = (part.text for part in redactor.redact_ticket(*texts))
        # The shared LLM quota: wait as a worker would, never fall back.
        try:
            analysis = waiting_out(partial(classifier.classify, subject, description, may_wait=True), shortest_wait=0.5)
        except TryLater as e:  # a configuration fault: the person running this is the one to fix it
            print(f"error: {e}", file=sys.stderr)
            return EXIT_FAILURES
        out = {
            **analysis.values,
            "confidence": analysis.confidence,
            "provider": analysis.provider,
            "model": analysis.model,
        }
        if analysis.fallback_reason:
            out["fallback_reason"] = analysis.fallback_reason
        if analysis.rules_fields:  # a local model that has not learned these: the rules answered them
            out["rules_fields"] = analysis.rules_fields
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return status
