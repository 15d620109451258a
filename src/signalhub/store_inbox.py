"""The inbox state queries: counts, PATCH of one signal, bulk actions, delete.

Guarantees (beside those of `store.py`):
- every query is scoped by `user_id`: another user's id behaves as missing
  and nothing of theirs changes;
- a deleted signal stays as a tombstone row (`deleted_at` set, `data` cleared):
  no list, count, PATCH, resume or mark-read sees it again, its idempotency key
  still turns a retried emit into a no-op (the signal does not come back), and
  its seq is never reused; retention purges tombstones by age like any row;
- counts come from `workflow_signal_counts`, which triggers keep exact in the
  same transaction as every change (0004_inbox_state.sql), so reading them
  costs one primary-key lookup however many signals the user has.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from .hostpool import Queries
from .inbox_state import ACTIONS, InboxCounts, Target, patch_assignments
from .signals import Signal
from .store import _COLUMNS, NOT_DELETED, _signal

_COUNTS = "SELECT unread, unseen, total FROM workflow_signal_counts WHERE user_id = $1"

# The row before the change (locked), then the change; `changed` compares the two.
_PATCH = f"""
WITH before AS (
    SELECT id AS before_id, read AS was_read, seen_at IS NULL AS was_unseen, archived_at IS NULL AS was_live
    FROM workflow_signals
    WHERE user_id = $1 AND id = $2 AND {NOT_DELETED}
    FOR UPDATE
)
UPDATE workflow_signals w SET {{assignments}}, updated_at = now()
FROM before WHERE w.id = before.before_id AND w.user_id = $1
RETURNING {", ".join("w." + c for c in _COLUMNS.split(", "))},
          (w.read, w.seen_at IS NULL, w.archived_at IS NULL)
              IS DISTINCT FROM (before.was_read, before.was_unseen, before.was_live) AS changed
"""


@dataclass(frozen=True, slots=True)
class Patched:
    signal: Signal
    #: False when the signal already was in the asked-for state.
    changed: bool


class InboxStateStore:
    """Read and change a user's inbox state. Safe for concurrent use (one asyncpg pool)."""

    def __init__(self, pool: Queries) -> None:
        self.pool = pool

    async def counts(self, user_id: uuid.UUID) -> InboxCounts:
        row = await self.pool.fetchrow(_COUNTS, user_id)
        return InboxCounts(int(row["unread"]), int(row["unseen"]), int(row["total"])) if row else InboxCounts()

    async def patch(self, user_id: uuid.UUID, signal_id: uuid.UUID, actions: list[str]) -> Patched | None:
        """Apply `actions` (see `inbox_state.patch_actions`) to one signal; None when it is not theirs."""
        row = await self.pool.fetchrow(_PATCH.format(assignments=patch_assignments(actions)), user_id, signal_id)
        return Patched(_signal(row), bool(row["changed"])) if row else None

    async def apply(self, user_id: uuid.UUID, action: str, target: Target) -> list[uuid.UUID]:
        """Apply a bulk action; return the ids of the signals it changed (already-there ones are skipped)."""
        sql = ACTIONS[action]
        clauses = ["user_id = $1", NOT_DELETED, sql.changes]
        args: list[object] = [user_id]
        if target.ids is not None:
            args.append(list(target.ids))
            clauses.append("id = ANY($2::uuid[])")
        elif target.workflow_id is not None:
            args.append(target.workflow_id)
            clauses.append("workflow_id = $2")
        rows = await self.pool.fetch(
            f"UPDATE workflow_signals SET {sql.set_sql}, updated_at = now() "
            f"WHERE {' AND '.join(clauses)} RETURNING id",
            *args,
        )
        return [r["id"] for r in rows]

    async def delete(self, user_id: uuid.UUID, signal_id: uuid.UUID) -> bool:
        """Delete one signal for its user; False when it is not theirs (or already deleted)."""
        changed = await self.apply(user_id, "delete", Target(ids=(signal_id,)))
        return bool(changed)
