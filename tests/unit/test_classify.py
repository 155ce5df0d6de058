"""The rules classifier: deterministic, schema-valid, word-boundary matching."""

from app.classify import RulesClassifier, build_classifier, summarize


def classify(subject, body=""):
    return RulesClassifier().classify(subject, body)


def test_root_causes():
    assert classify("App crashes on login", "I get an error 500").root_cause == "bug"
    assert classify("Refund please", "I was charged twice for my subscription").root_cause == "refund"
    assert classify("Feature request", "It would be great to export to CSV").root_cause == "feature"
    assert classify("Question about my address", "Where do I change my address?").root_cause == "other"


def test_urgency_and_sentiment():
    high = classify("URGENT: production down", "We are losing money, fix ASAP. This is unacceptable")
    assert (high.urgency, high.sentiment) == ("high", "negative")
    low = classify("Small idea", "No rush, whenever you get a chance. Thanks, love the product!")
    assert (low.urgency, low.sentiment) == ("low", "positive")
    assert classify("Invoice copy", "Could you send the invoice").urgency == "medium"


def test_summary_is_short_and_never_empty():
    analysis = classify("x" * 300)
    assert len(analysis.summary) <= 100
    assert summarize("", "") == "(empty ticket)"
    assert summarize("", "first words of the body") == "first words of the body"
    assert analysis.model == "rules-v1"


def test_build_classifier_rejects_unknown():
    import pytest

    assert isinstance(build_classifier("rules"), RulesClassifier)
    with pytest.raises(ValueError):
        build_classifier("nope")
