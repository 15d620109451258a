"""Sequencing in one connection: order, no duplicates, gap fill, resume, catch-up, closes.

The socket is a list and the database a list of stored signals: these tests
pin the sender's logic; tests/delivery/ proves it end to end over real sockets.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime

import pytest

from signalhub.connection import CLOSE_TOKEN, CLOSE_TOO_SLOW, Connection
from signalhub.sendqueue import Frame
from signalhub.signals import Signal

USER = uuid.uuid4()


class FakeStore:
    """The two queries a connection makes, over a list of stored signals."""

    def __init__(self) -> None:
        self.signals: list[Signal] = []
        self.reads = 0

    def add(self, seq: int, signal_type: str = "status_update", workflow: str = "wf") -> Signal:
        data = {"progress": 0.5} if signal_type == "progress" else {"status": f"s{seq}"}
        signal = Signal(uuid.uuid4(), USER, seq, signal_type, workflow, data, datetime.now(UTC))
        self.signals.append(signal)
        return signal

    async def after(self, user_id, seq, limit):
        self.reads += 1
        return [s for s in self.signals if s.seq > seq][:limit]

    async def latest_seq(self, user_id):
        return max((s.seq for s in self.signals), default=0)


def frame_payload(data: bytes) -> bytes:
    """The payload of one unmasked RFC 6455 frame."""
    assert data[0] == 0x81, "a final text frame"
    length = data[1] & 0x7F
    offset = {126: 4, 127: 10}.get(length, 2)
    return data[offset:]


class Socket:
    """What signalhub's WebSocket protocol offers a connection: `write_frame`
    (refused while the transport is paused, i.e. `gate` is clear) and the ASGI
    send, which waits for the gate."""

    def __init__(self) -> None:
        self.sent: list[dict] = []
        self.closed: tuple[int, str] | None = None
        self.gate = asyncio.Event()
        self.gate.set()
        self.fast_writes = 0
        self.aborted = False

    def abort(self) -> None:
        self.aborted = True
        self.gate.set()  # as after a lost connection: the waiting send ends...
        self.gone = True

    gone = False

    def write_frame(self, data: bytes) -> bool:
        if not self.gate.is_set():
            return False
        self.sent.append(json.loads(frame_payload(data)))
        self.fast_writes += 1
        return True

    async def send_text(self, text: str) -> None:
        await self.gate.wait()
        if self.gone:
            raise ConnectionResetError("aborted")  # ...with an error
        self.sent.append(json.loads(text))

    async def close(self, code: int, reason: str) -> None:
        await self.gate.wait()  # a close frame waits for the transport like any other
        if self.gone:
            raise ConnectionResetError("aborted")
        self.closed = (code, reason)

    @property
    def seqs(self) -> list[int]:
        return [m["seq"] for m in self.sent if "seq" in m and "type" not in m]

    @property
    def controls(self) -> list[dict]:
        return [m for m in self.sent if "type" in m]


def make(
    store: FakeStore, *, queue_limit: int = 100, resume_limit: int = 100, fast: bool = True
) -> tuple[Connection, Socket]:
    """`fast=False`: a server without signalhub's protocol (`write_frame` always declines)."""
    sock = Socket()
    if not fast:
        sock.write_frame = lambda data: False  # type: ignore[method-assign]
    conn = Connection(USER, store, sock, queue_limit=queue_limit, resume_limit=resume_limit)
    return conn, sock


def frame(signal: Signal) -> Frame:
    return Frame(signal.seq, signal.wire())


