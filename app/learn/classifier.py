"""The local model as a classifier: offline answers with a confidence per field.

`LocalClassifier` answers with provider "local" (LLM_PROVIDER=local: nothing leaves the machine),
stands in for the LLM when it cannot answer (a fallback, like the rules without a model), and
tells the LLM classifier when it is sure enough to skip the LLM (the gate, app.clients.llm).
"""

from __future__ import annotations

from app.domain.models import Analysis, Usage
from app.domain.rules import summarize
from app.domain.taxonomy import Taxonomy
from app.learn.model import LocalModel, check_taxonomy, ticket_text

# The gate threshold README and .env.example recommend (LOCAL_GATE_CONFIDENCE is off until set);
# bench/classify_eval.py measures the gate's coverage and accuracy there.
DEFAULT_GATE_CONFIDENCE = 0.9


class LocalClassifier:
    """Classifies redacted tickets with a trained LocalModel (checked against the taxonomy)."""

    def __init__(self, model: LocalModel, taxonomy: Taxonomy) -> None:
        check_taxonomy(model, taxonomy)
        self.model = model
        self.taxonomy = taxonomy

    @property
    def name(self) -> str:
        return self.model.model_id

    def classify(self, subject: str, description: str, may_wait: bool = False) -> Analysis:
        values, confidence = self.model.predict([ticket_text(subject, description)])[0]
        return Analysis(
            summary=summarize(subject, description, self.taxonomy.summary_max_chars),
            values=values,
            confidence=confidence,
            provider="local",
            model=self.model.model_id,
        )

    def fallback(
        self, subject: str, description: str, reason: str, usage: Usage, prompt_version: str | None = None
    ) -> Analysis:
        """The model's answer standing in for the LLM's, carrying what the failed attempts cost."""
        return self.classify(subject, description).model_copy(
            update={"fallback_reason": reason, "prompt_version": prompt_version, **usage.model_dump()}
        )

    def sure_of(self, analysis: Analysis, threshold: float) -> bool:
        """Whether every field's confidence is at least `threshold` (the gate's test)."""
        return all(analysis.confidence.get(name, 0.0) >= threshold for name in self.taxonomy.fields)
