"""The local model as a classifier: offline answers with a confidence per field.

`LocalClassifier` answers with provider "local" (LLM_PROVIDER=local: nothing leaves the machine),
stands in for the LLM when it cannot answer (a fallback, like the rules without a model), and
tells the LLM classifier when it is sure enough to skip the LLM (the gate, app.clients.llm).

A model may have learned some of the taxonomy's fields only (a team with labels for urgency
alone): the keyword rules answer the others (`rules_fields`, named in the answer), and the gate is
never sure of a ticket with such a field, so with an LLM configured those tickets still go to it.
"""

from __future__ import annotations

from app.domain.models import Analysis, Usage
from app.domain.rules import RulesClassifier, summarize
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
        # The taxonomy's fields the model did not learn, in the taxonomy's order: the rules answer them.
        self.rules_fields = [name for name in taxonomy.fields if name not in model.fields]
        self.rules = RulesClassifier(taxonomy) if self.rules_fields else None

    @property
    def name(self) -> str:
        return self.model.model_id

    def classify(self, subject: str, description: str, may_wait: bool = False) -> Analysis:
        values, confidence = self.model.predict([ticket_text(subject, description)])[0]
        if self.rules is not None:
            ruled = self.rules.classify(subject, description)
            for name in self.rules_fields:
                values[name], confidence[name] = ruled.values[name], ruled.confidence[name]
        return Analysis(
            summary=summarize(subject, description, self.taxonomy.summary_max_chars),
            values={name: values[name] for name in self.taxonomy.fields},
            confidence={name: confidence[name] for name in self.taxonomy.fields},
            provider="local",
            model=self.model.model_id,
            rules_fields=self.rules_fields or None,
        )

    def fallback(
        self, subject: str, description: str, reason: str, usage: Usage, prompt_version: str | None = None
    ) -> Analysis:
        """The model's answer standing in for the LLM's, carrying what the failed attempts cost."""
        return self.classify(subject, description).model_copy(
            update={"fallback_reason": reason, "prompt_version": prompt_version, **usage.model_dump()}
        )

    def sure_of(self, analysis: Analysis, threshold: float) -> bool:
        """Whether the model answered every field itself, each with a confidence of at least
        `threshold` (the gate's test). A field the rules answered is never sure, however many
        keywords matched: the model knows nothing of it."""
        return not self.rules_fields and all(
            name in self.model.fields and analysis.confidence.get(name, 0.0) >= threshold
            for name in self.taxonomy.fields
        )
