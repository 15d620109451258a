"""`SignalStore.insert_many`: the batched insert keeps every guarantee of `insert`."""

from __future__ import annotations

import asyncio
import json
import uuid

from signalhub.broker import CHANNEL
from signalhub.signals import NewSignal
from signalhub.store import MAX_NOTIFY_BYTES, SignalStore, create_pool
from signalhub.store import connect as connect_db


def _new(user, n: int = 0, key: str | None = None, data: dict | None = None) -> NewSignal:
    return NewSignal.create(user, "status_update", f"wf-{n}", data or {"status": f"step {n}"}, key)


async def test_batch_continues_each_users_seq_in_input_order_and_notifies_every_row_in_seq_order(store, database_url):
    alice, bob = uuid.uuid4(), uuid.uuid4()
    await store.insert(_new(alice))  # alice already has seq 1
    listener = await connect_db(database_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[-1]))
    try:
        batch = [_new(alice, 1), _new(bob, 2), _new(alice, 3), _new(bob, 4), _new(alice, 5)]
        results = await store.insert_many(batch, notify_channel=CHANNEL)
        assert [(s.user_id, s.seq, created) for s, created in results] == [
            (alice, 2, True), (bob, 1, True), (alice, 3, True), (bob, 2, True), (alice, 4, True)]
        assert [s.workflow_id for s, _ in results] == [n.workflow_id for n in batch]
        assert await store.latest_seq(alice) == 4 and await store.latest_seq(bob) == 2

        mine = []
        while len(mine) < 5:
            payload = await asyncio.wait_for(heard.get(), 10)
            if payload.startswith((str(alice), str(bob))):
                mine.append(payload)
        by_user: dict[str, list[int]] = {}
        for payload in mine:
            user, seq, wire = payload.split("\n", 2)
            assert json.loads(wire)["seq"] == int(seq)
            by_user.setdefault(user, []).append(int(seq))
        assert by_user == {str(alice): [2, 3, 4], str(bob): [1, 2]}
    finally:
        await listener.close()


async def test_batch_skips_stored_and_repeated_idempotency_keys_and_returns_the_first(store):
    user = uuid.uuid4()
    first, _ = await store.insert(_new(user, 0, key="k-0"))
    results = await store.insert_many([_new(user, 1, key="k-0"), _new(user, 2, key="k-1"), _new(user, 3, key="k-1")])
    assert [created for _, created in results] == [False, True, False]
    assert results[0][0].id == first.id
    assert results[2][0].id == results[1][0].id
    assert [s.seq for s in await store.after(user, 0, 10)] == [1, results[1][0].seq]


async def test_concurrent_batches_for_overlapping_users_get_distinct_seqs(database_url):
    users = [uuid.uuid4() for _ in range(5)]
    pool = await create_pool(database_url, max_size=6)
    try:
        store = SignalStore(pool)
        batches = [[_new(users[(b + i) % 5], i) for i in range(20)] for b in range(6)]
        await asyncio.gather(*(store.insert_many(batch) for batch in batches))
        for user in users:
            seqs = [s.seq for s in await store.after(user, 0, 1000)]
            assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 24
    finally:
        await pool.close()


async def test_a_batched_signal_too_big_for_notify_is_announced_by_seq_only(store, database_url):
    user = uuid.uuid4()
    listener = await connect_db(database_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[-1]))
    try:
        big = {"status": "x", "message": "y" * (MAX_NOTIFY_BYTES + 100)}
        [(signal, created)] = await store.insert_many([_new(user, data=big)], notify_channel=CHANNEL)
        assert created
        while True:
            payload = await asyncio.wait_for(heard.get(), 10)
            if payload.startswith(str(user)):
                break
        assert payload == f"{user}\n{signal.seq}\n"
    finally:
        await listener.close()
