"""A connection that follows some workflows only: other workflows' signals are
passed over (never sent, never mistaken for a gap), resume is filtered.

Same fakes as test_connection.py; tests/api/test_ws_subscriptions.py proves
it end to end over real sockets.
"""

from __future__ import annotations

import asyncio

from signalhub.subscriptions import WorkflowFilter
from tests.test_connection import FakeStore, frame, make, settle


class FilteringStore(FakeStore):
    async def after(self, user_id, seq, limit, *, workflow_ids=None):
        self.reads += 1
        rows = [s for s in self.signals if s.seq > seq and (not workflow_ids or s.workflow_id in workflow_ids)]
        return rows[:limit]


def _following(store, *workflows, **options):
    conn, sock = make(store, **options)
    conn.workflows = WorkflowFilter(10, workflows)
    return conn, sock


def _mixed(store, count: int, every: int = 5):
    """`count` signals; every `every`-th belongs to workflow "mine", the rest to "other"."""
    return [store.add(seq, workflow="mine" if seq % every == 0 else "other") for seq in range(1, count + 1)]


async def test_live_signals_of_other_workflows_are_passed_over_without_reading_the_database():
    store = FilteringStore()
    conn, sock = _following(store, "mine")
    conn.start(0, None)
    for signal in _mixed(store, 200):
        conn.enqueue(frame(signal))
    await settle(lambda: len(sock.seqs) >= 40)
    await asyncio.sleep(0.05)
    assert sock.seqs == list(range(5, 201, 5))
    assert store.reads == 0 and conn.last_seq == 200
    await conn.stop()


async def test_behind_a_backlog_passed_over_seqs_are_stepped_over_in_order():
    store = FilteringStore()
    conn, sock = _following(store, "mine")
    conn.start(0, None)
    sock.gate.clear()  # the client reads slowly: frames queue up
    for signal in _mixed(store, 100):
        conn.enqueue(frame(signal))
    sock.gate.set()
    await settle(lambda: len(sock.seqs) >= 20)
    await asyncio.sleep(0.05)
    assert sock.seqs == list(range(5, 101, 5))
    assert store.reads == 0
    await conn.stop()


async def test_a_lost_frame_of_a_followed_workflow_is_read_back_filtered():
    store = FilteringStore()
    conn, sock = _following(store, "mine")
    conn.start(0, None)
    signals = _mixed(store, 12)
    for signal in signals:
        if signal.seq != 5:  # the broker lost seq 5 ("mine")
            conn.enqueue(frame(signal))
    await settle(lambda: len(sock.seqs) >= 2)
    await asyncio.sleep(0.05)
    assert sock.seqs == [5, 10]
    assert conn.last_seq == 12
    await conn.stop()


async def test_resume_replays_only_followed_workflows_then_continues_without_gaps():
    store = FilteringStore()
    _mixed(store, 20)
    conn, sock = _following(store, "mine")
    conn.start(0, 0)
    await settle(lambda: sock.controls)
    assert sock.seqs == [5, 10, 15, 20]
    assert sock.controls == [{"type": "resumed", "recovered": True}]
    reads = store.reads
    for signal in [store.add(seq, workflow="other") for seq in range(21, 30)]:
        conn.enqueue(frame(signal))
    await asyncio.sleep(0.05)
    assert store.reads == reads and conn.last_seq == 29
    await conn.stop()


async def test_passed_over_seqs_behind_a_stuck_socket_stay_bounded_by_the_queue_limit():
    store = FilteringStore()
    conn, sock = _following(store, "mine", queue_limit=10)
    conn.start(0, None)
    sock.gate.clear()
    conn.enqueue(frame(store.add(1, workflow="mine")))  # stuck in the write
    for seq in range(2, 500):
        conn.enqueue(frame(store.add(seq, workflow="other")))
        assert len(conn._queue.skipped or ()) <= 10
    sock.gate.set()
    await settle(lambda: conn.last_seq == 499)
    assert sock.seqs == [1] and store.reads <= 2
    await conn.stop()