async def settle(predicate=lambda: False, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


@pytest.mark.parametrize("fast", [True, False], ids=["write_frame", "asgi_send_only"])
async def test_live_frames_are_sent_in_order_and_duplicates_are_dropped(fast):
    store = FakeStore()
    conn, sock = make(store, fast=fast)
    conn.start(0, None)
    signals = [store.add(seq) for seq in (1, 2, 3)]
    for s in signals + signals[:2]:
        conn.enqueue(frame(s))
    await settle(lambda: len(sock.seqs) >= 3)
    await asyncio.sleep(0.05)
    assert sock.seqs == [1, 2, 3]
    assert store.reads == 0
    await conn.stop()


async def test_frames_up_to_the_seq_in_the_hello_are_not_sent_again():
    store = FakeStore()
    old = [store.add(seq) for seq in (1, 2)]
    conn, sock = make(store)
    for s in old:  # arrived between registration and the hello
        conn.enqueue(frame(s))
    conn.start(2, None)
    new = store.add(3)
    conn.enqueue(frame(new))
    await settle(lambda: sock.seqs)
    assert sock.seqs == [3]
    await conn.stop()


async def test_a_gap_is_filled_from_the_database_before_the_later_frame():
    store = FakeStore()
    conn, sock = make(store)
    conn.start(0, None)
    signals = [store.add(seq) for seq in range(1, 6)]
    conn.enqueue(frame(signals[0]))
    conn.enqueue(frame(signals[4]))  # 2..4 lost by the broker
    conn.enqueue(frame(signals[3]))  # late duplicate of one of them
    await settle(lambda: len(sock.seqs) >= 5)
    await asyncio.sleep(0.05)
    assert sock.seqs == [1, 2, 3, 4, 5]
    await conn.stop()


async def test_a_frame_announced_by_seq_only_is_read_from_the_database():
    store = FakeStore()
    conn, sock = make(store)
    conn.start(0, None)
    big = store.add(1)
    conn.enqueue(Frame(1, None))
    await settle(lambda: sock.sent)
    assert sock.sent == [json.loads(big.wire())]
    await conn.stop()


async def test_resume_replays_everything_after_since_then_says_recovered():
    store = FakeStore()
    for seq in range(1, 8):
        store.add(seq)
    conn, sock = make(store)
    conn.start(3, 3)
    await settle(lambda: sock.controls)
    assert sock.seqs == [4, 5, 6, 7]
    assert sock.controls == [{"type": "resumed", "recovered": True}]
    live = store.add(8)
    conn.enqueue(frame(live))
    conn.enqueue(frame(store.signals[6]))  # seq 7 arriving late from the broker
    await settle(lambda: 8 in sock.seqs)
    assert sock.seqs == [4, 5, 6, 7, 8]
    await conn.stop()


async def test_resume_with_more_missed_than_the_limit_sends_what_fits_then_recovered_false():
    store = FakeStore()
    for seq in range(1, 21):
        store.add(seq)
    conn, sock = make(store, resume_limit=5)
    conn.start(0, 0)
    await settle(lambda: sock.controls)
    assert sock.seqs == [1, 2, 3, 4, 5]
    assert sock.controls == [{"type": "resumed", "recovered": False}]
    conn.enqueue(frame(store.add(21)))  # continues live from the newest, no replay storm
    await settle(lambda: 21 in sock.seqs)
    assert sock.seqs == [1, 2, 3, 4, 5, 21]
    await conn.stop()


async def test_resume_message_mid_stream_replays_and_announces():
    store = FakeStore()
    conn, sock = make(store)
    conn.start(0, None)
    for seq in (1, 2, 3):
        conn.enqueue(frame(store.add(seq)))
    await settle(lambda: len(sock.seqs) == 3)
    conn.resume(1)  # the client asks again from 1 (it dedupes by seq)
    await settle(lambda: sock.controls)
    assert sock.seqs == [1, 2, 3, 2, 3]
    assert sock.controls == [{"type": "resumed", "recovered": True}]
    await conn.stop()


async def test_catch_up_reads_what_came_after_the_last_sent_even_behind_queued_frames():
    store = FakeStore()
    conn, sock = make(store)
    conn.start(0, None)
    sock.gate.clear()  # the socket is busy: frames pile up
    first = store.add(1)
    conn.enqueue(frame(first))
    conn.enqueue(frame(store.add(2)))
    for seq in (3, 4, 5):  # stored while the broker was away: never announced
        store.add(seq)
    conn.catch_up()  # the broker reconnected
    sock.gate.set()
    await settle(lambda: len(sock.seqs) >= 5)
    assert sock.seqs == [1, 2, 3, 4, 5]
    await conn.stop()


async def test_coalesced_progress_is_not_mistaken_for_a_gap():
    store = FakeStore()
    conn, sock = make(store)
    conn.start(0, None)
    sock.gate.clear()
    conn.enqueue(frame(store.add(1, "status_update")))
    await asyncio.sleep(0.02)  # seq 1 is in flight; what follows is backlog
    conn.enqueue(frame(store.add(2, "progress")))
    conn.enqueue(frame(store.add(3, "progress")))
    conn.enqueue(frame(store.add(4, "completion")))
    sock.gate.set()
    await settle(lambda: 4 in sock.seqs)
    assert sock.seqs == [1, 3, 4]
    assert store.reads == 0
    await conn.stop()


async def test_queue_overflow_closes_with_4408_and_drops_the_backlog():
    store = FakeStore()
    conn, sock = make(store, queue_limit=3)
    conn.start(0, None)
    sock.gate.clear()  # the client stopped reading
    conn.enqueue(frame(store.add(1)))
    await asyncio.sleep(0.02)  # seq 1 is being written
    for seq in range(2, 8):
        conn.enqueue(frame(store.add(seq)))
    assert conn.queue_depth == 0  # dropped at once: the client resumes from its last seq
    sock.gate.set()
    await settle(lambda: sock.closed)
    assert sock.closed[0] == CLOSE_TOO_SLOW
    assert sock.seqs == [1]  # only the frame already handed to the socket
    await conn.stop()


async def test_expired_token_closes_with_4401():
    store = FakeStore()
    conn, sock = make(store)
    conn.start(0, None)
    conn.expire_at(time.time() + 0.2)
    await settle(lambda: sock.closed)
    assert sock.closed == (CLOSE_TOKEN, "token expired")
    conn.enqueue(frame(store.add(1)))
    await asyncio.sleep(0.05)
    assert sock.seqs == []
    await conn.stop()


async def test_stop_ends_the_sender_and_later_frames_are_ignored():
    store = FakeStore()
    conn, sock = make(store)
    conn.start(0, None)
    await conn.stop()
    conn.enqueue(frame(store.add(1)))
    await asyncio.sleep(0.05)
    assert sock.sent == [] and conn.queue_depth == 0


async def test_a_close_requested_during_a_long_replay_is_not_held_up_by_it():
    store = FakeStore()
    for seq in range(1, 51):
        store.add(seq)
    conn, sock = make(store)
    sock.gate.clear()
    conn.start(0, 0)
    await asyncio.sleep(0.02)  # the replay is writing seq 1
    conn.request_close(CLOSE_TOKEN, "token expired")
    sock.gate.set()
    await settle(lambda: sock.closed)
    assert sock.closed[0] == CLOSE_TOKEN
    assert sock.seqs == [1]
    await conn.stop()


async def test_hub_ignores_malformed_broker_frames_and_keeps_routing():
    from signalhub.hub import Hub
    from signalhub.wire import broker_frame

    store = FakeStore()
    conn, sock = make(store)
    hub = Hub(max_connections=10, max_connections_per_user=10)
    hub.add(conn)
    conn.start(0, None)
    hub.dispatch("no newlines at all")
    hub.dispatch(f"{USER}\nnot-a-seq\n{{}}")
    signal = store.add(1)
    hub.dispatch(broker_frame(USER, 1, signal.wire()))
    hub.dispatch(broker_frame(uuid.uuid4(), 1, signal.wire()))  # someone else's
    await settle(lambda: sock.seqs)
    assert sock.seqs == [1]
    await conn.stop()


def _other_tasks() -> list[asyncio.Task]:
    return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]


