"""Ticket classification behind one seam, so the LLM provider can replace the rules.

`Classifier` is what the classify task calls; `RulesClassifier` is the offline, deterministic
provider (keyword rules in the spirit of the seed's fallback), and stays as the fallback when an
LLM provider exists.
"""

from __future__ import annotations

import re
from typing import Protocol

from app.models import Analysis

RULES_MODEL = "rules-v1"

# Word lists are matched on word boundaries so "add" does not fire inside "address".
ROOT_CAUSE_WORDS: list[tuple[str, tuple[str, ...]]] = [
    ("refund", ("refund", "refunded", "charged twice", "double charge", "money back", "chargeback",
                "cancel my subscription", "cancel subscription", "overcharged", "invoice", "billing")),
    ("bug", ("bug", "error", "errors", "crash", "crashes", "crashed", "broken", "404", "500",
             "not working", "doesn't work", "does not work", "fails", "failed", "failing", "exception",
             "timeout", "blank page", "stuck", "down", "outage", "cannot", "can't", "unable")),
    ("feature", ("feature", "feature request", "would like", "would love", "please add", "suggestion",
                 "it would be great", "could you add", "support for", "integration with", "wish")),
]
HIGH_URGENCY_WORDS = ("urgent", "urgently", "asap", "immediately", "critical", "emergency",
                      "production down", "outage", "right now", "blocking", "blocker", "losing money")
LOW_URGENCY_WORDS = ("when you get a chance", "no rush", "eventually", "in the future", "someday",
                     "low priority", "whenever", "not urgent", "just curious", "nice to have")
NEGATIVE_WORDS = ("angry", "frustrated", "frustrating", "terrible", "worst", "unacceptable",
                  "disappointed", "ridiculous", "furious", "awful", "horrible", "annoyed", "fed up")
POSITIVE_WORDS = ("love", "great", "excellent", "thanks", "thank you", "awesome", "amazing",
                  "appreciate", "fantastic", "wonderful", "happy")


def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)


ROOT_CAUSE_PATTERNS = [(label, _pattern(words)) for label, words in ROOT_CAUSE_WORDS]
HIGH_URGENCY = _pattern(HIGH_URGENCY_WORDS)
LOW_URGENCY = _pattern(LOW_URGENCY_WORDS)
NEGATIVE = _pattern(NEGATIVE_WORDS)
POSITIVE = _pattern(POSITIVE_WORDS)


class Classifier(Protocol):
    """Turns a redacted ticket into an Analysis. Implementations must never see raw text."""

    def classify(self, subject: str, description: str) -> Analysis: ...


def summarize(subject: str, description: str, limit: int = 100) -> str:
    """A one-line summary: the subject, or the first sentence of the body when there is none."""
    text = " ".join(subject.split()) or " ".join(description.split()[:30]) or "(empty ticket)"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class RulesClassifier:
    """Deterministic keyword rules: no network, no cost."""

    def classify(self, subject: str, description: str) -> Analysis:
        text = f"{subject}\n{description}"
        root_cause = "other"
        best = 0
        for label, pattern in ROOT_CAUSE_PATTERNS:
            hits = len(pattern.findall(text))
            if hits > best:  # ties keep the earlier label: refund beats bug beats feature
                root_cause, best = label, hits
        if HIGH_URGENCY.search(text):
            urgency = "high"
        elif LOW_URGENCY.search(text):
            urgency = "low"
        else:
            urgency = "medium"
        negative, positive = len(NEGATIVE.findall(text)), len(POSITIVE.findall(text))
        sentiment = "negative" if negative > positive else "positive" if positive > negative else "neutral"
        return Analysis(
            summary=summarize(subject, description),
            root_cause=root_cause,
            urgency=urgency,
            sentiment=sentiment,
            model=RULES_MODEL,
        )


def build_classifier(provider: str) -> Classifier:
    """The classifier for LLM_PROVIDER (only `rules` until the LLM provider lands)."""
    if provider == "rules":
        return RulesClassifier()
    raise ValueError(f"unknown LLM_PROVIDER {provider!r}")
