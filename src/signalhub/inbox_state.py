"""Inbox state changes (read, seen, archived, deleted) and the message that tells
a user's other sockets about them.

Pure: no I/O. The SQL lives in `store_inbox.py`, the routes in `api/inbox_state.py`.

Guarantees:
- every action is idempotent: applying it twice changes nothing the second
  time, and `updated` counts only signals whose state actually changed;
- reading implies seeing (a read signal is never counted unseen);
- `inbox_messages` splits a change into frames of at most `IDS_PER_MESSAGE`
  ids, so every frame fits a PostgreSQL NOTIFY; each frame carries the same,
  final counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .wire import dumps

Action = Literal["read", "unread", "seen", "unseen", "archive", "unarchive", "delete"]
#: What POST /api/v1/inbox/bulk accepts (`unseen` is reachable by PATCH only).
BULK_ACTIONS: tuple[str, ...] = ("read", "unread", "seen", "archive", "unarchive", "delete")

IDS_PER_MESSAGE = 100  # 100 UUIDs ~ 4 KB: well under NOTIFY's 8000-byte limit


@dataclass(frozen=True, slots=True)
class ActionSql:
    """One action as SQL: the columns it sets, and the condition under which it changes a row."""

    assignments: tuple[tuple[str, str], ...]  # (column, SQL expression)
    changes: str
    #: The state the action leaves, as the `set` of the inbox message.
    result: dict[str, bool]

    @property
    def set_sql(self) -> str:
        return ", ".join(f"{column} = {value}" for column, value in self.assignments)


_NOW_SEEN = ("seen_at", "coalesce(seen_at, now())")

ACTIONS: dict[str, ActionSql] = {
    "read": ActionSql((("read", "TRUE"), ("read_at", "now()"), _NOW_SEEN), "NOT read", {"read": True, "seen": True}),
    "unread": ActionSql((("read", "FALSE"), ("read_at", "NULL")), "read", {"read": False}),
    "seen": ActionSql((_NOW_SEEN,), "seen_at IS NULL", {"seen": True}),
    "unseen": ActionSql((("seen_at", "NULL"),), "seen_at IS NOT NULL", {"seen": False}),
    "archive": ActionSql((("archived_at", "now()"),), "archived_at IS NULL", {"archived": True}),
    "unarchive": ActionSql((("archived_at", "NULL"),), "archived_at IS NOT NULL", {"archived": False}),
    # A tombstone keeps no content: only what delivery and idempotency need.
    "delete": ActionSql((("deleted_at", "now()"), ("data", "'{}'::jsonb")), "deleted_at IS NULL", {"deleted": True}),
}


def patch_actions(read: bool | None = None, seen: bool | None = None, archived: bool | None = None) -> list[str]:
    """The actions a PATCH body stands for, in an order where an explicit `seen`
    wins over the seen-by-reading of `read: true`."""
    actions: list[str] = []
    if read is not None:
        actions.append("read" if read else "unread")
    if seen is not None:
        actions.append("seen" if seen else "unseen")
    if archived is not None:
        actions.append("archive" if archived else "unarchive")
    return actions


def patch_assignments(actions: Sequence[str]) -> str:
    """One SET list for several actions; a later action's column wins (no column twice)."""
    columns: dict[str, str] = {}
    for action in actions:
        columns.update(ACTIONS[action].assignments)
    return ", ".join(f"{column} = {value}" for column, value in columns.items())


@dataclass(frozen=True, slots=True)
class InboxCounts:
    """A user's live (not archived, not deleted) signals: all, unread, unseen."""

    unread: int = 0
    unseen: int = 0
    total: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"unread": self.unread, "unseen": self.unseen, "total": self.total}


@dataclass(frozen=True, slots=True)
class Target:
    """Which of a user's signals an action applies to: exactly one of ids, workflow_id, all."""

    ids: tuple[uuid.UUID, ...] | None = None
    workflow_id: str | None = None
    all: bool = False

    def __post_init__(self) -> None:
        chosen = (self.ids is not None) + (self.workflow_id is not None) + bool(self.all)
        if chosen != 1:
            raise ValueError("exactly one of ids, workflow_id and all is required")


def inbox_messages(counts: InboxCounts, state: dict[str, bool], target: Target | None,
                   changed_ids: Sequence[uuid.UUID] = ()) -> list[str]:
    """The `{"type":"inbox",…}` frames for one change.

    `unread_count` is the seed-era field (same as `counts.unread`). `change.set`
    is the state the signals are in now; `change.ids`, `change.workflow_id` or
    `change.all` says which. A change by ids lists only those that changed.
    """
    base: dict[str, Any] = {"type": "inbox", "unread_count": counts.unread, "counts": counts.to_dict()}
    if target is None or not state:
        return [dumps(base)]
    if target.ids is None:
        where: dict[str, Any] = {"workflow_id": target.workflow_id} if target.workflow_id is not None else {"all": True}
        return [dumps(base | {"change": {"set": state, **where}})]
    ids = [str(i) for i in changed_ids]
    return [
        dumps(base | {"change": {"set": state, "ids": ids[start:start + IDS_PER_MESSAGE]}})
        for start in range(0, max(len(ids), 1), IDS_PER_MESSAGE)
    ]
