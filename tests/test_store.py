"""The PostgreSQL store: per-user seq in commit order, idempotency, replay, inbox queries."""

from __future__ import annotations

import asyncio
import json
import uuid

from signalhub.broker import CHANNEL
from signalhub.signals import NewSignal
from signalhub.store import MAX_NOTIFY_BYTES, InboxFilter, SignalStore, create_pool
from signalhub.store import connect as connect_db


def _new(user, signal_type="progress", workflow_id="wf", data=None, key=None) -> NewSignal:
    data = data if data is not None else {"progress": 0.5}
    return NewSignal.create(user, signal_type, workflow_id, data, key)


async def test_seq_starts_at_one_and_increases_per_user(store: SignalStore):
    alice, bob = uuid.uuid4(), uuid.uuid4()
    seqs = [(await store.insert(_new(alice)))[0].seq for _ in range(3)]
    assert seqs == [1, 2, 3]
    assert (await store.insert(_new(bob)))[0].seq == 1
    assert await store.latest_seq(alice) == 3
    assert await store.latest_seq(uuid.uuid4()) == 0


async def test_concurrent_inserts_from_many_connections_get_distinct_seqs_in_commit_order(database_url):
    user = uuid.uuid4()
    pool = await create_pool(database_url, max_size=8)
    try:
        store = SignalStore(pool)
        results = await asyncio.gather(*(store.insert(_new(user)) for _ in range(200)))
        seqs = sorted(signal.seq for signal, _ in results)
        assert seqs == list(range(1, 201))
        # commit order = seq order: replaying "after N" in seq order sees every row
        replay = await store.after(user, 0, 500)
        assert [s.seq for s in replay] == list(range(1, 201))
    finally:
        await pool.close()


async def test_reader_of_seq_n_never_misses_a_row_committed_later(database_url):
    """A transaction that holds the user's counter lock makes later inserts wait,
    so no row with a smaller seq can appear after a reader saw a bigger one."""
    user = uuid.uuid4()
    pool = await create_pool(database_url, max_size=4)
    try:
        store = SignalStore(pool)
        await store.insert(_new(user))
        blocker = await connect_db(database_url)
        tx = blocker.transaction()
        await tx.start()
        await blocker.execute(
            "UPDATE workflow_signal_seqs SET last_seq = last_seq + 1 WHERE user_id = $1", user
        )
        waiting = asyncio.create_task(store.insert(_new(user)))
        await asyncio.sleep(0.3)
        assert not waiting.done(), "an insert must wait for the user's counter lock"
        await tx.rollback()
        await blocker.close()
        signal, created = await asyncio.wait_for(waiting, 10)
        assert created and signal.seq == 2
    finally:
        await pool.close()


async def test_same_idempotency_key_stores_once_and_returns_the_first(store: SignalStore):
    user = uuid.uuid4()
    first, created = await store.insert(_new(user, key="run-1/activity-3"))
    again, created_again = await store.insert(_new(user, data={"progress": 0.9}, key="run-1/activity-3"))
    assert created and not created_again
    assert again.id == first.id and again.seq == first.seq and again.data == {"progress": 0.5}
    assert [s.id for s in await store.after(user, 0, 10)] == [first.id]
    # the key is per user
    other, created_other = await store.insert(_new(uuid.uuid4(), key="run-1/activity-3"))
    assert created_other and other.id != first.id


async def test_concurrent_retries_with_one_key_store_one_row(database_url):
    user = uuid.uuid4()
    pool = await create_pool(database_url, max_size=6)
    try:
        store = SignalStore(pool)
        results = await asyncio.gather(*(store.insert(_new(user, key="k")) for _ in range(6)))
        assert sum(created for _, created in results) == 1
        assert len({signal.id for signal, _ in results}) == 1
        assert len(await store.after(user, 0, 10)) == 1
    finally:
        await pool.close()


async def test_insert_notifies_listeners_with_the_wire_text_in_the_same_statement(store, database_url):
    user = uuid.uuid4()
    listener = await connect_db(database_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[-1]))
    try:
        signal, _ = await store.insert(_new(user, workflow_id="doc-9"), notify_channel=CHANNEL)
        while True:
            payload = await asyncio.wait_for(heard.get(), 5)
            if payload.startswith(str(user)):
                break
        user_part, seq_part, wire = payload.split("\n", 2)
        assert (user_part, seq_part) == (str(user), str(signal.seq))
        assert json.loads(wire) == json.loads(signal.wire())
    finally:
        await listener.close()


async def test_a_signal_too_big_for_notify_is_announced_by_seq_only(store, database_url):
    user = uuid.uuid4()
    listener = await connect_db(database_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[-1]))
    try:
        big = {"result": {"text": "x" * (MAX_NOTIFY_BYTES + 100)}}
        signal, _ = await store.insert(_new(user, "completion", data=big), notify_channel=CHANNEL)
        while True:
            payload = await asyncio.wait_for(heard.get(), 5)
            if payload.startswith(str(user)):
                break
        assert payload == f"{user}\n{signal.seq}\n"
    finally:
        await listener.close()


async def test_after_returns_signals_beyond_a_seq_oldest_first_and_bounded(store):
    user = uuid.uuid4()
    for _ in range(5):
        await store.insert(_new(user))
    assert [s.seq for s in await store.after(user, 2, 10)] == [3, 4, 5]
    assert [s.seq for s in await store.after(user, 0, 2)] == [1, 2]


async def test_page_filters_and_keyset_cursor(store):
    user = uuid.uuid4()
    for i in range(5):
        await store.insert(_new(user, "progress", f"wf-{i % 2}", {"progress": i / 10}))
    await store.insert(_new(user, "error", "wf-0", {"error": "boom"}))
    first = await store.page(user, limit=4)
    assert [s.seq for s in first.signals] == [6, 5, 4, 3] and first.has_more
    second = await store.page(user, limit=4, cursor=int(first.next_cursor))
    assert [s.seq for s in second.signals] == [2, 1] and not second.has_more and second.next_cursor is None
    only_errors = await store.page(user, limit=10, where=InboxFilter(signal_type="error"))
    assert [s.signal_type for s in only_errors.signals] == ["error"]
    wf1 = await store.page(user, limit=10, where=InboxFilter(workflow_id="wf-1"))
    assert {s.workflow_id for s in wf1.signals} == {"wf-1"} and len(wf1.signals) == 2


async def test_mark_read_is_scoped_to_the_owner(store):
    alice, bob = uuid.uuid4(), uuid.uuid4()
    signal, _ = await store.insert(_new(alice))
    assert await store.mark_read(bob, signal.id) is None
    assert await store.unread_count(alice) == 1
    marked = await store.mark_read(alice, signal.id)
    assert marked is not None and marked.read and marked.read_at is not None
    again = await store.mark_read(alice, signal.id)
    assert again is not None and again.read_at == marked.read_at  # idempotent
    assert await store.unread_count(alice) == 0
