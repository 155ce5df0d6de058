"""Opaque, signed pagination cursors: a client can neither forge one nor carry it elsewhere.

A cursor names its kind (the search export's, the incremental export's, a ticket's audits')
and the fields that say where its page ended, signed with the simulator's ``cursor_key``. A
cursor of another kind, another simulator (the key is new each start) or one altered by hand
is refused with the 400 that Zendesk answers to a bad cursor. ``cursor_page`` pages a list of
records (webhooks, triggers, trigger categories) by their sort keys, so records added or
removed meanwhile never shift the pages to come.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import hmac
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

from yarl import URL

from sim.common import ApiError
from sim.zendesk.wire import INVALID_CURSOR, MAX_LIST_PAGE_SIZE, bad_request

Item = TypeVar("Item")

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


def cursor_page_size(params: Mapping[str, str], default: int, maximum: int = MAX_LIST_PAGE_SIZE) -> int:
    """page[size], refused (not clamped) outside 1..maximum.

    https://developer.zendesk.com/api-reference/introduction/pagination/ (at most 100 a page)
    """
    raw = params.get("page[size]", str(default))
    size = int(raw) if raw.isdigit() else 0
    if not 1 <= size <= maximum:
        raise bad_request(f"page[size] must be an integer between 1 and {maximum}", "InvalidPaginationParameter")
    return size


def cursor_page(
    key: bytes,
    kind: str,
    items: Sequence[Item],
    sort_key: Callable[[Item], tuple],
    key_types: tuple[type, ...],
    params: Mapping[str, str],
    url: URL,
    size: int,
) -> tuple[list[Item], dict, dict]:
    """(the page, its ``meta``, its ``links``) of ``items``, sorted by ``sort_key``.

    page[after] pages forward, page[before] back; a cursor is the sort key of the record it
    names (``key_types`` read its fields back). links.next is given whenever the page holds
    records, as Zendesk does: meta.has_more tells whether more follow.
    """
    if "page[after]" in params and "page[before]" in params:
        raise bad_request("page[before] and page[after] can't be used together", "InvalidPaginationParameter")
    keys = [sort_key(item) for item in items]

    def position(cursor: str) -> tuple:
        fields = unseal(key, cursor, kind, len(key_types))
        try:
            return tuple(kind_of(field) for kind_of, field in zip(key_types, fields))
        except ValueError:
            raise ApiError(400, dict(INVALID_CURSOR)) from None

    if "page[before]" in params:
        end = bisect.bisect_left(keys, position(params["page[before]"]))
        start = max(0, end - size)
        has_more = start > 0
    else:
        start = bisect.bisect_right(keys, position(params["page[after]"])) if "page[after]" in params else 0
        end = min(start + size, len(items))
        has_more = end < len(items)
    before = seal(key, kind, *keys[start]) if end > start else None
    after = seal(key, kind, *keys[end - 1]) if end > start else None
    query: dict[str, Any] = {
        name: value for name, value in params.items() if name not in ("page[after]", "page[before]")
    }
    links = {
        "next": str(url.with_query({**query, "page[after]": after})) if after else None,
        "prev": str(url.with_query({**query, "page[before]": before})) if before else None,
    }
    meta = {"has_more": has_more, "after_cursor": after, "before_cursor": before}
    return list(items[start:end]), meta, links
