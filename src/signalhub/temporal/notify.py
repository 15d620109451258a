"""Signals from inside a workflow: one awaitable call per signal.

    from signalhub.temporal import notify

    @workflow.defn
    class Pipeline:
        @workflow.run
        async def run(self, user_id: str) -> None:
            await notify.status(user_id, "started", "Pipeline started")
            await notify.progress(user_id, 0.4, step="Chunking")
            await notify.signal(user_id, "status_update", {"status": "reviewing"})
            await notify.completion(user_id, {"chunks": 12}, "Done")

Each call schedules one of signalhub's signal activities by name (the five
seed activities, registered on the worker with `SignalActivities(...).all()`),
with `SIGNAL_ACTIVITY_OPTIONS`, and returns once the signal is stored:
`{"id", "seq", "created"}`. The signal goes to the current workflow's id
unless `workflow_id=` says otherwise.

Guarantees:
- deterministic: only `workflow.info()` and `workflow.execute_activity`;
- importable inside the workflow sandbox without pass-through (this module
  imports nothing but temporalio and `options`);
- exactly once per call, retries included (see `signalhub.temporal.activities`);
- bad input (a user id that is not a UUID, progress outside 0..1, …) raises
  `ActivityError` whose cause is a non-retryable `ApplicationError` of type
  `INVALID_SIGNAL`.

`Notifier(task_queue="signalhub")` sends through another task queue (when
signalhub's activities live on another worker) or with other options; the
module-level functions use a default `Notifier()` (the workflow's own queue).
"""

from __future__ import annotations

import uuid
from typing import Any, TypedDict

from temporalio import workflow

from .options import SIGNAL_ACTIVITY_OPTIONS, ActivityOptions

UserId = str | uuid.UUID


class SentSignal(TypedDict):
    """The stored signal (`id`, per-user `seq`) and whether this call created it."""

    id: str
    seq: int
    created: bool


class Notifier:
    """Schedules signalhub's signal activities from a workflow; see the module docstring."""

    def __init__(self, *, task_queue: str | None = None, options: ActivityOptions | None = None) -> None:
        self.options: ActivityOptions = {**SIGNAL_ACTIVITY_OPTIONS, **(options or {})}
        if task_queue is not None:
            self.options["task_queue"] = task_queue

    async def _send(self, activity: str, user_id: UserId, workflow_id: str | None, *args: Any) -> SentSignal:
        target = workflow_id if workflow_id is not None else workflow.info().workflow_id
        result: SentSignal = await workflow.execute_activity(
            activity, args=[str(user_id), target, *args], result_type=dict, **self.options
        )
        return result

    async def status(
        self,
        user_id: UserId,
        status: str,
        message: str | None = None,
        *,
        progress: float | None = None,
        workflow_id: str | None = None,
    ) -> SentSignal:
        """`status_update` `{"status", "message"[, "progress"]}`."""
        return await self._send("send_status_update_activity", user_id, workflow_id, status, message, progress)

    async def progress(
        self,
        user_id: UserId,
        progress: float,
        step: str | None = None,
        message: str | None = None,
        *,
        workflow_id: str | None = None,
    ) -> SentSignal:
        """`progress` `{"progress": 0..1, "step", "message"}` (`message` defaults to `step`)."""
        return await self._send("send_progress_signal_activity", user_id, workflow_id, progress, step, message)

    async def completion(
        self, user_id: UserId, result: Any = None, message: str | None = None, *, workflow_id: str | None = None
    ) -> SentSignal:
        """`completion` `{"result", "message"}`."""
        return await self._send("send_completion_signal_activity", user_id, workflow_id, result, message)

    async def error(
        self, user_id: UserId, error: str, error_code: str | None = None, *, workflow_id: str | None = None
    ) -> SentSignal:
        """`error` `{"error", "error_code"}`."""
        return await self._send("send_error_signal_activity", user_id, workflow_id, error, error_code)

    async def signal(
        self,
        user_id: UserId,
        signal_type: str,
        data: dict[str, Any] | None = None,
        *,
        workflow_id: str | None = None,
    ) -> SentSignal:
        """A signal of any accepted type with its `data`."""
        return await self._send("send_workflow_signal_activity", user_id, workflow_id, signal_type, data)


_default = Notifier()
status = _default.status
progress = _default.progress
completion = _default.completion
error = _default.error
signal = _default.signal

__all__ = ["Notifier", "SentSignal", "completion", "error", "progress", "signal", "status"]
