"""Which workflows one socket follows. Pure: no I/O, no asyncio.

A socket with no subscription receives all of its user's signals. A socket
with subscriptions receives only signals whose `workflow_id` is in its set,
live and on resume; control messages always. `seq` stays per user, so a
filtered socket sees gaps in `seq` by design (the other workflows' signals).

Guarantees:
- `parse_workflow_ids` accepts a list of 1..`limit` non-empty strings of at
  most 255 characters that PostgreSQL can store; anything else raises
  `SubscriptionError` with a message saying what is wrong;
- the set never holds more than `limit` workflows: `subscribe` refuses (and
  changes nothing) when it would;
- unsubscribing the last workflow leaves the set empty, which means "all of
  the user's signals" again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from . import wire
from .signals import MAX_WORKFLOW_ID_LENGTH


class SubscriptionError(ValueError):
    """A subscribe/unsubscribe request that cannot be honoured; the message says why."""


def parse_workflow_ids(value: Any, limit: int, *, field: str = "workflow_ids") -> list[str]:
    """The workflow ids of a `subscribe`/`unsubscribe` message (or of `?workflow_id=`)."""
    if not isinstance(value, list) or not value:
        raise SubscriptionError(f"{field} must be a non-empty list of workflow ids")
    if len(value) > limit:
        raise SubscriptionError(f"too many workflow ids: at most {limit} per socket")
    ids: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item or len(item) > MAX_WORKFLOW_ID_LENGTH:
            raise SubscriptionError(
                f"{field} must hold non-empty strings of at most {MAX_WORKFLOW_ID_LENGTH} characters"
            )
        if "\x00" in item:
            raise SubscriptionError(f"{field} must not contain NUL characters")
        try:
            item.encode()
        except UnicodeEncodeError:
            raise SubscriptionError(f"{field} must be valid Unicode (no lone surrogates)") from None
        ids.append(item)
    return ids


class WorkflowFilter:
    """The workflow set of one socket (insertion-ordered; empty = everything)."""

    __slots__ = ("limit", "_ids")

    def __init__(self, limit: int, workflow_ids: Iterable[str] = ()) -> None:
        self.limit = limit
        self._ids: dict[str, None] = {}
        self.subscribe(workflow_ids)

    def __bool__(self) -> bool:
        return bool(self._ids)

    @property
    def workflow_ids(self) -> list[str]:
        return list(self._ids)

    def wants(self, workflow_id: str | None) -> bool:
        """Is a signal of `workflow_id` for this socket? (None: not known without reading the row.)"""
        return not self._ids or workflow_id is None or workflow_id in self._ids

    def subscribe(self, workflow_ids: Iterable[str]) -> None:
        added = {w: None for w in workflow_ids if w not in self._ids}
        if len(self._ids) + len(added) > self.limit:
            raise SubscriptionError(f"too many workflow ids: at most {self.limit} per socket")
        self._ids.update(added)

    def unsubscribe(self, workflow_ids: Iterable[str]) -> None:
        for workflow_id in workflow_ids:
            self._ids.pop(workflow_id, None)

    def answer(self) -> str:
        """The `subscribed` control message: the socket's whole current set."""
        return wire.subscribed(self._ids)
