"""SignalService: validate, store, then announce. Used by the API and by workers.

Guarantees:
- `emit` returns only after the signal is committed; the signal is then
  announced to every API instance (in the same statement for PostgreSQL,
  right after the commit for Redis/NATS);
- an emit whose idempotency key is already stored returns the stored signal
  and announces nothing, so a retry is never delivered twice;
- a broker that is down does not fail an emit: the signal is stored and
  clients catch up by seq (the failure is counted and logged).

Concurrent emits are written together (group commit): the first emit starts a
flush; emits that arrive while a write is in flight wait for it and go out as
the next batch, one `SignalStore.insert_many` statement and one commit. An
idle service therefore adds no delay, and a busy one pays one round trip and
one fsync per batch instead of per signal. Per signal nothing changes: bad
input fails only its own caller (it is validated before it joins a batch),
an idempotency key returns the stored twin (also within one batch), and each
user's signals are stored and announced in seq order, because one batch is in
flight at a time and a batch is announced before the next is written. A
database error fails every caller of the batch it hit.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from . import metrics
from .broker import Broker
from .inbox_state import Target, inbox_messages
from .signals import NewSignal, Signal, SignalError, is_seed_type
from .store import SignalStore
from .store_inbox import InboxStateStore
from .wire import broker_frame

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EmitResult:
    signal: Signal
    created: bool


_Pending = tuple[list[NewSignal], "asyncio.Future[list[tuple[Signal, bool]]]"]


def _metric_type(signal_type: str) -> str:
    # Custom types are one label: a label per custom name would let senders grow /metrics without bound.
    return signal_type if is_seed_type(signal_type) else "custom"


class SignalService:
    """Validates, stores and announces signals; see the module docstring for guarantees.

    `allowed_types`: custom signal types accepted besides the seed's four
    (None: any valid name; `SIGNALHUB_ALLOWED_SIGNAL_TYPES`).
    """

    #: Signals written by one statement once several callers queue up (a single
    #: caller's group is never split, so one statement may hold more).
    MAX_BATCH = 500

    def __init__(
        self, store: SignalStore, broker: Broker, *, allowed_types: Collection[str] | None = None
    ) -> None:
        self.store = store
        self.broker = broker
        self.allowed_types = frozenset(allowed_types) if allowed_types is not None else None
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None  # exists only while there is work

    def build(
        self,
        user_id: uuid.UUID | str,
        signal_type: str,
        workflow_id: str,
        data: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> NewSignal:
        """Validate one signal against this service's rules; raises `SignalError`."""
        return NewSignal.create(
            user_id, signal_type, workflow_id, data, idempotency_key, allowed_types=self.allowed_types
        )

    async def emit(
        self,
        user_id: uuid.UUID | str,
        signal_type: str,
        workflow_id: str,
        data: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> EmitResult:
        """Store and announce one signal; raises `SignalError` for bad input."""
        new = self.build(user_id, signal_type, workflow_id, data, idempotency_key=idempotency_key)
        [result] = await self.emit_built([new])
        return result

    async def emit_many(
        self,
        user_ids: Iterable[uuid.UUID | str],
        signal_type: str,
        workflow_id: str,
        data: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> list[EmitResult]:
        """One signal to many users: a row (and a seq) per user, one statement.

        The idempotency key applies per recipient: a retry returns every
        recipient's stored signal and stores nothing new. Results follow
        `user_ids`' order; a user named twice gets one signal (the first).
        """
        first = None
        news: list[NewSignal] = []
        for user_id in user_ids:
            if first is None:  # validates type, workflow id, data once for all recipients
                first = self.build(user_id, signal_type, workflow_id, data, idempotency_key=idempotency_key)
                news.append(first)
            else:
                news.append(first.for_user(user_id))
        if first is None:
            raise SignalError("user_ids must name at least one user")
        unique: dict[uuid.UUID, NewSignal] = {}
        for new in news:
            unique.setdefault(new.user_id, new)
        results = await self.emit_built(list(unique.values()))
        by_user = {result.signal.user_id: result for result in results}
        return [by_user[new.user_id] for new in news]

    async def emit_built(self, news: list[NewSignal]) -> list[EmitResult]:
        """Store and announce signals already validated by `build`, in one statement; results in order."""
        if not news:
            return []
        started = time.perf_counter()
        try:
            stored = await self._write_in_batch(news)
        except asyncio.CancelledError:
            raise
        except Exception:
            metrics.PERSIST_FAILURES.inc(len(news))
            raise
        metrics.EMIT_LATENCY.observe(time.perf_counter() - started)
        results = []
        for signal, created in stored:
            (metrics.SIGNALS_STORED if created else metrics.SIGNALS_DUPLICATE).labels(
                _metric_type(signal.signal_type)
            ).inc()
            results.append(EmitResult(signal, created))
        return results

    def _write_in_batch(self, news: list[NewSignal]) -> asyncio.Future[list[tuple[Signal, bool]]]:
        """Queue `news` for the next batch; the future resolves once they are stored and announced."""
        loop = asyncio.get_running_loop()
        if self._flusher is not None and self._flusher.get_loop() is not loop:
            # A service reused on a new event loop: the old loop's flush can never run again.
            self._flusher = None
            self._pending = [p for p in self._pending if p[1].get_loop() is loop]
        done: asyncio.Future[list[tuple[Signal, bool]]] = loop.create_future()
        self._pending.append((news, done))
        if self._flusher is None:
            # Runs on the next loop iteration, after every emit already made ready this one.
            self._flusher = loop.create_task(self._flush())
        return done

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

    async def _flush(self) -> None:
        """Write batches until nothing is pending, then end (the next emit starts a new flush)."""
        batch: list[_Pending] = []
        try:
            while self._pending:
                batch = self._take_batch()
                await self._write(batch)
                batch = []
        finally:
            self._flusher = None
            for _, done in batch:  # only if this task was cancelled mid-write (loop shutdown)
                done.cancel()

    async def _write(self, batch: list[_Pending]) -> None:
        channel = self.broker.transactional_channel
        news = [new for group, _ in batch for new in group]
        try:
            if len(news) == 1:
                results = [await self.store.insert(news[0], notify_channel=channel)]
            else:
                results = await self.store.insert_many(news, notify_channel=channel)
        except Exception as exc:
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        if channel is None:  # announced after the commit, in seq order, before the next batch is written
            for signal, created in results:
                if created:
                    await self._publish(signal)
        start = 0
        for group, done in batch:
            if not done.done():  # its caller may have been cancelled; the signals are stored regardless
                done.set_result(results[start : start + len(group)])
            start += len(group)

    async def _publish(self, signal: Signal) -> None:
        try:
            await self.broker.publish(broker_frame(signal.user_id, signal.seq, signal.wire()))
        except Exception as exc:
            metrics.PUBLISH_FAILURES.inc()
            log.warning("signal %s stored but not announced (%s); clients catch up by seq", signal.id, exc)

    async def announce_inbox_change(
        self,
        user_id: uuid.UUID,
        state: dict[str, bool] | None = None,
        target: Target | None = None,
        changed_ids: Sequence[uuid.UUID] = (),
    ) -> None:
        """Tell the user's other tabs (on every instance) that inbox state changed:
        the new counts and, when given, which signals are now in which `state`."""
        counts = await InboxStateStore(self.store.pool).counts(user_id)
        try:
            for message in inbox_messages(counts, state or {}, target, changed_ids):
                await self.broker.publish(broker_frame(user_id, None, message))
        except Exception as exc:
            log.warning("inbox change not announced (%s)", exc)
