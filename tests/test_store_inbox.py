"""Inbox state in PostgreSQL: kept counts, tombstones, resume and retention around them."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from signalhub import retention
from signalhub.inbox_state import BULK_ACTIONS, InboxCounts, Target
from signalhub.migrations import read_sql
from signalhub.signals import NewSignal
from signalhub.store_inbox import InboxStateStore

RECOUNT = """
SELECT count(*) FILTER (WHERE NOT read) AS unread, count(*) FILTER (WHERE seen_at IS NULL) AS unseen,
       count(*) AS total
FROM workflow_signals WHERE user_id = $1 AND archived_at IS NULL AND deleted_at IS NULL
"""


async def recount(store, user) -> InboxCounts:
    row = await store.pool.fetchrow(RECOUNT, user)
    return InboxCounts(row["unread"], row["unseen"], row["total"])


async def add(store, user, count: int, workflow: str = "wf", key_prefix: str | None = None):
    news = [NewSignal.create(user, "progress", workflow, {"progress": i / count},
                             f"{key_prefix}-{i}" if key_prefix else None) for i in range(count)]
    return [signal for signal, _ in await store.insert_many(news)]


async def test_kept_counts_equal_a_recount_after_any_mix_of_changes(store):
    inbox = InboxStateStore(store.pool)
    users = [uuid.uuid4(), uuid.uuid4()]
    signals = {u: await add(store, u, 30, workflow=f"wf-{n}") for n, u in enumerate(users)}
    rng = random.Random(14)
    for _ in range(60):
        user = rng.choice(users)
        pick = rng.sample(signals[user], 5)
        kind = rng.randrange(4)
        if kind == 0:
            await inbox.apply(user, rng.choice(BULK_ACTIONS), Target(ids=tuple(s.id for s in pick)))
        elif kind == 1:
            await inbox.apply(user, rng.choice(BULK_ACTIONS[:-1]), Target(workflow_id=pick[0].workflow_id))
        elif kind == 2:
            actions = rng.sample(["read", "unread", "seen", "unseen", "archive", "unarchive"], 2)
            await inbox.patch(user, pick[0].id, actions)
        else:
            signals[user] += await add(store, user, 2, workflow=pick[0].workflow_id)
        assert await inbox.counts(user) == await recount(store, user)
    # Rows removed behind the API's back (retention, psql) move the counts too.
    await store.pool.execute("DELETE FROM workflow_signals WHERE user_id = $1 AND seq % 3 = 0", users[0])
    for user in users:
        assert await inbox.counts(user) == await recount(store, user)


async def test_reapplying_the_migration_recomputes_the_counts(store):
    inbox = InboxStateStore(store.pool)
    user = uuid.uuid4()
    await add(store, user, 4)
    await store.pool.execute("UPDATE workflow_signal_counts SET total = 99 WHERE user_id = $1", user)
    await store.pool.execute(read_sql("0004_inbox_state.sql"))
    assert await inbox.counts(user) == InboxCounts(unread=4, unseen=4, total=4)


async def test_a_deleted_signal_is_a_tombstone_that_a_retried_emit_does_not_revive(store):
    inbox = InboxStateStore(store.pool)
    user = uuid.uuid4()
    [first, second] = await add(store, user, 2, key_prefix="activity-7")
    assert await inbox.delete(user, first.id) is True
    assert await inbox.delete(user, first.id) is False
    again, created = await store.insert(NewSignal.create(user, "progress", "wf", {"progress": 0.0}, "activity-7-0"))
    assert created is False and again.id == first.id
    row = await store.pool.fetchrow("SELECT data, deleted_at FROM workflow_signals WHERE id = $1", first.id)
    assert row["data"] == {} and row["deleted_at"] is not None, "the tombstone keeps no content"
    assert await store.get(user, first.id) is None
    assert [s.id for s in await store.after(user, 0, 10)] == [second.id], "a resume skips deleted signals"
    assert [s.id for s in (await store.page(user, limit=10)).signals] == [second.id]


async def test_a_resume_filtered_by_workflow_skips_deleted_signals_too(store):
    inbox = InboxStateStore(store.pool)
    user = uuid.uuid4()
    [kept, deleted] = await add(store, user, 2, workflow="doc-7")
    [other] = await add(store, user, 1, workflow="doc-8")
    assert await inbox.delete(user, deleted.id) is True
    assert [s.id for s in await store.after(user, 0, 10, workflow_ids=["doc-7"])] == [kept.id]
    assert [s.id for s in await store.after(user, 0, 10, workflow_ids=["doc-7", "doc-8"])] == [kept.id, other.id]


async def test_custom_typed_signals_are_counted_like_the_seed_types(store):
    inbox = InboxStateStore(store.pool)
    user = uuid.uuid4()
    news = [NewSignal.create(user, kind, "wf", {"question": "Publish?"}) for kind in ("approval_needed", "billing.paid")]
    [asked, paid] = [signal for signal, _ in await store.insert_many(news)]
    await inbox.patch(user, asked.id, ["read"])
    assert await inbox.counts(user) == InboxCounts(unread=1, unseen=1, total=2) == await recount(store, user)
    await inbox.apply(user, "archive", Target(ids=(paid.id,)))
    assert await inbox.counts(user) == InboxCounts(unread=0, unseen=0, total=1) == await recount(store, user)


async def test_another_users_signals_are_never_changed(store):
    inbox = InboxStateStore(store.pool)
    owner, other = uuid.uuid4(), uuid.uuid4()
    [signal] = await add(store, owner, 1)
    assert await inbox.patch(other, signal.id, ["read", "archive"]) is None
    assert await inbox.apply(other, "delete", Target(ids=(signal.id,))) == []
    assert await inbox.apply(other, "archive", Target(all=True)) == []
    assert await inbox.counts(owner) == InboxCounts(1, 1, 1)


async def test_retention_purges_archived_and_deleted_signals_by_age_like_any_other(store):
    inbox = InboxStateStore(store.pool)
    user = uuid.uuid4()
    old = await add(store, user, 3)
    recent = await add(store, user, 3)
    await store.pool.execute(
        "UPDATE workflow_signals SET created_at = now() - interval '400 days' WHERE id = ANY($1::uuid[])",
        [s.id for s in old])
    await inbox.apply(user, "archive", Target(ids=(old[0].id, recent[0].id)))
    await inbox.apply(user, "delete", Target(ids=(old[1].id, recent[1].id)))
    await retention.purge_once(store, timedelta(days=365), pause=0)
    left = await store.pool.fetch("SELECT id FROM workflow_signals WHERE user_id = $1 ORDER BY seq", user)
    assert [r["id"] for r in left] == [s.id for s in recent]
    assert await inbox.counts(user) == InboxCounts(unread=1, unseen=1, total=1)
