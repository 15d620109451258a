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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import metrics
from .broker import Broker
from .inbox_state import Target, inbox_messages
from .signals import NewSignal, Signal
from .store import SignalStore
from .store_inbox import InboxStateStore
from .wire import broker_frame

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EmitResult:
    signal: Signal
    created: bool


_Pending = tuple[NewSignal, "asyncio.Future[tuple[Signal, bool]]"]


class SignalService:
    #: Most signals written by one statement (bounds the statement's size, not the wait).
    MAX_BATCH = 500

    def __init__(self, store: SignalStore, broker: Broker) -> None:
        self.store = store
        self.broker = broker
        self._pending: list[_Pending] = []
        self._flusher: asyncio.Task[None] | None = None  # exists only while there is work

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
        new = NewSignal.create(user_id, signal_type, workflow_id, data, idempotency_key)
        started = time.perf_counter()
        try:
            signal, created = await self._write_in_batch(new)
        except asyncio.CancelledError:
            raise
        except Exception:
            metrics.PERSIST_FAILURES.inc()
            raise
        metrics.EMIT_LATENCY.observe(time.perf_counter() - started)
        (metrics.SIGNALS_STORED if created else metrics.SIGNALS_DUPLICATE).labels(signal_type).inc()
        return EmitResult(signal, created)

    def _write_in_batch(self, new: NewSignal) -> asyncio.Future[tuple[Signal, bool]]:
        """Queue `new` for the next batch; the future resolves once it is stored and announced."""
        loop = asyncio.get_running_loop()
        if self._flusher is not None and self._flusher.get_loop() is not loop:
            # A service reused on a new event loop: the old loop's flush can never run again.
            self._flusher = None
            self._pending = [p for p in self._pending if p[1].get_loop() is loop]
        done: asyncio.Future[tuple[Signal, bool]] = loop.create_future()
        self._pending.append((new, done))
        if self._flusher is None:
            # Runs on the next loop iteration, after every emit already made ready this one.
            self._flusher = loop.create_task(self._flush())
        return done

    async def _flush(self) -> None:
        """Write batches until nothing is pending, then end (the next emit starts a new flush)."""
        batch: list[_Pending] = []
        try:
            while self._pending:
                batch = self._pending[: self.MAX_BATCH]
                del self._pending[: self.MAX_BATCH]
                await self._write(batch)
                batch = []
        finally:
            self._flusher = None
            for _, done in batch:  # only if this task was cancelled mid-write (loop shutdown)
                done.cancel()

    async def _write(self, batch: list[_Pending]) -> None:
        channel = self.broker.transactional_channel
        try:
            if len(batch) == 1:
                results = [await self.store.insert(batch[0][0], notify_channel=channel)]
            else:
                results = await self.store.insert_many([new for new, _ in batch], notify_channel=channel)
        except Exception as exc:
            for _, done in batch:
                if not done.done():
                    done.set_exception(exc)
            return
        if channel is None:  # announced after the commit, in seq order, before the next batch is written
            for signal, created in results:
                if created:
                    await self._publish(signal)
        for (_, done), result in zip(batch, results, strict=False):
            if not done.done():  # its caller may have been cancelled; the signal is stored regardless
                done.set_result(result)

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
