"""Spans: what every recognizer returns, and how overlapping findings become one redaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# When spans of different labels overlap, the merged span keeps the most specific label:
# validated patterns first (an identifier named by its cue before a bare SSN), then addresses,
# then names, then places.
LABEL_ORDER = (
    "SECRET",
    "EMAIL_ADDRESS",
    "CREDIT_CARD",
    "IBAN_CODE",
    "ABA_ROUTING_NUMBER",
    "BANK_ACCOUNT",
    "PASSPORT",
    "NPI",
    "MEDICAL_RECORD_NUMBER",
    "US_SSN",
    "FR_NIR",  # numéro de sécurité sociale (app/redaction/french.py)
    "DE_TAX_ID",  # Steuer-Identifikationsnummer (app/redaction/german_ids.py)
    "DE_SOCIAL_SECURITY",  # Sozialversicherungsnummer
    "ID_CARD",  # Personalausweis number
    "CUSTOMER_NUMBER",  # Kunden-, Vertrags-, Rechnungsnummer after their cue word
    "IP_ADDRESS",
    "PHONE_NUMBER",
    "US_DRIVER_LICENSE",
    "STREET_ADDRESS",
    "PERSON",
    "LOCATION",
)
LABEL_PRIORITY = {label: rank for rank, label in enumerate(LABEL_ORDER)}


@dataclass(frozen=True, order=True)
class Span:
    """A detected entity as character offsets into the original text."""

    start: int
    end: int
    label: str

    def as_dict(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "label": self.label}


def _rank(label: str) -> int:
    return LABEL_PRIORITY.get(label, len(LABEL_PRIORITY))


def merge_spans(spans: list[Span]) -> list[Span]:
    """Non-overlapping spans covering the union of the input; overlaps take the best label."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if span.end <= span.start:
            continue
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            label = span.label if _rank(span.label) < _rank(last.label) else last.label
            merged[-1] = Span(last.start, max(last.end, span.end), label)
            continue
        merged.append(span)
    return merged


def apply_spans(text: str, spans: list[Span]) -> str:
    """Replace each (merged, sorted) span with its `<LABEL>` placeholder."""
    pieces = []
    position = 0
    for span in spans:
        pieces.append(text[position : span.start])
        pieces.append(f"<{span.label}>")
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces)


def trim(text: str, start: int, end: int, label: str) -> Span | None:
    """The span without surrounding whitespace and punctuation; None if nothing is left."""
    while start < end and (text[start].isspace() or text[start] in ",;:>|(\"'"):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in ",;:|)\"'"):
        end -= 1
    return Span(start, end, label) if end > start else None
