"""The first redactor: each recognizer, validation against false positives, span offsets."""

import pytest

from app.redaction.redactor import Redactor, Span, apply_spans, luhn_valid, merge_spans, pattern_spans


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
    found = [(text[s.start : s.end], s.label) for s in spans]
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
    assert text[result.spans[-1].start : result.spans[-1].end] == "maria@example.com"


def test_merge_and_apply():
    spans = merge_spans([Span(5, 10, "A"), Span(0, 4, "B"), Span(8, 14, "C")])
    assert spans == [Span(0, 4, "B"), Span(5, 14, "A")]
    assert apply_spans("abcd-efghijklm!", spans) == "<B>-<A>!"


def test_empty_text(redactor):
    assert redactor.redact("").text == ""


def test_ticket_redacted_in_one_pass_matches_each_field_alone(redactor):
    """Subject and description go through spaCy together; each comes back with its own spans, as
    redacting it alone gives, and nothing leaks across the join."""
    import random

    from sim.ticketgen import generate_ticket

    rng = random.Random(7)
    differences = 0
    for _ in range(60):
        ticket = generate_ticket(rng, 0.0)
        subject, description = redactor.redact_ticket(ticket.subject, ticket.description)
        alone_subject, alone_description = redactor.redact(ticket.subject), redactor.redact(ticket.description)
        assert all(0 <= s.start < s.end <= len(ticket.subject) for s in subject.spans)
        assert all(0 <= s.start < s.end <= len(ticket.description) for s in description.spans)
        for found, alone in ((subject, alone_subject), (description, alone_description)):
            # Every validated pattern (email, phone, card, ...) is found either way; spaCy may
            # differ on a name with more context, never by more than a span.
            assert {s for s in alone.spans if s.label not in ("PERSON", "LOCATION")} <= set(found.spans)
            differences += len(set(found.spans) ^ set(alone.spans))
    assert differences <= 10
    subject, description = redactor.redact_ticket("Call Anna Berg", "Her email is anna@example.org")
    assert subject.text == "Call <PERSON>" and description.text == "Her email is <EMAIL_ADDRESS>"


def test_a_batch_pass_gives_what_one_ticket_at_a_time_gives(redactor):
    import random

    from sim.ticketgen import generate_ticket

    rng = random.Random(11)
    tickets = [(t.subject, t.description) for t in (generate_ticket(rng, 0.1) for _ in range(40))]
    tickets.insert(5, ("", ""))  # an empty ticket keeps its place
    batch = redactor.redact_tickets(tickets)
    assert len(batch) == len(tickets)
    for (subject, description), (found_subject, found_description) in zip(tickets, batch):
        alone_subject, alone_description = redactor.redact_ticket(subject, description)
        assert found_subject == alone_subject and found_description == alone_description
    assert batch[5][0].text == "" and batch[5][1].spans == []


def _inputs(*texts: str):
    from app.domain.models import TicketInput

    return [
        TicketInput(run_id="r", ticket_id=index + 1, subject="Help", description=text, enqueued_at=1.0)
        for index, text in enumerate(texts)
    ]


def test_redact_inputs_records_a_failure_on_its_own_ticket(redactor):
    from app.redaction.redactor import redact_inputs

    class BreaksOnSecret(Redactor):
        def redact_tickets(self, tickets):
            if any("BOOM" in description for _, description in tickets):
                raise ValueError("model failure")
            return super().redact_tickets(tickets)

    works = redact_inputs(
        BreaksOnSecret(redactor.nlp), _inputs("Please write to anna@example.org", "BOOM", "Call Anna Berg")
    )
    assert [w.ticket_id for w in works] == [1, 2, 3]
    assert works[0].redacted_description == "Please write to <EMAIL_ADDRESS>"
    assert works[0].redacted_counts == {"EMAIL_ADDRESS": 1}
    assert works[1].failed_stage == "redact" and works[1].error == "redaction failed (ValueError)"
    assert works[1].redacted_description == ""
    assert works[2].error is None and "<PERSON>" in works[2].redacted_description
