"""Opaque, signed pagination cursors: a client can neither forge one nor carry it elsewhere.

A cursor names its kind (the search export's, the incremental export's, a ticket's audits')
and the fields that say where its page ended, signed with the simulator's ``cursor_key``. A
cursor of another kind, another simulator (the key is new each start) or one altered by hand
is refused with the 400 that Zendesk answers to a bad cursor.
"""

from __future__ import annotations

import base64
import binascii
import hmac

from sim.common import ApiError
from sim.zendesk.wire import INVALID_CURSOR

SIGNATURE_CHARS = 16


def _signature(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode(), "sha256").hexdigest()[:SIGNATURE_CHARS]


def seal(key: bytes, kind: str, *fields: object) -> str:
    """A cursor of ``kind`` carrying ``fields`` (written with str(); no field may hold ":")."""
    payload = ":".join([kind, *map(str, fields)])
    text = f"{payload}:{_signature(key, payload)}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def unseal(key: bytes, cursor: str, kind: str, count: int) -> list[str]:
    """The ``count`` fields of a cursor of ``kind`` that ``seal`` made with ``key``; a 400 otherwise."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        payload, _, signature = text.rpartition(":")
        if hmac.compare_digest(signature.encode(), _signature(key, payload).encode()):
            found_kind, *fields = payload.split(":")
            if found_kind == kind and len(fields) == count:
                return fields
    except (binascii.Error, ValueError):  # UnicodeError is a ValueError
        pass
    raise ApiError(400, dict(INVALID_CURSOR))
