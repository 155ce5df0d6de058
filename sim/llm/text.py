"""Reading a ticket the way the simulated model does: tokens, sentences, language and keywords.

Everything here is deterministic: the same ticket always reads the same.
"""

from __future__ import annotations

import functools
import hashlib
import math
import re
from collections import Counter
from typing import Any

CHARS_PER_TOKEN = 4


def count_tokens(text: str) -> int:
    """Roughly what a tokenizer counts: one token per four characters."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def stable_hash(*parts: object) -> int:
    """A hash that, unlike hash(), is the same in every process and run."""
    digest = hashlib.blake2b("\x00".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


# --- The ticket text -----------------------------------------------------------------------


def content_text(content: Any) -> str:
    """The text of a message's content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            part["text"] for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def content_characters(content: Any) -> int:
    """Characters of a message's content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return len(content)
    if isinstance(content, list):
        return sum(
            len(part["text"]) for part in content if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return 0


def ticket_text(messages: list[dict]) -> str:
    """The last user message, narrowed to what lies between <ticket> and </ticket> if present."""
    text = next(
        (content_text(message.get("content")) for message in reversed(messages) if message.get("role") == "user"), ""
    )
    start, end = text.find("<ticket>"), text.rfind("</ticket>")
    if start != -1 and end > start:
        return text[start + len("<ticket>") : end]
    return text


WORD_RE = re.compile(r"\w+")


def first_sentence(text: str, limit: int = 100) -> str:
    """The first sentence, whitespace collapsed, cut at a word boundary to ``limit`` characters."""
    collapsed = " ".join(text.split())
    match = re.match(r"(.+?[.!?])(?:\s|$)", collapsed)
    sentence = match.group(1) if match else collapsed
    if len(sentence) <= limit:
        return sentence
    cut = sentence[: limit + 1].rsplit(" ", 1)[0]
    # A word longer than the limit leaves nothing to keep whole: cut it instead.
    return cut if 0 < len(cut) <= limit else sentence[:limit]


LANGUAGE_STOPWORDS = {
    "en": {
        "the",
        "and",
        "is",
        "to",
        "my",
        "it",
        "not",
        "this",
        "with",
        "you",
        "for",
        "have",
        "can",
        "please",
        "we",
        "of",
        "was",
        "i",
    },
    "de": {
        "der",
        "die",
        "das",
        "und",
        "ist",
        "nicht",
        "ich",
        "mein",
        "meine",
        "mit",
        "bitte",
        "ein",
        "eine",
        "einen",
        "wir",
        "sie",
        "auf",
        "kann",
        "habe",
        "seit",
        "wenn",
        "für",
        "im",
        "hallo",
        "danke",
    },
    "es": {
        "el",
        "los",
        "las",
        "y",
        "es",
        "mi",
        "con",
        "por",
        "para",
        "una",
        "está",
        "pero",
        "hola",
        "buenos",
        "gracias",
        "desde",
        "puedo",
        "cuenta",
    },
    "fr": {
        "le",
        "les",
        "et",
        "est",
        "pas",
        "je",
        "mon",
        "ma",
        "avec",
        "pour",
        "une",
        "des",
        "vous",
        "bonjour",
        "merci",
        "mais",
        "depuis",
        "ne",
    },
    "pt": {
        "o",
        "os",
        "e",
        "é",
        "não",
        "meu",
        "minha",
        "com",
        "para",
        "uma",
        "do",
        "da",
        "você",
        "um",
        "nós",
        "olá",
        "obrigado",
        "obrigada",
        "mas",
        "desde",
        "conta",
    },
}


def guess_language(text: str) -> str:
    """A crude ISO 639-1 guess from common stopwords; English when nothing points elsewhere."""
    words = Counter(WORD_RE.findall(text.lower()))
    scores = {language: sum(words[word] for word in stopwords) for language, stopwords in LANGUAGE_STOPWORDS.items()}
    best = max(scores.values())
    # Dictionary order breaks ties, English first.
    return next(language for language, score in scores.items() if score == best) if best else "en"


# --- Keyword scoring of enum values ------------------------------------------------------------

SYNONYMS = {
    "bug": ("error", "crash", "broken", "fails", "exception", "500", "404"),
    "refund": ("refund", "charge", "charged", "money back", "invoice", "billing", "cancel"),
    "feature": ("feature", "add", "would like", "wish", "suggestion", "support for"),
    "high": ("urgent", "asap", "critical", "immediately", "down", "outage", "blocking"),
    "low": ("no rush", "whenever", "eventually", "not urgent"),
    "negative": ("angry", "frustrated", "terrible", "unacceptable", "worst", "disappointed"),
    "positive": ("thanks", "thank you", "great", "love", "awesome", "appreciate"),
}
# Enum values that mean one of the concepts above under another name.
SYNONYM_ALIASES = {
    "billing": "refund",
    "payment": "refund",
    "defect": "bug",
    "technical": "bug",
    "enhancement": "feature",
    "urgent": "high",
    "critical": "high",
}
# What a careful model answers when the ticket says nothing about a field.
NEUTRAL_DEFAULTS = ("other", "medium", "normal", "neutral")
DESCRIPTION_STOPWORDS = {
    "when",
    "with",
    "that",
    "this",
    "from",
    "they",
    "their",
    "about",
    "should",
    "must",
    "will",
    "have",
    "into",
    "what",
    "which",
    "only",
    "than",
    "then",
    "does",
    "there",
    "these",
    "those",
    "also",
    "more",
    "most",
    "some",
    "such",
}


@functools.lru_cache(maxsize=4096)
def _term_pattern(term: str) -> re.Pattern:
    # Whole words, with the common English endings: "crash" finds "crashes" and "crashed".
    return re.compile(rf"\b{re.escape(term)}(?:s|es|ed|d|ing)?\b")


def _value_words(value: str) -> list[str]:
    return [word for word in re.split(r"[\s_-]+", value.lower()) if word]


def _description_terms(description: str, values: list[str], field_name: str) -> dict[str, set[str]]:
    """Words a description ties to one enum value ("high: outages or blocking; low: ...")."""
    lowered_values = {value.lower() for value in values}
    ignored = DESCRIPTION_STOPWORDS | lowered_values | set(_value_words(field_name))
    terms: dict[str, set[str]] = {}
    for segment in re.split(r"[;\n]|\.\s", description.lower()):
        words = WORD_RE.findall(segment)
        mentioned = [value for value in values if value.lower() in words]
        # A segment naming several values says nothing about which word belongs to which.
        if len(mentioned) == 1:
            terms.setdefault(mentioned[0], set()).update(
                word for word in words if len(word) >= 4 and word not in ignored
            )
    return terms


def score_enum(text: str, values: list[str], descriptions: str, field_name: str) -> dict[str, int]:
    """How often each value, its synonyms and its description words occur in the text."""
    extra = _description_terms(descriptions, values, field_name)
    owners: list[tuple[str, str]] = []
    for value in values:
        words = _value_words(value)
        concepts = {SYNONYM_ALIASES.get(word, word) for word in [value.lower(), *words]}
        terms = {
            " ".join(words),
            *extra.get(value, ()),
            *(synonym for concept in concepts for synonym in SYNONYMS.get(concept, ())),
        }
        owners.extend((term, value) for term in terms if term)
    scores = dict.fromkeys(values, 0)
    working = text.lower()
    # Longest terms first, each match blanked out once counted: "not urgent" is low, and its
    # "urgent" must not count for high as well.
    for term, value in sorted(owners, key=lambda owner: (-len(owner[0]), owner)):
        working, hits = _term_pattern(term).subn(lambda match: " " * len(match.group()), working)
        scores[value] += hits
    return scores
