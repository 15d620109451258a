"""One client socket: its send queue, its position (`last_seq`) and its sender task.

Guarantees:
- signals reach the client in seq order, each at most once per connection;
- a seq the client has not seen is never silently skipped: when a frame
  arrives beyond `last_seq + 1` (a lost broker message, a too-big payload, a
  resume), the missing signals are read from the database first;
- `enqueue` never blocks and never awaits, so the hub's fan-out cannot be
  stalled by this client; if the queue overflows the connection is closed
  with 4408 and the client resumes on reconnect.

An idle connection holds no task: the sender task is created when there is
something to do (a frame, a resume, a close) and ends as soon as it has
nothing left, in the same step as it sees its queue empty, so a frame can
never be left behind with no sender (docs/performance.md: per-socket memory).

A socket that follows some workflows only (`workflows`, see
subscriptions.py) treats another workflow's signal as passed over: its seq
counts as delivered without being sent (`_pass_over`), and a replay reads
only the followed workflows' rows and then moves `last_seq` to the user's
latest seq, so the signals it was not meant to get never look like a gap.
Filtering is decided in `enqueue` (live) and in `_replay` (resume) only.

Fast path: when no sender is running (then nothing is queued or pending) and
the frame is next in order, `enqueue` hands the frame's serialised bytes
(`Frame.ws_bytes`, made once per signal and shared by every socket) to the
socket's `write_frame`, which writes them at once if the socket can take them
without waiting. If it cannot (the transport is paused because the client
reads slowly, a close is under way, or the server is not signalhub's own
protocol), the frame is queued and a sender task delivers it with
`send_text`, which waits; frames after it queue behind it, so order is kept
and only that client waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any

from . import metrics, wire
from .faults import close_code_for
from .sendqueue import CATCH_UP, Frame, SendQueue
from .subscriptions import WorkflowFilter
from .transport import Socket
from .wire import CLOSE_TOKEN, CLOSE_TOO_SLOW

if TYPE_CHECKING:
    from .store import SignalStore

log = logging.getLogger(__name__)

#: Seconds a requested close may wait to be written before the socket is aborted
#: (a peer that stopped reading can never be sent it).
CLOSE_GRACE_SECONDS = 2.0

#: The context expiry timers run in: nothing they call reads a context variable.
_TIMER_CONTEXT = contextvars.Context()

class Connection:
    """Created by the WebSocket route, registered in the Hub, fed by `enqueue`."""

    __slots__ = (
        "user_id", "_store", "_socket", "_queue", "_started", "last_seq",
        "_resume_from", "_close_request", "_sender", "_expiry", "_give_up", "_resume_limit",
        "connected_at", "closed", "workflows", "__weakref__",
    )

    def __init__(
        self,
        user_id: uuid.UUID,
        store: SignalStore,
        socket: Socket,
        *,
        queue_limit: int,
        resume_limit: int,
    ) -> None:
        self.user_id = user_id
        self._store = store
        self._socket = socket
        self._queue = SendQueue(queue_limit)
        self._started = False
        self.last_seq = 0
        self._resume_from: int | None = None
        self._close_request: tuple[int, str] | None = None
        self._sender: asyncio.Task[None] | None = None
        self._expiry: asyncio.TimerHandle | None = None
        self._give_up: asyncio.TimerHandle | None = None
        self._resume_limit = resume_limit
        self.connected_at = time.monotonic()
        self.closed = False
        #: The workflows this socket follows; None or empty: all of the user's signals.
        self.workflows: WorkflowFilter | None = None

    # -- called by the hub and the route (never block) -------------------------

    @property
    def queue_depth(self) -> int:
        return len(self._queue)

    def enqueue(self, frame: Frame) -> None:
        if self.closed or self._close_request is not None:
            return
        if (workflows := self.workflows) and frame.seq is not None and not workflows.wants(frame.workflow_id):
            self._pass_over(frame.seq)
            return
        # No sender after start() means nothing is queued, pending or closing (a
        # sender exists until all of that is done), so only order is left to check.
        if self._sender is None and self._started:
            seq, ws = frame.seq, frame.ws_bytes
            if ws is not None and (seq is None or seq == self.last_seq + 1) and self._socket.write_frame(ws):
                if seq is not None:
                    self.last_seq = seq
                return
        if not self._queue.push(frame):
            metrics.SLOW_CONSUMERS.inc()
            self.request_close(CLOSE_TOO_SLOW, "too slow: send queue overflowed; reconnect and resume")
            return
        if self._sender is None:
            self._wake()

    def _pass_over(self, seq: int) -> None:
        """Another workflow's signal on a filtered socket: its seq counts as sent."""
        if self._started and seq <= self.last_seq:
            return
        queue = self._queue
        idle = self._started and self._sender is None and not queue and self._resume_from is None
        if idle:
            self._step_over_skipped()
            if seq == self.last_seq + 1:
                self.last_seq = seq
                self._step_over_skipped()
                return
        if idle or len(queue.skipped or ()) >= queue.limit:
            # A gap before it (a lost broker frame, perhaps of a followed workflow), or
            # a long backlog of passed-over seqs: one filtered re-read covers them all.
            queue.skipped = None
            self.enqueue(CATCH_UP)
            return
        if queue.skipped is None:
            queue.skipped = set()
        queue.skipped.add(seq)  # behind a backlog: the sender steps over it in order

    def _step_over_skipped(self) -> None:
        """Move `last_seq` over passed-over seqs that now follow it, and forget older ones."""
        skipped = self._queue.skipped
        if not skipped:
            return
        while self.last_seq + 1 in skipped:
            skipped.discard(self.last_seq + 1)
            self.last_seq += 1
        skipped.difference_update([s for s in skipped if s <= self.last_seq])

    def send_control(self, message: dict[str, Any] | str) -> None:
        """Queue a control message (`wire`'s text, or a dict to encode) in order with the signals."""
        self.enqueue(Frame(None, message if isinstance(message, str) else wire.dumps(message)))

    def resume(self, since: int) -> None:
        """Replay everything after `since`, then `resumed` (client asked)."""
        self._resume_from = since
        self._wake()

    def catch_up(self) -> None:
        """Re-read from the database whatever came after `last_seq` (broker reconnected).

        The marker carries no seq: it means "after whatever has been sent by the
        time the sender reaches it", so frames queued before it cannot make it a no-op.
        """
        self.enqueue(CATCH_UP)

    def request_close(self, code: int, reason: str) -> None:
        if self._close_request is None:
            self._close_request = (code, reason)
            if self._queue:
                metrics.FRAMES_DROPPED.inc(len(self._queue))
            self._queue.clear()
            self._wake()
            if self._sender is not None:
                # If the sender is stuck in a write (the peer stopped reading), the
                # close can never go out: give up on the socket after a grace period.
                self._give_up = asyncio.get_running_loop().call_later(
                    CLOSE_GRACE_SECONDS, self._abort_if_stuck, context=_TIMER_CONTEXT
                )

    def expire_at(self, unix_time: float) -> None:
        loop = asyncio.get_running_loop()
        delay = max(0.0, unix_time - time.time())
        # No per-socket copy of the context and no argument tuple: a timer per socket
        # lives for the token's lifetime, so its size counts (docs/performance.md).
        self._expiry = loop.call_later(delay, self._expire, context=_TIMER_CONTEXT)

    def _expire(self) -> None:
        self.request_close(CLOSE_TOKEN, "token expired")

    def _abort_if_stuck(self) -> None:
        self._give_up = None
        sender = self._sender
        if sender is not None and not sender.done():
            log.info("connection %s: close not written within %.0fs; aborting", self.user_id, CLOSE_GRACE_SECONDS)
            self._socket.abort()

    # -- the sender task ---------------------------------------------------------

    def _wake(self) -> None:
        """Start a sender unless one is running (it picks up whatever is pending)."""
        if self._sender is None and self._started and not self.closed:
            self._sender = asyncio.get_running_loop().create_task(self._run())

    def start(self, initial_seq: int, resume_from: int | None) -> None:
        self.last_seq = initial_seq
        self._resume_from = resume_from
        self._started = True
        if resume_from is not None or self._queue or self._close_request is not None:
            self._wake()

    async def stop(self, close_timeout: float = 2.0) -> None:
        """End the sender; a requested close is given `close_timeout` seconds to be sent."""
        if self._expiry is not None:
            self._expiry.cancel()
        if self._give_up is not None:
            self._give_up.cancel()
        sender = self._sender
        if sender is not None and not sender.done() and self._close_request is not None:
            with contextlib.suppress(asyncio.TimeoutError, Exception):
                await asyncio.wait_for(asyncio.shield(sender), close_timeout)
        self.closed = True
        if sender is not None and not sender.done():
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await sender

    async def _run(self, first: Awaitable[None] | None = None) -> None:
        try:
            if first is not None:
                await first
            while not self.closed:
                if self._close_request is not None:
                    break
                if self._resume_from is not None:
                    since, self._resume_from = self._resume_from, None
                    await self._replay(since, announce=True)
                    continue
                if not self._queue:
                    # Nothing left: end here, with no await between this check and
                    # clearing `_sender`, so the next enqueue starts a new sender.
                    self._sender = None
                    return
                await self._drain()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the socket went away mid-send, or the DB did
            log.info("connection %s: sender stopped: %s", self.user_id, type(exc).__name__)
            self.closed = True
            with contextlib.suppress(Exception):
                code = close_code_for(exc)  # 1013 while the database is down, else 1011
                reason = "database unavailable" if code == 1013 else "internal error"
                await self._socket.close(code, f"{reason}; reconnect and resume")
            return
        if self._close_request is not None and not self.closed:
            self.closed = True
            code, reason = self._close_request
            with contextlib.suppress(Exception):
                await self._socket.close(code, reason)

    async def _drain(self) -> None:
        while self._close_request is None and self._resume_from is None:
            frame = self._queue.pop()
            if frame is None:
                return
            if frame.seq is None:
                if frame.text is None:  # CATCH_UP
                    await self._replay(self.last_seq, announce=False)
                else:
                    await self._send_frame(frame)
                continue
            skipped = self._queue.skipped
            if skipped:
                while self.last_seq + 1 in skipped:  # coalesced away on purpose
                    skipped.discard(self.last_seq + 1)
                    self.last_seq += 1
                if min(skipped, default=self.last_seq + 1) <= self.last_seq:
                    # A replay went past them: forget, so the set stays small.
                    skipped.difference_update([s for s in skipped if s <= self.last_seq])
            if frame.seq <= self.last_seq:
                continue  # already sent (replay overlap, duplicate broker frame)
            if frame.seq == self.last_seq + 1 and frame.text is not None:
                await self._send_frame(frame)
                self.last_seq = frame.seq
            else:
                await self._replay(self.last_seq, announce=False)

    async def _send_frame(self, frame: Frame) -> None:
        assert frame.text is not None and frame.ws_bytes is not None
        if not self._socket.write_frame(frame.ws_bytes):
            await self._socket.send_text(frame.text)  # waits while the transport is paused

    async def _replay(self, since: int, *, announce: bool) -> None:
        """Send the stored signals after `since` in order (bounded by the resume limit)."""
        workflows = self.workflows.workflow_ids if self.workflows else None
        if workflows:
            latest = await self._store.latest_seq(self.user_id)
            rows = await self._store.after(self.user_id, since, self._resume_limit + 1, workflow_ids=workflows)
        else:
            rows = await self._store.after(self.user_id, since, self._resume_limit + 1)
        complete = len(rows) <= self._resume_limit
        if not complete:
            rows = rows[: self._resume_limit]
        for signal in rows:
            if self._close_request is not None:
                return  # closing (expiry, shutdown): the client resumes from what it got
            if signal.seq > self.last_seq or announce:
                await self._socket.send_text(signal.wire())
                self.last_seq = max(self.last_seq, signal.seq)
        if workflows and complete:
            # Every row up to `latest` was committed before the read above: those
            # of other workflows are passed over, not missing.
            self.last_seq = max(self.last_seq, latest)
        if not complete:
            # Too much was missed: the client refetches the inbox; continue live from now.
            self.last_seq = max(self.last_seq, await self._store.latest_seq(self.user_id))
        if announce or not complete:
            await self._socket.send_text(wire.resumed(complete))
