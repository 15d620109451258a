"""The Hub's registry (who is connected here, within limits) and its fan-out
(a broker frame reaches exactly the user's connections), with real Connections
writing to recording sockets."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from signalhub.connection import Connection
from signalhub.hub import Hub, LimitExceeded
from signalhub.wire import CLOSE_GOING_AWAY, broker_frame


class RecordingSocket:
    """A `transport.Socket` that takes every frame at once and remembers it."""

    def __init__(self) -> None:
        self.frames: list[bytes] = []
        self.closed: tuple[int, str] | None = None

    def write_frame(self, frame: bytes) -> bool:
        self.frames.append(frame)
        return True

    async def send_text(self, text: str) -> None:
        self.frames.append(text.encode())

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def abort(self) -> None:
        pass

    @property
    def messages(self) -> list[dict]:
        # A pre-encoded frame is header + payload; the JSON starts at the first "{".
        return [json.loads(f[f.index(b"{"):]) for f in self.frames]


def connect(hub: Hub, user: uuid.UUID) -> tuple[Connection, RecordingSocket]:
    sock = RecordingSocket()
    conn = Connection(user, None, sock, queue_limit=10, resume_limit=10)  # type: ignore[arg-type]
    hub.add(conn)
    conn.start(0, None)
    return conn, sock


def signal(seq: int) -> str:
    return json.dumps({"id": str(uuid.uuid4()), "seq": seq, "signal_type": "status_update",
                       "workflow_id": "w", "data": {"status": "ok"}, "timestamp": "2026-12-01T00:00:00Z"},
                      separators=(",", ":"))


def hub(total: int = 100, per_user: int = 20) -> Hub:
    return Hub(max_connections=total, max_connections_per_user=per_user)


async def test_a_frame_reaches_every_connection_of_its_user_and_no_one_elses():
    h = hub()
    alice, bob = uuid.uuid4(), uuid.uuid4()
    (_, a1), (_, a2), (_, b1) = connect(h, alice), connect(h, alice), connect(h, bob)
    h.dispatch(broker_frame(alice, 1, signal(1)))
    assert [m["seq"] for m in a1.messages] == [1]
    assert [m["seq"] for m in a2.messages] == [1]
    assert b1.frames == []
    assert a1.frames[0] is a2.frames[0]  # one serialised frame, shared


async def test_a_frame_for_a_user_with_no_connection_here_is_dropped_quietly():
    h = hub()
    _, sock = connect(h, uuid.uuid4())
    h.dispatch(broker_frame(uuid.uuid4(), 1, signal(1)))
    assert sock.frames == []


@pytest.mark.parametrize("message", [
    "", "no newlines at all", "{user}\nnot-a-number\n{{}}", "{user}\n-5\n{{}}", "{user}\n١٢\n{{}}",
], ids=["empty", "one-part", "text-seq", "negative-seq", "arabic-indic-digits"])
async def test_a_malformed_broker_frame_is_ignored_and_delivers_nothing(message):
    h = hub()
    user = uuid.uuid4()
    _, sock = connect(h, user)
    h.dispatch(message.format(user=user))
    assert sock.frames == []


async def test_a_control_message_without_seq_reaches_the_user_in_order():
    h = hub()
    user = uuid.uuid4()
    _, sock = connect(h, user)
    h.dispatch(broker_frame(user, 1, signal(1)))
    h.dispatch(broker_frame(user, None, '{"type":"inbox","unread_count":3}'))
    h.deliver_to_user(user, '{"type":"pong"}')
    assert [m.get("type", m.get("seq")) for m in sock.messages] == [1, "inbox", "pong"]


async def test_the_per_user_and_total_limits_refuse_the_next_connection_until_one_leaves():
    h = hub(total=3, per_user=2)
    alice, bob = uuid.uuid4(), uuid.uuid4()
    first, _ = connect(h, alice)
    connect(h, alice)
    with pytest.raises(LimitExceeded, match="this user"):
        connect(h, alice)
    connect(h, bob)
    with pytest.raises(LimitExceeded, match="server connection limit"):
        connect(h, uuid.uuid4())
    h.remove(first)
    connect(h, alice)
    assert h.total == 3
    assert h.status()["user_connection_counts"] == {str(alice): 2, str(bob): 1}


async def test_removing_a_connection_twice_or_one_never_added_changes_nothing():
    h = hub()
    user = uuid.uuid4()
    conn, _ = connect(h, user)
    stranger = Connection(user, None, RecordingSocket(), queue_limit=10, resume_limit=10)  # type: ignore[arg-type]
    h.remove(stranger)
    h.remove(conn)
    h.remove(conn)
    assert h.total == 0 and h.status() == {"total_connections": 0, "connected_users": [],
                                           "user_connection_counts": {}}


async def test_fan_out_survives_a_connection_leaving_the_registry_while_it_runs():
    h = hub()
    user = uuid.uuid4()
    first, s1 = connect(h, user)
    _, s2 = connect(h, user)

    class LeavesOnWrite(RecordingSocket):
        def write_frame(self, frame: bytes) -> bool:
            h.remove(first)  # e.g. the connection ended while the hub was writing to it
            return super().write_frame(frame)

    first._socket = LeavesOnWrite()  # type: ignore[assignment]
    h.dispatch(broker_frame(user, 1, signal(1)))
    assert len(first._socket.frames) == 1 and len(s2.frames) == 1  # type: ignore[attr-defined]
    assert h.total == 1 and s1.frames == []


async def test_close_all_asks_every_connection_to_close_with_1001():
    h = hub()
    socks = [connect(h, uuid.uuid4())[1] for _ in range(3)]
    h.close_all()
    await asyncio.sleep(0.05)
    assert [s.closed for s in socks] == [(CLOSE_GOING_AWAY, "server going away")] * 3
