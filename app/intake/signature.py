"""Zendesk's webhook signature: base64(HMAC-SHA256(secret, timestamp + body)), checked in constant time.

https://developer.zendesk.com/documentation/webhooks/verifying/ : the signed message is the
`X-Zendesk-Webhook-Signature-Timestamp` header followed directly by the raw body (no separator),
the digest base64-encoded. Written here because it is four lines of the standard library; a
dependency would add nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

SIGNATURE_HEADER = "X-Zendesk-Webhook-Signature"
TIMESTAMP_HEADER = "X-Zendesk-Webhook-Signature-Timestamp"
MAX_CLOCK_SKEW = 300.0  # seconds: a timestamp further from now is refused (replays of old deliveries)
# Seconds a signature is remembered to refuse its repeats: a delivery is accepted while its
# timestamp is within MAX_CLOCK_SKEW of now, from up to that long before it to that long after,
# plus a minute's margin.
REPLAY_MEMORY = int(2 * MAX_CLOCK_SKEW + 60)


class SignatureError(Exception):
    """The delivery is not provably from Zendesk, or not from now; the message says which."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature Zendesk sends for `body` at `timestamp`."""
    digest = hmac.new(secret.encode(), timestamp.encode() + body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def zendesk_timestamp(moment: float) -> str:
    """A timestamp as Zendesk writes it in the header: ISO 8601 in UTC, to the second."""
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_timestamp(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError as e:
        raise SignatureError("timestamp is not ISO 8601") from e
    if moment.tzinfo is None:
        raise SignatureError("timestamp has no time zone")
    return moment.timestamp()


def verify(
    secret: str, timestamp: str | None, signature: str | None, body: bytes, now: float, max_skew: float = MAX_CLOCK_SKEW
) -> None:
    """Raise SignatureError unless `signature` is Zendesk's for `timestamp` + `body` and the
    timestamp is within `max_skew` seconds of `now`. The signature is checked first, so a forged
    request learns nothing about our clock."""
    if not signature or not timestamp:
        raise SignatureError(f"missing {SIGNATURE_HEADER if not signature else TIMESTAMP_HEADER}")
    if not hmac.compare_digest(sign(secret, timestamp, body).encode(), signature.strip().encode()):
        raise SignatureError("signature does not match")
    if abs(now - _parse_timestamp(timestamp)) > max_skew:
        raise SignatureError(f"timestamp is more than {max_skew:g} s away from now")
