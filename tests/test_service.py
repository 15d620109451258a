"""`SignalService.emit` groups concurrent emits into one batched write (group commit)."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from signalhub.broker import CHANNEL
from signalhub.broker.memory import MemoryBroker
from signalhub.broker.postgres import PostgresBroker
from signalhub.service import SignalService
from signalhub.signals import SignalError
from signalhub.store import SignalStore, create_pool
from signalhub.store import connect as connect_db


class CountingStore(SignalStore):
    """The real store, recording how many signals each write carried."""

    def __init__(self, pool) -> None:
        super().__init__(pool)
        self.writes: list[int] = []

    async def insert(self, new, **kw):
        self.writes.append(1)
        return await super().insert(new, **kw)

    async def insert_many(self, news, **kw):
        self.writes.append(len(news))
        return await super().insert_many(news, **kw)


@pytest.fixture
async def counting_store(database_url):
    pool = await create_pool(database_url, max_size=4)
    try:
        yield CountingStore(pool)
    finally:
        await pool.close()


def _status(n: int) -> dict:
    return {"status": f"step {n}"}


async def test_concurrent_emits_are_written_as_one_batch_and_each_caller_gets_its_own_signal(counting_store, database_url):
    service = SignalService(counting_store, PostgresBroker(database_url))
    users = [uuid.uuid4() for _ in range(5)]
    results = await asyncio.gather(*(service.emit(users[i % 5], "status_update", f"wf-{i}", _status(i)) for i in range(50)))
    assert counting_store.writes == [50]
    assert [r.signal.workflow_id for r in results] == [f"wf-{i}" for i in range(50)]
    assert all(r.created for r in results)
    for user in users:
        mine = [r.signal.seq for r in results if r.signal.user_id == user]
        assert mine == list(range(1, 11))  # each user's seq follows the order of the calls


async def test_a_single_emit_is_written_at_once_without_waiting_for_company(counting_store, database_url, user_id):
    service = SignalService(counting_store, PostgresBroker(database_url))
    first = await service.emit(user_id, "status_update", "wf", _status(1))
    second = await service.emit(user_id, "status_update", "wf", _status(2))
    assert counting_store.writes == [1, 1]
    assert (first.signal.seq, second.signal.seq) == (1, 2)


async def test_emits_arriving_during_a_write_join_the_next_batch(counting_store, database_url, user_id):
    service = SignalService(counting_store, PostgresBroker(database_url))
    first = asyncio.create_task(service.emit(user_id, "status_update", "wf-0", _status(0)))
    await asyncio.sleep(0)  # the first write starts
    await asyncio.sleep(0)
    rest = [asyncio.create_task(service.emit(user_id, "status_update", f"wf-{i}", _status(i))) for i in range(1, 21)]
    results = [await first] + [await t for t in rest]
    assert sum(counting_store.writes) == 21 and len(counting_store.writes) >= 2
    assert counting_store.writes[0] == 1
    assert [r.signal.seq for r in results] == list(range(1, 22))


async def test_a_bad_signal_fails_only_its_own_caller(counting_store, database_url, user_id):
    service = SignalService(counting_store, PostgresBroker(database_url))
    outcomes = await asyncio.gather(
        service.emit(user_id, "status_update", "wf-0", _status(0)),
        service.emit(user_id, "No Such Type", "wf-1", _status(1)),
        service.emit(user_id, "status_update", "wf-2", {"status": "bad \x00 text"}),
        service.emit(user_id, "status_update", "wf-3", _status(3)),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], SignalError) and isinstance(outcomes[2], SignalError)
    assert [o.signal.seq for o in (outcomes[0], outcomes[3])] == [1, 2]
    assert counting_store.writes == [2]
    assert [s.workflow_id for s in await counting_store.after(user_id, 0, 10)] == ["wf-0", "wf-3"]


async def test_an_idempotent_retry_inside_one_batch_returns_the_first_signal(counting_store, database_url, user_id):
    service = SignalService(counting_store, PostgresBroker(database_url))
    listener = await connect_db(database_url)
    heard: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(CHANNEL, lambda *args: heard.put_nowait(args[-1]))
    try:
        first, retry, other = await asyncio.gather(
            service.emit(user_id, "completion", "wf", {"result": 1}, idempotency_key="done-1"),
            service.emit(user_id, "completion", "wf", {"result": 1}, idempotency_key="done-1"),
            service.emit(user_id, "status_update", "wf", _status(2)),
        )
        assert counting_store.writes == [3]
        assert (first.created, retry.created, other.created) == (True, False, True)
        assert retry.signal.id == first.signal.id
        stored = [s.seq for s in await counting_store.after(user_id, 0, 10)]
        assert stored == sorted({first.signal.seq, other.signal.seq})  # seqs may skip numbers
        seqs = []
        while len(seqs) < 2:
            payload = await asyncio.wait_for(heard.get(), 10)
            if payload.startswith(str(user_id)):
                seqs.append(int(payload.split("\n", 2)[1]))
        assert seqs == stored  # announced once each, in seq order
        await asyncio.sleep(0.2)
        assert all(not p.startswith(str(user_id)) for p in [heard.get_nowait() for _ in range(heard.qsize())])
    finally:
        await listener.close()


async def test_batches_are_announced_in_seq_order_per_user_through_a_publishing_broker(counting_store, user_id):
    broker = MemoryBroker()
    heard: list[str] = []
    await broker.subscribe(heard.append, lambda: None)
    service = SignalService(counting_store, broker)
    other = uuid.uuid4()
    waves = []
    for _wave in range(3):  # later waves queue up behind the write in flight
        waves += [asyncio.create_task(service.emit(u, "progress", "wf", {"progress": i / 10}))
                  for i in range(10) for u in (user_id, other)]
        await asyncio.sleep(0)
    await asyncio.gather(*waves)
    await asyncio.sleep(0)  # MemoryBroker delivers with call_soon
    assert len(counting_store.writes) >= 2
    for user in (user_id, other):
        seqs = [int(m.split("\n", 2)[1]) for m in heard if m.startswith(str(user))]
        assert seqs == list(range(1, 31))
        wires = [json.loads(m.split("\n", 2)[2]) for m in heard if m.startswith(str(user))]
        assert [w["seq"] for w in wires] == seqs


async def test_a_database_error_fails_every_caller_of_its_batch_and_the_next_emit_works_again(database_url, user_id):
    pool = await create_pool(database_url, max_size=2)
    store = SignalStore(pool)
    service = SignalService(store, PostgresBroker(database_url))
    await pool.close()  # every write now fails for real
    outcomes = await asyncio.gather(
        *(service.emit(user_id, "status_update", f"wf-{i}", _status(i)) for i in range(3)), return_exceptions=True)
    assert all(isinstance(o, Exception) and not isinstance(o, SignalError) for o in outcomes)
    service.store = SignalStore(await create_pool(database_url, max_size=2))
    try:
        result = await service.emit(user_id, "status_update", "wf-after", _status(9))
        assert result.created and result.signal.seq == 1
    finally:
        await service.store.pool.close()


async def test_allowlist_limits_custom_types_but_never_the_seed_ones(counting_store, database_url, user_id):
    service = SignalService(counting_store, PostgresBroker(database_url), allowed_types={"approval_needed"})
    with pytest.raises(SignalError, match="not allowed here"):
        await service.emit(user_id, "chat_message", "wf", {})
    assert (await service.emit(user_id, "approval_needed", "wf", {"question": "ok?"})).created
    assert (await service.emit(user_id, "progress", "wf", {"progress": 0.5})).created
    with pytest.raises(SignalError, match="not allowed here"):
        await service.emit_many([user_id, uuid.uuid4()], "chat_message", "wf", {})


async def test_emit_many_writes_every_recipient_in_one_statement(counting_store, database_url):
    service = SignalService(counting_store, PostgresBroker(database_url))
    users = [uuid.uuid4() for _ in range(1000)]
    results = await service.emit_many(users, "review_requested", "doc-1", {"title": "Q3"})
    assert counting_store.writes == [1000]
    assert [r.signal.user_id for r in results] == users
    assert {r.signal.seq for r in results} == {1}
