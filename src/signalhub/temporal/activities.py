"""The seed's five signal activities, as methods of one class built with its emitter.

    signals = SignalActivities(runtime.service)
    Worker(client, task_queue="signalhub", activities=signals.all(), ...)

Each activity takes the seed's positional arguments, e.g.
`args=[user_id, workflow_id, "started", "Document processing started"]`, and
returns `{"id", "seq", "created"}`.

Exactly once: Temporal runs an activity at least once (a worker may die, or
the activity may fail, after the signal was stored). Each activity stores its
signal with the idempotency key `<workflow run id>:<activity id>`, which is
the same for every attempt of one activity and different for every other
activity, so a retry finds the stored row and delivers nothing new.
Bad input fails with a non-retryable `ApplicationError` of type `INVALID_SIGNAL`.

Workflows call these activities through `signalhub.temporal.notify` (or by
name); the module-level names below (`send_status_update_activity`, …) are the
unbound methods, for `workflow.execute_activity_method`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Sequence
from typing import Any, Protocol

from temporalio import activity
from temporalio.exceptions import ApplicationError

from ..service import EmitResult
from ..signals import SignalError
from .notify import SentSignal


class SignalEmitter(Protocol):
    """What the activities need: `SignalService` (or anything with the same `emit`)."""

    async def emit(
        self,
        user_id: uuid.UUID | str,
        signal_type: str,
        workflow_id: str,
        data: dict[str, Any] | None = None,
        *,
        idempotency_key: str | None = None,
    ) -> EmitResult: ...


#: An argument as decoded from the workflow's payload. The activities take their arguments
#: untyped on purpose: with type hints, Temporal fails a mistyped argument while decoding
#: it (a retryable failure, retried for ten minutes) and turns `True` into `1.0`. Here
#: `signals.validate_signal` checks every value and bad input fails once, non-retryably.
Untrusted = Any


def idempotency_key() -> str | None:
    """`<workflow run id>:<activity id>`: equal for all attempts of one activity, unique otherwise."""
    if not activity.in_activity():
        return None
    info = activity.info()
    return f"{info.workflow_run_id or info.activity_run_id}:{info.activity_id}"


class SignalActivities:
    """The five signal activities, all sending through one emitter (exactly once each).

    `fail_after_store` (tests and drills only) names activities (or `*`) whose
    first attempt raises right after the signal was stored: the fault the
    exactly-once guarantee is about.
    """

    def __init__(self, emitter: SignalEmitter, *, fail_after_store: Collection[str] = ()) -> None:
        self.emitter = emitter
        self.fail_after_store = frozenset(fail_after_store)

    def all(self) -> Sequence[Callable[..., Any]]:
        """The bound activities, for a worker's `activities=`."""
        return [
            self.send_workflow_signal_activity,
            self.send_status_update_activity,
            self.send_progress_signal_activity,
            self.send_completion_signal_activity,
            self.send_error_signal_activity,
        ]

    async def _emit(
        self, user_id: Untrusted, signal_type: Untrusted, workflow_id: Untrusted, data: Untrusted
    ) -> SentSignal:
        if not isinstance(signal_type, str):
            raise ApplicationError(
                f"signal_type must be a string, got {type(signal_type).__name__}",
                type="INVALID_SIGNAL",
                non_retryable=True,
            )
        try:
            result = await self.emitter.emit(
                user_id, signal_type, workflow_id, data, idempotency_key=idempotency_key()
            )
        except SignalError as exc:
            # Bad input never gets better by retrying.
            raise ApplicationError(str(exc), type="INVALID_SIGNAL", non_retryable=True) from None
        self._fail_after_store_if_asked()
        return {"id": str(result.signal.id), "seq": result.signal.seq, "created": result.created}

    def _fail_after_store_if_asked(self) -> None:
        if not self.fail_after_store or not activity.in_activity():
            return
        info = activity.info()
        if info.attempt == 1 and ("*" in self.fail_after_store or info.activity_type in self.fail_after_store):
            raise RuntimeError("forced failure after store (attempt 1)")

    # The seed's signatures: (user_id: str, workflow_id: str, ...), see the module docstring.

    @activity.defn
    async def send_workflow_signal_activity(
        self, user_id: Untrusted, workflow_id: Untrusted, signal_type: Untrusted, data: Untrusted = None
    ) -> SentSignal:
        """Any signal type with its `data` (an object): a seed type (validated) or one of the
        application's own, such as `approval_needed`."""
        return await self._emit(user_id, signal_type, workflow_id, data)

    @activity.defn
    async def send_status_update_activity(
        self,
        user_id: Untrusted,
        workflow_id: Untrusted,
        status: Untrusted,
        message: Untrusted = None,
        progress: Untrusted = None,
    ) -> SentSignal:
        """`status_update` `{"status", "message"[, "progress"]}`."""
        data = {"status": status, "message": message}
        if progress is not None:
            data["progress"] = progress
        return await self._emit(user_id, "status_update", workflow_id, data)

    @activity.defn
    async def send_progress_signal_activity(
        self,
        user_id: Untrusted,
        workflow_id: Untrusted,
        progress: Untrusted,
        step: Untrusted = None,
        message: Untrusted = None,
    ) -> SentSignal:
        """`progress` `{"progress": 0..1, "step", "message"}` (`message` defaults to `step`)."""
        data = {"progress": progress, "step": step, "message": message if message is not None else step}
        return await self._emit(user_id, "progress", workflow_id, data)

    @activity.defn
    async def send_completion_signal_activity(
        self, user_id: Untrusted, workflow_id: Untrusted, result: Untrusted = None, message: Untrusted = None
    ) -> SentSignal:
        """`completion` `{"result", "message"}`."""
        return await self._emit(user_id, "completion", workflow_id, {"result": result, "message": message})

    @activity.defn
    async def send_error_signal_activity(
        self, user_id: Untrusted, workflow_id: Untrusted, error: Untrusted, error_code: Untrusted = None
    ) -> SentSignal:
        """`error` `{"error", "error_code"}`."""
        return await self._emit(user_id, "error", workflow_id, {"error": error, "error_code": error_code})


# Unbound, for `workflow.execute_activity_method(send_status_update_activity, args=[...])`
# in workflows written against the seed's names.
send_workflow_signal_activity = SignalActivities.send_workflow_signal_activity
send_status_update_activity = SignalActivities.send_status_update_activity
send_progress_signal_activity = SignalActivities.send_progress_signal_activity
send_completion_signal_activity = SignalActivities.send_completion_signal_activity
send_error_signal_activity = SignalActivities.send_error_signal_activity
