"""Stream tools, JSON lines in and out: `redact`, `classify`."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from app.cli.common import EXIT_FAILURES, EXIT_OK, CommandError
from app.errors import TryLater, waiting_out

if TYPE_CHECKING:
    from app.cli.common import Commands
    from app.redaction.languages import Language

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
    """A stdin line that could not be read (blank, or not the JSON expected); its error line takes
    its place in the output."""

    error: str


def _stdin_batches(expected: str, parse: Callable[[Any], T], max_batch: int = 64) -> Iterator[list[T | _BadLine]]:
    """Every line of stdin, each a JSON object through `parse` (a blank or unreadable one as a
    _BadLine), in batches of the lines that have already arrived (at most `max_batch`). A caller
    streaming a file gets full batches, which spaCy parses in one pass at about half the time per
    line; a caller that writes one line and waits for its answer gets it at once. Read from the
    file descriptor because a text stream's buffer hides from the caller what has arrived."""
    fd, pending, number = sys.stdin.fileno(), b"", 0
    while True:
        chunk = os.read(fd, 1 << 16)
        if chunk:
            *lines, pending = (pending + chunk).split(b"\n")
        else:  # the end: a last line without its newline is still a line
            lines, pending = ([pending] if pending else []), b""
        batch: list[T | _BadLine] = []
        for line in lines:
            number += 1
            if not line.strip():
                batch.append(_BadLine(f"line {number}: blank"))
                continue
            try:
                batch.append(parse(json.loads(line.decode("utf-8"))))
            except (ValueError, KeyError, AttributeError, TypeError) as e:  # UnicodeDecodeError is a ValueError
                batch.append(_BadLine(f"line {number}: expected {expected} ({type(e).__name__})"))
        for start in range(0, len(batch), max_batch):
            yield batch[start : start + max_batch]
        if not chunk:
            return


class _Tally:
    """The lines read and the errors of those that got an error line, for the one line on stderr
    that ends a run with bad lines (exit 1)."""

    def __init__(self) -> None:
        self.lines = 0
        self.errors: list[str] = []

    def bad(self, line: _BadLine) -> None:
        self.errors.append(line.error)
        print(json.dumps({"error": line.error}))

    def outcome(self, done: str) -> int:
        if not self.errors:
            return EXIT_OK
        more = f" and {len(self.errors) - 1} more" if len(self.errors) > 1 else ""
        raise CommandError(
            f'{len(self.errors)} of {self.lines} lines not {done} (an {{"error": ...}} line stands for each): '
            f"{self.errors[0]}{more}",
            EXIT_FAILURES,
        )


def _text_of(record: Any) -> tuple[str, Language | None]:
    """A line's text and the language it says it is in (absent or null: detected)."""
    text = record["text"]
    if not isinstance(text, str):
        raise TypeError("text must be a string")
    return text, _language_of(record)


def cmd_redact(args: argparse.Namespace) -> int:
    """Redact each line's text as the workers do (cut at MAX_TEXT_CHARS); one JSON line out per line in."""
    from app import services
    from app.redaction.redactor import cut_text

    redactor = services.redactor()
    tally = _Tally()
    for batch in _stdin_batches('{"text": string, "language"?: a code such as "de"}', _text_of):
        tally.lines += len(batch)
        lines = [item for item in batch if not isinstance(item, _BadLine)]
        results = iter(redactor.redact_texts([cut_text(text) for text, _ in lines], [lang for _, lang in lines]))
        for item in batch:
            if isinstance(item, _BadLine):
                tally.bad(item)
                continue
            result = next(results)
            out: dict[str, Any] = {"redacted": result.text}
            if args.spans:
                out["spans"] = [span.as_dict() for span in result.spans]
            print(json.dumps(out, ensure_ascii=False))
        sys.stdout.flush()
    return tally.outcome("redacted")


def _language_of(record: Any) -> Language | None:
    """The language a line says it is in (absent or null: detected); TypeError for one that is no code."""
    from app.redaction.languages import normalise_language

    language = record.get("language")
    if language is None:
        return None
    decided = normalise_language(language)
    if decided is None:
        raise TypeError('language must be a language code such as "de", "fr" or "en"')
    return decided


def _ticket_texts(record: Any) -> tuple[str, str, Language | None]:
    subject, description = (record.get(key) or "" for key in ("subject", "description"))
    if not isinstance(subject, str) or not isinstance(description, str) or not (subject or description):
        raise TypeError("subject and description must be text, not both empty")
    return subject, description, _language_of(record)


def cmd_classify(args: argparse.Namespace) -> int:
    """Redact each line's ticket as the workers do (each field cut at MAX_TEXT_CHARS) and classify
    it; one JSON line out per line in. The LLM breaker, fault and pauses are this process's own
    (services.build_classifier(private=True)): a mistake tried here never pauses the fleet."""
    from app import services
    from app.redaction.redactor import cut_text

    classifier = services.build_classifier(args.provider, private=True)
    redactor = services.redactor()
    tally = _Tally()
    for batch in _stdin_batches(
        '{"subject": string, "description": string, "language"?: a code such as "de"}', _ticket_texts, max_batch=1
    ):
        for item in batch:
            tally.lines += 1
            if isinstance(item, _BadLine):
                tally.bad(item)
                sys.stdout.flush()
                continue
            subject_text, description_text, language = item
            ((subject_part, description_part),) = redactor.redact_tickets(
                [(cut_text(subject_text), cut_text(description_text))], [language]
            )
            subject, description = subject_part.text, description_part.text
            # The shared LLM quota: wait as a worker would, never fall back.
            try:
                analysis = waiting_out(
                    partial(classifier.classify, subject, description, may_wait=True), shortest_wait=0.5
                )
            except TryLater as e:  # a configuration fault: the person running this is the one to fix it
                raise CommandError(_fault_line(e), EXIT_FAILURES) from None
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
    return tally.outcome("classified")


def _fault_line(error: TryLater) -> str:
    """What a person reads for a fault that stops `classify`: the setting to fix, for the LLM's."""
    from app.clients.llm import LLMConfigFault, config_fault_line
    from app.settings import get_settings

    if isinstance(error, LLMConfigFault):
        return config_fault_line(error, get_settings(need_zendesk=False).llm.model)
    return str(error)
