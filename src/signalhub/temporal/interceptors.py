"""Lifecycle signals for any workflow, with no code in the workflow (opt-in).

`LifecycleSignalsInterceptor` wraps every workflow run on the worker. When the
run carries a user id, it sends that user:
- `status_update` `{"status": "started", ...}` before the workflow's code runs,
- `completion` `{"result": <the return value>, ...}` when it returns,
- `error` `{"error", "error_code", "status": "failed"}` when it fails
  (`error_code` = the `ApplicationError`'s type, else the exception's name).

Where the user id comes from (first match wins):
1. the memo key `user_id` (`start_workflow(..., memo={"user_id": "<uuid>"})`);
2. a workflow argument that has a `user_id` field (a dataclass, a pydantic
   model, or a dict with a `"user_id"` key).
Runs without a (valid UUID) user id are left alone, as are workflow classes
that set `signalhub_lifecycle_signals = False` (they report for themselves).

The signals are sent by the same activities as always (task queue of the
workflow), so they are durable and exactly once. Enable it with
`SIGNALHUB_LIFECYCLE_SIGNALS=true` for `signalhub worker`, or pass
`LifecycleSignalsInterceptor()` in a worker's `interceptors`. Turning it on
or off changes the commands a workflow issues: do it only when no
workflow is open on the task queue, or replays fail as non-deterministic.

Only failures that fail the workflow (`temporalio.exceptions.FailureError`,
e.g. `ApplicationError`) are reported; a bug that fails a workflow *task* is
retried by Temporal and is not an end. Cancellation and continue-as-new are
passed through without a signal.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError, FailureError
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)

from . import notify

MEMO_KEY = "user_id"


def _valid_user(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        return None


def user_id_from_args(args: Any) -> str | None:
    """The first `user_id` field found among a workflow's arguments, if it is a UUID."""
    for arg in args or ():
        if isinstance(arg, Mapping):
            value = arg.get("user_id")
        elif dataclasses.is_dataclass(arg) or hasattr(arg, "model_fields"):
            value = getattr(arg, "user_id", None)
        else:
            continue
        if (user := _valid_user(value)) is not None:
            return user
    return None


# A result bigger than this is not copied into the completion signal (signals stay small).
MAX_RESULT_CHARS = 16 * 1024


def _result_data(value: Any) -> Any:
    value = _json_safe(value)
    try:
        encoded = json.dumps(value, default=str, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return json.loads(encoded) if len(encoded) <= MAX_RESULT_CHARS else {"truncated": True}


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool | list | dict):
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def _failure(exc: FailureError) -> tuple[str, str]:
    cause: BaseException = exc
    while isinstance(cause, ActivityError | ChildWorkflowError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError):
        return cause.message, cause.type or "WORKFLOW_FAILED"
    return str(cause), type(cause).__name__


class _LifecycleInbound(WorkflowInboundInterceptor):
    async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
        if getattr(input.type, "signalhub_lifecycle_signals", True) is False:
            return await super().execute_workflow(input)
        user_id = _valid_user(workflow.memo_value(MEMO_KEY, default=None)) or user_id_from_args(input.args)
        if user_id is None:
            return await super().execute_workflow(input)

        name = workflow.info().workflow_type
        await notify.status(user_id, "started", f"{name} started")
        try:
            result = await super().execute_workflow(input)
        except FailureError as exc:
            message, code = _failure(exc)
            await notify.signal(
                user_id, "error", {"error": message or name + " failed", "error_code": code, "status": "failed"}
            )
            raise
        await notify.completion(user_id, _result_data(result), f"{name} completed")
        return result


class LifecycleSignalsInterceptor(Interceptor):
    """Worker interceptor: lifecycle signals for every workflow that carries a user id."""

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        return _LifecycleInbound
