"""The first redactor: each recognizer, validation against false positives, span offsets."""

import pytest

from app.redaction import Redactor, Span, apply_spans, luhn_valid, merge_spans, pattern_spans


@pytest.fixture(scope="module")
def redactor():
    return Redactor()


@pytest.mark.parametrize(
    ("text", "label", "value"),
    [
        ("write to jane.doe+billing@example.co.uk today", "EMAIL_ADDRESS", "jane.doe+billing@example.co.uk"),
        ("call me at (415) 555-0132 please", "PHONE_NUMBER", "(415) 555-0132"),
        ("mobile +44 20 7946 0958", "PHONE_NUMBER", "+44 20 7946 0958"),
        ("card 4111 1111 1111 1111 was charged", "CREDIT_CARD", "4111 1111 1111 1111"),
        ("ssn 123-45-6789", "US_SSN", "123-45-6789"),
        ("from 192.168.10.24 yesterday", "IP_ADDRESS", "192.168.10.24"),
        ("from 2001:db8::8a2e:370:7334 host", "IP_ADDRESS", "2001:db8::8a2e:370:7334"),
    ],
)
def test_patterns_find_the_value(text, label, value):
    spans = merge_spans(pattern_spans(text))
    found = [(text[s.start:s.end], s.label) for s in spans]
    assert (value, label) in found


def test_validation_keeps_lookalikes():
    text = "order 4111 1111 1111 1112, version 1.2.3.4.5, build 999.1.1.1, ref 2024-11-05"
    assert [s for s in pattern_spans(text) if s.label in ("CREDIT_CARD", "IP_ADDRESS")] == []
    assert luhn_valid("4111111111111111") and not luhn_valid("4111111111111112")


def test_person_and_offsets(redactor):
    text = "Hello, my name is Maria Gonzalez and my email is maria@example.com."
    result = redactor.redact(text)
    assert "Maria" not in result.text and "maria@example.com" not in result.text
    assert "<PERSON>" in result.text and "<EMAIL_ADDRESS>" in result.text
    for span in result.spans:
        assert 0 <= span.start < span.end <= len(text)
    assert text[result.spans[-1].start:result.spans[-1].end] == "maria@example.com"


def test_merge_and_apply():
    spans = merge_spans([Span(5, 10, "A"), Span(0, 4, "B"), Span(8, 14, "C")])
    assert spans == [Span(0, 4, "B"), Span(5, 14, "A")]
    assert apply_spans("abcd-efghijklm!", spans) == "<B>-<A>!"


def test_empty_text(redactor):
    assert redactor.redact("").text == ""
