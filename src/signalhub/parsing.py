"""Parsers for client input that is not JSON-schema validated: seqs, cursors, time bounds, JSON depth.

Pure: no I/O, no asyncio. Every function answers a value or None (or raises
`ValueError` with a message safe to show the client); none raises anything else,
whatever the input.

Why these exist: `str.isdigit()` is true for "²", "١٢" or "１" (Unicode
digits), and `int()` then either raises (superscripts) or silently reads them
as numbers. Client-supplied numbers are ASCII digits only, here, once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

#: The largest seq (PostgreSQL bigint).
MAX_SEQ = 2**63 - 1
#: Longest digit string a seq can be written with (no leading-zero padding beyond it).
_MAX_SEQ_DIGITS = len(str(MAX_SEQ))
_ASCII_DIGITS = frozenset("0123456789")


def ascii_digits(text: str, *, max_length: int) -> bool:
    """True when `text` is 1..`max_length` ASCII digits "0"-"9" (no sign, space or Unicode digit)."""
    return 0 < len(text) <= max_length and _ASCII_DIGITS.issuperset(text)


def parse_seq(value: Any) -> int | None:
    """A seq from a query string or a JSON message: 0..2**63-1 as ASCII digits or a JSON
    integer; None for anything else (booleans, floats, signs, Unicode digits, overflow)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not ascii_digits(value, max_length=_MAX_SEQ_DIGITS):
            return None
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_SEQ:
        return value
    return None


def parse_cursor(value: str) -> int | None:
    """An inbox cursor (`next_cursor` of a previous page): a seq written in ASCII digits."""
    return parse_seq(value) if isinstance(value, str) else None


def utc_bound(value: datetime, name: str) -> datetime:
    """A client's `since`/`until` as an aware UTC datetime.

    Raises ValueError (a 422) for a naive datetime, or one whose UTC form falls
    outside what Python (and so the database driver) can represent, e.g.
    `0001-01-01T00:00:00+14:00` or `9999-12-31T23:59:59-14:00`.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} needs a time zone (e.g. Z)")
    try:
        return value.astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"{name} is out of range once converted to UTC") from None


def json_depth(value: Any, *, limit: int) -> int:
    """How deeply `value`'s containers nest (a scalar 0, `{}` or `[]` 1, `{"a": []}` 2),
    counted without recursion; stops early and returns `limit + 1` once past `limit`."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        depth += 1
        if depth > limit:
            return limit + 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children)
    return deepest
