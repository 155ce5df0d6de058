"""Ticket classification behind one seam: the LLM provider (app.clients.llm) or the rules.

`RulesClassifier` is the offline, deterministic provider: for each taxonomy field it counts
keyword hits per value (word boundaries, so "add" does not fire inside "address"), takes the
value with most hits (declaration order breaks ties) or the field's default when nothing
matches. Its confidence is keyword evidence, not a probability: hits / (hits + 1) for the value
chosen (0 for a default nobody's keywords named, 0.5 for one hit, 0.67 for two). It is also what
answers, tagged as a fallback, when the LLM cannot (and no local model is trained).
"""

from __future__ import annotations

import re
from typing import Protocol

from app.domain.models import Analysis, Usage
from app.domain.taxonomy import Taxonomy

RULES_MODEL = "rules-v1"


class Classifier(Protocol):
    """Turns a redacted ticket into an Analysis. Implementations must never see raw text.

    `may_wait`: the caller can come back later, so a provider may raise a retryable error
    (app.clients.llm.LLMRateLimited) instead of answering now with a fallback."""

    def classify(self, subject: str, description: str, may_wait: bool = False) -> Analysis: ...


def summarize(subject: str, description: str, limit: int = 100) -> str:
    """A one-line summary: the subject, or the first words of the body when there is none."""
    text = " ".join(subject.split()) or " ".join(description.split()[:30]) or "(empty ticket)"
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _pattern(words: list[str]) -> re.Pattern[str] | None:
    if not words:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(re.escape(w) for w in words) + r")(?!\w)", re.IGNORECASE)


class RulesClassifier:
    """Deterministic keyword rules from the taxonomy: no network, no cost."""

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.patterns = {
            name: [(value, _pattern(spec.keywords)) for value, spec in field.values.items()]
            for name, field in taxonomy.fields.items()
        }

    def values(self, text: str) -> dict[str, str]:
        return {name: value for name, (value, _) in self._votes(text).items()}

    def _votes(self, text: str) -> dict[str, tuple[str, int]]:
        chosen = {}
        for name, candidates in self.patterns.items():
            best, best_hits = self.taxonomy.fields[name].default, 0
            for value, pattern in candidates:
                hits = len(pattern.findall(text)) if pattern else 0
                if hits > best_hits:
                    best, best_hits = value, hits
            chosen[name] = (best, best_hits)
        return chosen

    def classify(self, subject: str, description: str, may_wait: bool = False) -> Analysis:
        votes = self._votes(f"{subject}\n{description}")
        return Analysis(
            summary=summarize(subject, description, self.taxonomy.summary_max_chars),
            values={name: value for name, (value, _) in votes.items()},
            confidence={name: round(hits / (hits + 1), 2) for name, (_, hits) in votes.items()},
            provider="rules",
            model=RULES_MODEL,
        )

    def fallback(
        self, subject: str, description: str, reason: str, usage: Usage, prompt_version: str | None = None
    ) -> Analysis:
        """The rules' answer standing in for the LLM's, carrying what the failed attempts cost."""
        return self.classify(subject, description).model_copy(
            update={"fallback_reason": reason, "prompt_version": prompt_version, **usage.model_dump()}
        )
