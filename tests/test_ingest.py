"""Group commit with several batches in flight: every caller's row is committed before
it hears success, and a user's signals get seqs and NOTIFYs in commit order."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from signalhub.broker import CHANNEL
from signalhub.ingest import GroupCommitWriter
from signalhub.signals import NewSignal
from signalhub.store import SignalStore, create_pool
from signalhub.store import connect as connect_db


@pytest.fixture
async def store(database_url):
    pool = await create_pool(database_url, max_size=6)
    try:
        yield SignalStore(pool)
    finally:
        await pool.close()


async def _unused_publish(signal) -> None:  # the channel announces; nothing is published after commit
    raise AssertionError("a transactional channel needs no publish")


def _new(user, i: int) -> NewSignal:
    return NewSignal.create(user, "status_update", "wf", {"status": f"step {i}"})


async def test_batches_in_flight_together_keep_each_users_seqs_and_notifies_in_order(store, database_url):
    users = [uuid.uuid4(), uuid.uuid4()]
    writer = GroupCommitWriter(store, CHANNEL, _unused_publish, max_in_flight=3)
    writer.MAX_BATCH = 25  # many batches, several in flight at once
    heard: list[str] = []
    listener = await connect_db(database_url)
    await listener.add_listener(CHANNEL, lambda *args: heard.append(args[-1]))
    try:
        results = []
        for wave in range(4):
            batch = range(wave * 100, wave * 100 + 100)
            results += [r for group in await asyncio.gather(*(writer.write([_new(users[i % 2], i)]) for i in batch)) for r in group]
        for _ in range(100):
            if len(heard) >= 400:
                break
            await asyncio.sleep(0.05)
    finally:
        await listener.close()
    assert all(created for _, created in results)
    for user in users:
        seqs = sorted(s.seq for s, _ in results if s.user_id == user)
        assert seqs == list(range(1, 201))
        announced = [int(m.split("\n")[1]) for m in heard if m.startswith(str(user))]
        assert announced == list(range(1, 201))


async def test_a_caller_hears_success_only_once_its_row_is_committed(store, database_url):
    writer = GroupCommitWriter(store, CHANNEL, _unused_publish, max_in_flight=2)
    writer.MAX_BATCH = 10
    user = uuid.uuid4()
    other = await connect_db(database_url)
    try:
        seen_committed = 0
        for pending in asyncio.as_completed([writer.write([_new(user, i)]) for i in range(60)]):
            [(signal, _)] = await pending
            seen_committed += await other.fetchval("SELECT count(*) FROM workflow_signals WHERE id = $1", signal.id)
        assert seen_committed == 60
    finally:
        await other.close()


async def test_a_failed_batch_fails_each_of_its_callers_and_stores_none_of_them(database_url):
    pool = await create_pool(database_url, max_size=2)
    broken = await create_pool(database_url, max_size=2)
    await broken.close()  # every write through it fails for real
    writer = GroupCommitWriter(SignalStore(broken), CHANNEL, _unused_publish)
    user = uuid.uuid4()
    outcomes = await asyncio.gather(*(writer.write([_new(user, i)]) for i in range(5)), return_exceptions=True)
    try:
        assert all(isinstance(o, Exception) for o in outcomes)
        assert await pool.fetchval("SELECT count(*) FROM workflow_signals WHERE user_id = $1", user) == 0
        writer.store = SignalStore(pool)
        [(signal, created)] = await writer.write([_new(user, 9)])
        assert created and signal.seq == 1
    finally:
        await pool.close()


async def test_a_callers_group_is_written_whole_and_answered_in_its_order(store):
    writer = GroupCommitWriter(store, CHANNEL, _unused_publish)
    writer.MAX_BATCH = 3  # smaller than the group: a group is never split across statements
    users = [uuid.uuid4() for _ in range(5)]
    single, group = await asyncio.gather(writer.write([_new(users[0], 0)]), writer.write([_new(u, 1) for u in users]))
    assert [s.user_id for s, _ in group] == users
    assert all(created for _, created in [*single, *group])
    assert [s.seq for s, _ in group] == [2, 1, 1, 1, 1]
