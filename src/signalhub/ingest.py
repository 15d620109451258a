"""Group commit: concurrent emits written together, one statement and one commit per batch.

`GroupCommitWriter.write(news)` queues a caller's validated signals (one, or one
per recipient) and returns once they are stored (and announced). The first write of an idle writer goes out at once (on
the next event-loop turn, with whatever else was queued in that turn); writes
that arrive while batches are in flight queue up and go out as the next batch,
at most `MAX_BATCH` signals per `SignalStore.insert_many` statement (a caller's
group is never split, so one statement may hold more). An idle
service therefore adds no delay, and a busy one pays one round trip and one
fsync per batch instead of per signal.

Guarantees:
- a caller gets its results only after its rows committed; a batch that fails
  (database down, constraint, timeout) fails every caller in it with that error,
  and nothing of it is stored (one statement, one transaction);
- an idempotency key returns the stored twin (also within one batch);
- each user's signals are stored and announced in seq order. Seqs are handed
  out under the user's counter-row lock, so they follow commit order even with
  several batches in flight. With a transactional channel (PostgreSQL NOTIFY)
  the announcement is part of the statement, so it follows commit order too
  and up to `max_in_flight` batches may be written at once. A broker that is
  told after the commit (Redis, NATS) announces batches strictly in the order
  they were started, each after the previous one's announcements;
- a caller cancelled while waiting does not cancel the write: its signal may
  still be stored (and then delivered), like a request that timed out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .signals import NewSignal, Signal
from .store import SignalStore

log = logging.getLogger(__name__)

Result = tuple[Signal, bool]
_Pending = tuple[list[NewSignal], "asyncio.Future[list[Result]]"]


class GroupCommitWriter:
    #: Most signals written by one statement (bounds the statement's size, not the wait).
    MAX_BATCH = 500
    #: Batches written at once when announcing is part of the statement. One by default:
    #: measured on 2 shared cores, a second batch in flight gained nothing within the noise
    #: (notifying commits take one database-wide lock, and smaller batches cost more per
    #: row); on a bigger database server, where the statement itself is the wait, raise it.
    MAX_IN_FLIGHT = 1

    def __init__(
        self,
        store: SignalStore,
        channel: str | None,
        publish: Callable[[Signal], Awaitable[None]],
        *,
        max_in_flight: int | None = None,
    ) -> None:
        self.store = store
        self.channel = channel
        self.publish = publish  # used only without a channel: after the commit, never raises
        # A broker told after the commit announces batch by batch in order: one in flight.
        self.max_in_flight = max_in_flight or (self.MAX_IN_FLIGHT if channel is not None else 1)
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None  # exists only while there is work
        self._slots: asyncio.Semaphore | None = None
        self._announced: asyncio.Future[None] | None = None  # the latest batch's announcements
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writing: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak references

    def write(self, news: list[NewSignal]) -> asyncio.Future[list[Result]]:
        """Queue `news` for the next batch; the future resolves, with their results in
        order, once they are stored and announced."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # A writer reused on a new event loop: the old loop's tasks can never run again.
            self._loop, self._flusher, self._announced = loop, None, None
            self._slots = asyncio.Semaphore(self.max_in_flight)
            self._pending = [p for p in self._pending if p[1].get_loop() is loop]
        done: asyncio.Future[list[Result]] = loop.create_future()
        self._pending.append((news, done))
        if self._flusher is None:
            # Runs on the next loop iteration, after every emit already made ready this one.
            self._flusher = loop.create_task(self._flush())
        return done

    async def _flush(self) -> None:
        """Start batches until nothing is pending, then end (the next write starts a new flush)."""
        assert self._slots is not None
        try:
            while self._pending:
                await self._slots.acquire()
                batch = self._take_batch()
                previous, self._announced = self._announced, asyncio.get_running_loop().create_future()
                task = asyncio.get_running_loop().create_task(self._write(batch, previous, self._announced))
                self._writing.add(task)
                task.add_done_callback(self._writing.discard)
        finally:
            self._flusher = None

    def _take_batch(self) -> list[_Pending]:
        """Whole groups from the front of the queue, up to MAX_BATCH signals (at least one group)."""
        count = taken = 0
        for news, _ in self._pending:
            if taken and count + len(news) > self.MAX_BATCH:
                break
            count += len(news)
            taken += 1
        batch = self._pending[:taken]
        del self._pending[:taken]
        return batch

    async def _write(self, batch: list[_Pending], previous: asyncio.Future[None] | None,
                     announced: asyncio.Future[None]) -> None:
        assert self._slots is not None
        try:
            try:
                news = [new for group, _ in batch for new in group]
                if len(news) == 1:
                    results = [await self.store.insert(news[0], notify_channel=self.channel)]
                else:
                    results = await self.store.insert_many(news, notify_channel=self.channel)
            except BaseException as exc:
                error = exc if isinstance(exc, Exception) else asyncio.CancelledError()
                for _, done in batch:
                    if not done.done():
                        done.set_exception(error)
                if not isinstance(exc, Exception):
                    raise
                return
            finally:
                self._slots.release()
            if self.channel is None:
                # Announced after the commit, after every earlier batch's announcements.
                if previous is not None:
                    await asyncio.shield(previous)
                for signal, created in results:
                    if created:
                        await self.publish(signal)
            start = 0
            for group, done in batch:
                if not done.done():  # its caller may have been cancelled; the signals are stored regardless
                    done.set_result(results[start : start + len(group)])
                start += len(group)
        finally:
            if not announced.done():
                announced.set_result(None)
