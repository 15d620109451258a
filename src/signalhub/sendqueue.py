"""A connection's bounded outgoing queue. Pure: no I/O, no asyncio.

Guarantees:
- frames leave in the order they were pushed;
- a `CATCH_UP` marker ("re-read from the database") is queued at most once
  at a time: a second one before the first is popped adds nothing;
- the queue never holds more than `limit` frames: `push` returns False when
  it would, and the caller then closes the connection (4408, "too slow") so
  the client reconnects and resumes from its last seq;
- under backlog, a newer `progress` frame for a workflow replaces an unsent
  older `progress` frame of the same workflow (its seq is remembered in
  `skipped`, so the sender does not mistake it for a gap); completion,
  error and status frames are never replaced or dropped.
"""

from __future__ import annotations

from collections import deque

from .transport.frames import text_frame
from .wire import is_progress, workflow_id_of


class Frame:
    """One outgoing message. `seq` is None for control frames; `text` is None
    when the payload must be read from the database (too big for the broker).

    `ws_bytes` is the whole server-to-client WebSocket text frame (RFC 6455,
    unmasked), serialised here, once: one frame object is shared by every
    socket of the user, and a socket that can take it at once is handed these
    bytes with no further work (None when `text` is)."""

    __slots__ = ("seq", "text", "ws_bytes", "_workflow")

    def __init__(self, seq: int | None, text: str | None) -> None:
        self.seq = seq
        self.text = text
        self.ws_bytes = None if text is None else text_frame(text.encode())
        self._workflow: str | None = None

    def __repr__(self) -> str:
        return f"Frame(seq={self.seq!r}, text={self.text!r})"

    @property
    def is_progress(self) -> bool:
        if self.seq is None or self.text is None:
            return False
        return is_progress(self.text)

    @property
    def workflow_id(self) -> str | None:
        if self._workflow is None and self.text is not None:
            self._workflow = workflow_id_of(self.text)
        return self._workflow


#: Marker frame: "read from the database what came after the last seq sent".
CATCH_UP = Frame(None, None)


class SendQueue:
    """Most sockets are idle most of the time: the deque exists only while
    frames are queued and `skipped` only while it holds a seq (None otherwise),
    which keeps an idle connection ~0.8 KB smaller."""

    __slots__ = ("limit", "_frames", "skipped", "_catch_up_queued")

    #: Progress frames replaced by a newer one, in this process (read by /metrics).
    coalesced_total = 0

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._frames: deque[Frame] | None = None
        self.skipped: set[int] | None = None
        self._catch_up_queued = False

    def __len__(self) -> int:
        return len(self._frames) if self._frames is not None else 0

    def __bool__(self) -> bool:
        return self._frames is not None

    def push(self, frame: Frame) -> bool:
        """Queue `frame`; False means the client is too slow and must be cut off."""
        frames = self._frames
        if frames is None:
            if self.limit < 1:
                return False
            self._frames = deque((frame,))
            if frame is CATCH_UP:
                self._catch_up_queued = True
            return True
        if frame is CATCH_UP:
            if self._catch_up_queued:
                return True
            self._catch_up_queued = True
        elif frame.is_progress:
            self._drop_older_progress(frame)
        if len(frames) >= self.limit:
            return False
        frames.append(frame)
        return True

    def _drop_older_progress(self, newer: Frame) -> None:
        workflow = newer.workflow_id
        assert self._frames is not None
        for queued in self._frames:
            if queued.is_progress and queued.workflow_id == workflow:
                self._frames.remove(queued)
                assert queued.seq is not None
                if self.skipped is None:
                    self.skipped = set()
                self.skipped.add(queued.seq)
                SendQueue.coalesced_total += 1
                return  # at most one older progress per workflow is ever queued

    def pop(self) -> Frame | None:
        frames = self._frames
        if frames is None:
            return None
        frame = frames.popleft()
        if not frames:
            self._frames = None
        if frame is CATCH_UP:
            self._catch_up_queued = False
        return frame

    def clear(self) -> None:
        self._frames = None
        self.skipped = None
        self._catch_up_queued = False
