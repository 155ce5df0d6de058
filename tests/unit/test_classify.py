"""The rules classifier: deterministic, schema-valid, word-boundary matching, taxonomy-driven."""

from app.domain.models import Usage
from app.domain.rules import RulesClassifier, summarize
from app.domain.taxonomy import TAXONOMY_DIR, load_taxonomy

DEFAULT = load_taxonomy()
RULES = RulesClassifier(DEFAULT)


def classify(subject, body=""):
    return RULES.classify(subject, body)


def test_root_causes():
    assert classify("App crashes on login", "I get an error 500").values["root_cause"] == "bug"
    assert classify("Refund please", "I was charged twice for my subscription").values["root_cause"] == "refund"
    assert classify("Feature request", "It would be great to export to CSV").values["root_cause"] == "feature"
    assert classify("Question about my address", "Where do I change my address?").values["root_cause"] == "other"


def test_urgency_and_sentiment():
    high = classify("URGENT: production down", "We are losing money, fix ASAP. This is unacceptable")
    assert (high.values["urgency"], high.values["sentiment"]) == ("high", "negative")
    low = classify("Small idea", "No rush, whenever you get a chance. Thanks, love the product!")
    assert (low.values["urgency"], low.values["sentiment"]) == ("low", "positive")
    assert classify("Invoice copy", "Could you send the invoice").values["urgency"] == "medium"


def test_summary_is_short_and_never_empty():
    analysis = classify("x" * 300)
    assert len(analysis.summary) <= 100
    assert summarize("", "") == "(empty ticket)"
    assert summarize("", "first words of the body") == "first words of the body"
    assert (analysis.model, analysis.provider, analysis.is_fallback) == ("rules-v1", "rules", False)


def test_fallback_carries_the_spend_and_reason():
    spend = Usage(prompt_tokens=300, completion_tokens=40, cost_usd=0.0001, attempts=3)
    analysis = RULES.fallback("Crash", "error", "LLM unavailable", spend)
    assert analysis.is_fallback and analysis.fallback_reason == "LLM unavailable"
    assert (analysis.prompt_tokens, analysis.completion_tokens, analysis.attempts) == (300, 40, 3)
    assert analysis.values["root_cause"] == "bug"


def test_another_taxonomy_drives_the_same_classifier():
    catalog = load_taxonomy(TAXONOMY_DIR / "it_service_catalog.yaml")
    analysis = RulesClassifier(catalog).classify("VPN not working", "I cannot connect to the VPN from home")
    assert analysis.values == {"category": "network", "request_type": "incident", "sla": "hours_24"}
    stolen = RulesClassifier(catalog).classify("Laptop stolen", "My laptop was stolen, possible security breach")
    assert stolen.values["category"] == "security" and stolen.values["sla"] == "hours_4"
