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
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from . import metrics
from .broker import Broker
from .inbox_state import Target, inbox_messages
from .ingest import GroupCommitWriter
from .signals import NewSignal, Signal
from .store import SignalStore, broker_message
from .store_inbox import InboxStateStore

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EmitResult:
    signal: Signal
    created: bool


class SignalService:
    def __init__(self, store: SignalStore, broker: Broker) -> None:
        self.broker = broker
        self._writer = GroupCommitWriter(store, broker.transactional_channel, self._publish)

    @property
    def store(self) -> SignalStore:
        return self._writer.store

    @store.setter
    def store(self, store: SignalStore) -> None:  # e.g. a new pool after the database came back
        self._writer.store = store

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
            signal, created = await self._writer.write(new)
        except asyncio.CancelledError:
            raise
        except Exception:
            metrics.PERSIST_FAILURES.inc()
            raise
        metrics.EMIT_LATENCY.observe(time.perf_counter() - started)
        (metrics.SIGNALS_STORED if created else metrics.SIGNALS_DUPLICATE).labels(signal_type).inc()
        return EmitResult(signal, created)

    async def _publish(self, signal: Signal) -> None:
        try:
            await self.broker.publish(broker_message(signal.user_id, signal.seq, signal.wire()))
        except Exception as exc:
            metrics.PUBLISH_FAILURES.inc()
            log.warning("signal %s stored but not announced (%s); clients catch up by seq", signal.id, exc)

    # Convenience wrappers with the seed's vocabulary.

    async def send_status_update(self, user_id, workflow_id, status, message=None, progress=None, **kw):
        data = {"status": status, "message": message}
        if progress is not None:
            data["progress"] = progress
        return await self.emit(user_id, "status_update", workflow_id, data, **kw)

    async def send_progress(self, user_id, workflow_id, progress, step=None, message=None, **kw):
        data = {"progress": progress, "step": step, "message": message}
        return await self.emit(user_id, "progress", workflow_id, data, **kw)

    async def send_completion(self, user_id, workflow_id, result, message=None, **kw):
        return await self.emit(user_id, "completion", workflow_id, {"result": result, "message": message}, **kw)

    async def send_error(self, user_id, workflow_id, error, error_code=None, **kw):
        return await self.emit(user_id, "error", workflow_id, {"error": error, "error_code": error_code}, **kw)

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
                await self.broker.publish(broker_message(user_id, None, message))
        except Exception as exc:
            log.warning("inbox change not announced (%s)", exc)
