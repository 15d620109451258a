"""The send queue: bounded, ordered, and progress-coalescing under backlog (pure, no I/O)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from signalhub.sendqueue import CATCH_UP, Frame, SendQueue
from signalhub.signals import Signal


def signal_frame(seq: int, signal_type: str = "status_update", workflow: str = "wf-1") -> Frame:
    data = {
        "status_update": {"status": "running", "message": None},
        "progress": {"progress": seq / 1000, "step": None, "message": None},
        "completion": {"result": {}, "message": None},
        "error": {"error": "boom", "error_code": None},
    }[signal_type]
    signal = Signal(uuid.uuid4(), uuid.uuid4(), seq, signal_type, workflow, data, datetime.now(UTC))
    return Frame(seq, signal.wire())


def seqs(queue: SendQueue) -> list[int | None]:
    out = []
    while (frame := queue.pop()) is not None:
        out.append(frame.seq)
    return out


def test_frames_leave_in_the_order_they_were_pushed():
    queue = SendQueue(10)
    for seq in (1, 2, 3):
        assert queue.push(signal_frame(seq))
    control = Frame(None, '{"type":"pong"}')
    assert queue.push(control)
    assert seqs(queue) == [1, 2, 3, None]


def test_newer_progress_replaces_an_unsent_older_progress_of_the_same_workflow():
    queue = SendQueue(10)
    queue.push(signal_frame(1, "progress"))
    queue.push(signal_frame(2, "progress"))
    queue.push(signal_frame(3, "progress"))
    assert seqs(queue) == [3]
    assert queue.skipped == {1, 2}


def test_progress_of_another_workflow_is_kept():
    queue = SendQueue(10)
    queue.push(signal_frame(1, "progress", "wf-a"))
    queue.push(signal_frame(2, "progress", "wf-b"))
    queue.push(signal_frame(3, "progress", "wf-a"))
    assert seqs(queue) == [2, 3]
    assert queue.skipped == {1}


def test_completion_error_and_status_are_never_replaced_or_dropped_by_coalescing():
    queue = SendQueue(100)
    pushed = []
    for seq, kind in enumerate(["progress", "status_update", "progress", "error", "progress", "completion", "progress"], 1):
        queue.push(signal_frame(seq, kind))
        pushed.append((seq, kind))
    left = seqs(queue)
    for seq, kind in pushed:
        if kind != "progress":
            assert seq in left
    assert left == [2, 4, 6, 7]  # only the newest progress survives, at its own place


def test_a_progress_already_popped_is_not_replaced():
    queue = SendQueue(10)
    queue.push(signal_frame(1, "progress"))
    assert queue.pop().seq == 1  # handed to the socket
    queue.push(signal_frame(2, "progress"))
    assert seqs(queue) == [2]
    assert not queue.skipped


def test_push_refuses_at_the_limit_so_the_caller_cuts_the_client_off():
    queue = SendQueue(3)
    assert all(queue.push(signal_frame(seq, "completion")) for seq in (1, 2, 3))
    assert not queue.push(signal_frame(4, "completion"))
    assert len(queue) == 3


def test_a_stream_of_one_workflows_progress_never_overflows():
    queue = SendQueue(3)
    assert all(queue.push(signal_frame(seq, "progress")) for seq in range(1, 500))
    assert len(queue) == 1


def test_catch_up_marker_is_queued_once_until_popped():
    queue = SendQueue(10)
    assert queue.push(CATCH_UP)
    assert queue.push(CATCH_UP)
    assert len(queue) == 1
    assert queue.pop() is CATCH_UP
    assert queue.push(CATCH_UP)
    assert len(queue) == 1


def test_frames_announced_by_seq_only_are_never_coalesced():
    queue = SendQueue(10)
    queue.push(Frame(1, None))
    queue.push(signal_frame(2, "progress"))
    assert seqs(queue) == [1, 2]


def test_clear_forgets_frames_and_skipped_seqs():
    queue = SendQueue(10)
    queue.push(signal_frame(1, "progress"))
    queue.push(signal_frame(2, "progress"))
    queue.push(CATCH_UP)
    queue.clear()
    assert len(queue) == 0 and not queue.skipped
    assert queue.push(CATCH_UP) and len(queue) == 1