async def test_a_frame_for_an_idle_writable_socket_is_written_before_enqueue_returns_and_no_task_is_left():
    store = FakeStore()
    conn, sock = make(store)
    conn.start(0, None)
    conn.enqueue(frame(store.add(1)))
    conn.send_control({"type": "pong"})
    assert sock.seqs == [1] and sock.controls == [{"type": "pong"}]  # no await in between
    assert sock.fast_writes == 2
    assert _other_tasks() == []
    await conn.stop()


async def test_a_send_that_must_wait_is_finished_first_and_later_frames_follow_in_order():
    store = FakeStore()
    conn, sock = make(store)
    conn.start(0, None)
    sock.gate.clear()  # the transport's buffer is full
    for seq in (1, 2, 3):
        conn.enqueue(frame(store.add(seq)))
    assert sock.seqs == [] and conn.queue_depth == 3  # refused by write_frame: queued for the sender
    conn.enqueue(frame(store.add(4)))  # nothing overtakes the queue, even if the socket could take it
    sock.gate.set()
    await settle(lambda: len(sock.seqs) == 4)
    assert sock.seqs == [1, 2, 3, 4]
    await settle(lambda: not _other_tasks())
    assert _other_tasks() == []  # the sender ended once drained
    conn.enqueue(frame(store.add(5)))
    assert sock.seqs == [1, 2, 3, 4, 5]  # written in the caller again
    await conn.stop()


