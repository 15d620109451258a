"""SignalService: validate, store, then announce. Used by the API and by workers.

Guarantees:
- `emit` returns only after the signal is committed; the signal is then
  announced to every API instance (in the same statement for PostgreSQL,
  right after the commit for Redis/NATS);
- an emit whose idempotency key is already stored returns the stored signal
  and announces nothing, so a retry is never delivered twice;
- a broker that is down does not fail an emit: the signal is stored and
  clients catch up by seq (the failure is counted and logged).

Concurrent emits are written together (group commit, `ingest.py`): one
`SignalStore.insert_many` statement and one commit per batch. Per signal nothing
changes: bad input fails only its own caller (it is validated before it joins a
batch), an idempotency key returns the stored twin (also within one batch), each
user's signals are stored and announced in seq order, and a database error fails
every caller of the batch it hit.
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
from .ingest import GroupCommitWriter
from .signals import NewSignal, Signal, SignalError, is_seed_type
from .store import SignalStore
from .store_inbox import InboxStateStore
from .wire import broker_frame

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EmitResult:
    signal: Signal
    created: bool


def _metric_type(signal_type: str) -> str:
    # Custom types are one label: a label per custom name would let senders grow /metrics without bound.
    return signal_type if is_seed_type(signal_type) else "custom"


#: The stored / duplicate counters by label, looked up once (`labels()` takes a lock and
#: checks its arguments on every call: a fifth of the emit path's metrics cost).
_COUNTERS: dict[tuple[bool, str], Any] = {}


def _count_stored(signal_type: str, created: bool) -> None:
    label = _metric_type(signal_type)
    counter = _COUNTERS.get((created, label))
    if counter is None:
        counter = _COUNTERS[(created, label)] = (
            metrics.SIGNALS_STORED if created else metrics.SIGNALS_DUPLICATE
        ).labels(label)
    counter.inc()


class SignalService:
    """Validates, stores and announces signals; see the module docstring for guarantees.

    `allowed_types`: custom signal types accepted besides the seed's four
    (None: any valid name; `SIGNALHUB_ALLOWED_SIGNAL_TYPES`).
    """

    def __init__(
        self, store: SignalStore, broker: Broker, *, allowed_types: Collection[str] | None = None
    ) -> None:
        self.broker = broker
        self.allowed_types = frozenset(allowed_types) if allowed_types is not None else None
        self._writer = GroupCommitWriter(store, broker.transactional_channel, self._publish)

    @property
    def store(self) -> SignalStore:
        return self._writer.store

    @store.setter
    def store(self, store: SignalStore) -> None:  # e.g. a new pool after the database came back
        self._writer.store = store

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
            stored = await self._writer.write(news)
        except asyncio.CancelledError:
            raise
        except Exception:
            metrics.PERSIST_FAILURES.inc(len(news))
            raise
        metrics.EMIT_LATENCY.observe(time.perf_counter() - started)
        results = []
        for signal, created in stored:
            _count_stored(signal.signal_type, created)
            results.append(EmitResult(signal, created))
        return results

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
