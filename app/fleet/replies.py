"""Redis replies as the types the fleet uses.

redis-py types a reply as `bytes | str` (wider for sorted-set ranges) because decode_responses is
chosen at run time. The fleet's clients leave it off, so replies are bytes; these helpers decode
them, take str as it is, and refuse a reply of the wrong shape rather than guess."""

from __future__ import annotations

from redis.typing import ZSetRangeResponse


def text(value: bytes | str) -> str:
    """A reply as text: bytes decoded (UTF-8, as bytes.decode()), str as it is."""
    return value.decode() if isinstance(value, bytes) else value


def members(reply: ZSetRangeResponse) -> list[str]:
    """The members of a sorted-set range read without WITHSCORES, in the reply's order."""
    found = []
    for member in reply:
        if not isinstance(member, bytes | str):
            raise TypeError(f"a sorted-set member was expected, not {type(member).__name__} (read WITHSCORES?)")
        found.append(text(member))
    return found


def scored(reply: ZSetRangeResponse) -> list[tuple[str, float]]:
    """(member, score) pairs of a sorted-set range read WITHSCORES (or ZPOPMIN), in the reply's order."""
    pairs = []
    for entry in reply:
        if isinstance(entry, bytes | str):
            raise TypeError("(member, score) pairs were expected (read without WITHSCORES?)")
        member, score = entry
        pairs.append((text(member), float(score)))
    return pairs