async def test_a_send_that_fails_at_once_closes_the_socket_with_1011_and_later_frames_are_ignored():
    store = FakeStore()
    conn, sock = make(store)

    async def broken(text: str) -> None:
        raise ConnectionResetError("socket gone")

    sock.send_text = broken  # type: ignore[method-assign]
    sock.write_frame = lambda data: False  # type: ignore[method-assign]  # refused: the socket is closing
    conn.start(0, None)
    conn.enqueue(frame(store.add(1)))
    await settle(lambda: sock.closed)
    assert sock.closed[0] == 1011
    conn.enqueue(frame(store.add(2)))
    await asyncio.sleep(0.02)
    assert sock.sent == []
    await conn.stop()


async def test_frames_queued_before_start_are_sent_after_it_in_order():
    store = FakeStore()
    conn, sock = make(store)
    conn.enqueue(frame(store.add(1)))  # registered in the hub, hello not yet sent
    conn.enqueue(frame(store.add(2)))
    await asyncio.sleep(0.02)
    assert sock.sent == []
    conn.start(0, None)
    await settle(lambda: len(sock.seqs) == 2)
    assert sock.seqs == [1, 2]
    await conn.stop()


async def test_a_close_stuck_behind_a_write_that_never_ends_aborts_the_socket(monkeypatch):
    monkeypatch.setattr("signalhub.connection.CLOSE_GRACE_SECONDS", 0.05)
    store = FakeStore()
    conn, sock = make(store, queue_limit=2)
    conn.start(0, None)
    sock.gate.clear()  # the peer stopped reading: nothing more can be written
    for seq in (1, 2, 3, 4):
        conn.enqueue(frame(store.add(seq)))  # the third overflows the queue: 4408 requested
    await settle(lambda: sock.aborted)
    assert sock.aborted and sock.closed is None  # the close frame could never go out
    await conn.stop()


async def test_a_close_that_goes_out_in_time_does_not_abort(monkeypatch):
    monkeypatch.setattr("signalhub.connection.CLOSE_GRACE_SECONDS", 0.05)
    store = FakeStore()
    conn, sock = make(store)
    conn.start(0, None)
    conn.request_close(CLOSE_TOKEN, "token expired")
    await settle(lambda: sock.closed)
    await asyncio.sleep(0.1)
    assert sock.closed == (CLOSE_TOKEN, "token expired") and not sock.aborted
    await conn.stop()
