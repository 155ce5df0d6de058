"""Webhook signatures and bodies: what Zendesk signs and sends, and the mistakes seen in the wild."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from app.intake.deliveries import BadDelivery, parse_delivery
from app.intake.signature import SignatureError, sign, verify, zendesk_timestamp

SECRET = "dGhpcyBpcyBhIHRlc3Qgc2VjcmV0"
NOW = 1_800_000_000.0
BODY = b'{"ticket_id": "123"}'


def zendesk_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Written out from Zendesk's page, independently of app.intake.signature.sign."""
    return base64.b64encode(hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()).decode()


def test_a_signature_made_as_zendesk_documents_it_is_accepted():
    timestamp = zendesk_timestamp(NOW)
    assert timestamp == "2027-01-15T08:00:00Z"
    assert sign(SECRET, timestamp, BODY) == zendesk_signature(SECRET, timestamp, BODY)
    verify(SECRET, timestamp, zendesk_signature(SECRET, timestamp, BODY), BODY, NOW)


@pytest.mark.parametrize(
    "mistake",
    ["hex digest", "dot between timestamp and body", "wrong secret", "body changed", "timestamp changed", "body only"],
)
def test_signatures_made_the_wrong_way_are_refused(mistake):
    timestamp = zendesk_timestamp(NOW)
    message = timestamp.encode() + BODY
    signature = {
        "hex digest": hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest(),
        "dot between timestamp and body": zendesk_signature(SECRET, timestamp + ".", BODY),
        "wrong secret": zendesk_signature("another secret", timestamp, BODY),
        "body changed": zendesk_signature(SECRET, timestamp, b'{"ticket_id": "124"}'),
        "timestamp changed": zendesk_signature(SECRET, zendesk_timestamp(NOW - 1), BODY),
        "body only": base64.b64encode(hmac.new(SECRET.encode(), BODY, hashlib.sha256).digest()).decode(),
    }[mistake]
    with pytest.raises(SignatureError, match="does not match"):
        verify(SECRET, timestamp, signature, BODY, NOW)


@pytest.mark.parametrize(
    "offset, accepted", [(0, True), (299, True), (-299, True), (301, False), (-301, False), (86_400, False)]
)
def test_a_timestamp_more_than_five_minutes_from_now_is_refused(offset, accepted):
    timestamp = zendesk_timestamp(NOW + offset)
    signature = sign(SECRET, timestamp, BODY)
    if accepted:
        verify(SECRET, timestamp, signature, BODY, NOW)
    else:
        with pytest.raises(SignatureError, match="5 minutes|300 s"):
            verify(SECRET, timestamp, signature, BODY, NOW)


@pytest.mark.parametrize(
    "timestamp, signature, reason",
    [
        (None, "x", "missing X-Zendesk-Webhook-Signature-Timestamp"),
        ("2027-01-15T08:00:00Z", None, "missing X-Zendesk-Webhook-Signature"),
        ("", "", "missing"),
    ],
)
def test_missing_headers_are_refused(timestamp, signature, reason):
    with pytest.raises(SignatureError, match=reason):
        verify(SECRET, timestamp, signature, BODY, NOW)


def test_a_signed_timestamp_that_is_not_iso_8601_is_refused():
    for timestamp in ("1800000000", "2027-01-15 08:00:00"):  # epoch seconds; no time zone
        with pytest.raises(SignatureError, match="ISO 8601|time zone"):
            verify(SECRET, timestamp, sign(SECRET, timestamp, BODY), BODY, NOW)


@pytest.mark.parametrize(
    "body, ticket_id",
    [
        ({"ticket_id": "123"}, 123),
        ({"ticket_id": 123}, 123),
        ({"ticket_id": " 42 "}, 42),
        ({"type": "zen:event-type:ticket.created", "detail": {"id": "77", "status": "NEW"}}, 77),
    ],
)
def test_both_bodies_zendesk_sends_name_the_ticket(body, ticket_id):
    assert parse_delivery(json.dumps(body).encode()).ticket_id == ticket_id


def test_other_ticket_events_are_ignored_not_refused():
    delivery = parse_delivery(b'{"type": "zen:event-type:ticket.priority_changed", "detail": {"id": "5"}}')
    assert delivery.ticket_id is None and "priority_changed" in (delivery.ignored or "")


@pytest.mark.parametrize(
    "body, reason",
    [
        (b"ticket_id=5", "not JSON"),
        (b"\xff\xfe", "not JSON"),
        (b"[5]", "not a JSON object"),
        (b"{}", "no ticket_id"),
        (b'{"ticket_id": ""}', "positive whole number"),
        (b'{"ticket_id": "{{ticket.id}}"}', "positive whole number"),  # a placeholder Zendesk did not render
        (b'{"ticket_id": -3}', "positive whole number"),
        (b'{"ticket_id": true}', "not a number"),
        (b'{"ticket_id": 1.5}', "not a number"),
        (b'{"type": "zen:event-type:ticket.created", "detail": {}}', "without detail.id"),
    ],
)
def test_bodies_that_name_no_ticket_are_refused_with_the_reason(body, reason):
    with pytest.raises(BadDelivery, match=reason):
        parse_delivery(body)
